package cli

import (
	"slices"
	"strings"
	"testing"
)

// TestNamedCommands holds each named constructor to the name and aliases
// of the command it builds, so rootFor finds every command by what cobra
// would, and the whole tree has no command without an entry.
func TestNamedCommands(t *testing.T) {
	c := newCLI(Options{})
	top := c.topCommands()
	for _, n := range top {
		cmd := n.build()
		want := append([]string{cmd.Name()}, cmd.Aliases...)
		if got := strings.Fields(n.names); !slices.Equal(got, want) {
			t.Errorf("entry %q builds a command named %q", n.names, want)
		}
	}
	built := c.rootFor(nil).Commands()
	if len(built) != len(top) {
		t.Errorf("the whole tree has %d commands, the table %d", len(built), len(top))
	}
	for _, cmd := range built {
		if _, ok := lookup(top, cmd.Name()); !ok {
			t.Errorf("command %s has no entry", cmd.Name())
		}
	}
}

func TestRootForBuildsOneCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // the one command built; "" for the whole tree
	}{
		{[]string{"run", "--rm", "busybox"}, "run"},
		{[]string{"-H", "unix:///x.sock", "run", "-d", "busybox"}, "run"},
		{[]string{"-Hunix:///x.sock", "ps"}, "ps"},
		{[]string{"--host=unix:///x.sock", "--data-root", "/d", "container", "ls"}, "container"},
		{[]string{"--data-root=/d", "remove", "x"}, "rm"},
		{[]string{"--help"}, ""},
		{[]string{"-D", "run"}, ""},
		{[]string{"nosuchcommand"}, ""},
		{[]string{"-H"}, ""},
		{nil, ""},
	} {
		cmds := newCLI(Options{}).rootFor(tc.args).Commands()
		if tc.want == "" {
			if len(cmds) < 10 {
				t.Errorf("%q: built %d commands, want the whole tree", tc.args, len(cmds))
			}
			continue
		}
		if len(cmds) != 1 || cmds[0].Name() != tc.want {
			t.Errorf("%q: built %v, want only %s", tc.args, names(cmds), tc.want)
		}
	}
}

func names[T interface{ Name() string }](cmds []T) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.Name())
	}
	return out
}
