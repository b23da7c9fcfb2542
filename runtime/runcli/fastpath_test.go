package runcli

import (
	"strings"
	"testing"

	"github.com/corral-dev/corral/runtime"
	"github.com/spf13/pflag"
)

func TestParseFast(t *testing.T) {
	def := runtime.DefaultRoot
	tests := []struct {
		args      string
		ok        bool
		op, id    string
		root, log string
		logFormat string
	}{
		{"pause c1", true, "pause", "c1", def, "", "text"},
		{"resume c1", true, "resume", "c1", def, "", "text"},
		{"--root /r pause c1", true, "pause", "c1", "/r", "", "text"},
		{"--root=/r --log /l --log-format json resume c1", true, "resume", "c1", "/r", "/l", "json"},
		{"--log=/l --log-format=text --rootless false pause c1", true, "pause", "c1", def, "/l", "text"},
		{"--root= pause c1", true, "pause", "c1", "", "", "text"},
		{"--root /r --log /l --log-format json start c1", true, "start", "c1", "/r", "/l", "json"},
		{"delete c1", true, "delete", "c1", def, "", "text"},
		{"--root /r delete --force c1", true, "delete", "c1", "/r", "", "text"},
		{"delete -f c1", true, "delete", "c1", def, "", "text"},
		{"create c1", true, "create", "c1", def, "", "text"},
		{"--root /r --log /l --log-format json create --bundle /b --pid-file /p c1", true, "create", "c1", "/r", "/l", "json"},
		// Everything else goes the full way.
		{"", false, "", "", "", "", ""},
		{"pause", false, "", "", "", "", ""},
		{"pause a b", false, "", "", "", "", ""},
		{"pause --help", false, "", "", "", "", ""},
		{"pause -h", false, "", "", "", "", ""},
		{"pause --root /r c1", false, "", "", "", "", ""},
		{"--debug pause c1", false, "", "", "", "", ""},
		{"--debug start c1", false, "", "", "", "", ""},
		{"--systemd-cgroup pause c1", false, "", "", "", "", ""},
		{"--log-format xml pause c1", false, "", "", "", "", ""},
		{"--log-format xml create c1", false, "", "", "", "", ""},
		{"--root", false, "", "", "", "", ""},
		{"-- pause c1", false, "", "", "", "", ""},
		{"state c1", false, "", "", "", "", ""},
		{"kill c1", false, "", "", "", "", ""},
		{"run c1", false, "", "", "", "", ""},
		{"exec c1 true", false, "", "", "", "", ""},
		{"-v", false, "", "", "", "", ""},
		{"start", false, "", "", "", "", ""},
		{"start c1 c2", false, "", "", "", "", ""},
		{"start -h", false, "", "", "", "", ""},
		{"start --help c1", false, "", "", "", "", ""},
		{"delete c1 c2", false, "", "", "", "", ""},
		{"delete c1 --force", false, "", "", "", "", ""},
		{"delete --force=true c1", false, "", "", "", "", ""},
		{"delete -f", false, "", "", "", "", ""},
		{"create c1 --bundle /b", false, "", "", "", "", ""},
		{"create --bundle", false, "", "", "", "", ""},
		{"create --no-pivot=true c1", false, "", "", "", "", ""},
		{"create --preserve-fds 0x1 c1", false, "", "", "", "", ""},
		{"create --preserve-fds 010 c1", false, "", "", "", "", ""},
		{"create --preserve-fds -1 c1", false, "", "", "", "", ""},
		{"create -bfoo c1", false, "", "", "", "", ""},
		{"create --root /r c1", false, "", "", "", "", ""},
		{"create --detach c1", false, "", "", "", "", ""},
		{"create -- c1", false, "", "", "", "", ""},
	}
	for _, tt := range tests {
		c, ok := parseFast(strings.Fields(tt.args))
		if ok != tt.ok {
			t.Errorf("parseFast(%q) ok = %v, want %v", tt.args, ok, tt.ok)
			continue
		}
		g := c.g
		if ok && (c.op != tt.op || c.id != tt.id || g.root != tt.root || g.log != tt.log || g.logFormat != tt.logFormat) {
			t.Errorf("parseFast(%q) = %+v", tt.args, c)
		}
	}
}

// TestParseFastFlags: the command's own flags land where cobra puts them.
func TestParseFastFlags(t *testing.T) {
	c, ok := parseFast(strings.Fields("create -b /b --pid-file=/p --console-socket /s --no-pivot --no-new-keyring --preserve-fds 2 c1"))
	want := createFlags{bundle: "/b", pidFile: "/p", consoleSocket: "/s", noPivot: true, noNewKeyring: true, preserveFDs: 2}
	if !ok || c.create != want {
		t.Errorf("create flags: %+v %v, want %+v", c.create, ok, want)
	}
	if c, _ := parseFast(strings.Fields("create c1")); c.create != (createFlags{bundle: "."}) {
		t.Errorf("create defaults: %+v, want cobra's (bundle .)", c.create)
	}
	for args, force := range map[string]bool{"delete c1": false, "delete -f c1": true, "delete --force c1": true} {
		if c, ok := parseFast(strings.Fields(args)); !ok || c.force != force {
			t.Errorf("%s: force %v, want %v", args, c.force, force)
		}
	}
}

// TestFastPathMatchesCobra: for every command line fastPath takes, cobra
// defines the same flags with the same defaults, so the two paths cannot
// drift apart silently.
func TestFastPathMatchesCobra(t *testing.T) {
	root := newRoot(&globals{})
	for flag, def := range map[string]string{"root": runtime.DefaultRoot, "log": "", "log-format": "text", "rootless": "auto"} {
		f := root.PersistentFlags().Lookup(flag)
		if f == nil || f.DefValue != def {
			t.Errorf("global --%s: cobra has %+v, fastPath assumes default %q", flag, f, def)
		}
	}
	cmdFlags := map[string]map[string]string{
		"create": {"bundle": ".", "pid-file": "", "console-socket": "", "no-pivot": "false", "no-new-keyring": "false", "preserve-fds": "0"},
		"delete": {"force": "false"},
		"start":  {},
	}
	for name, flags := range cmdFlags {
		cmd, _, err := root.Find([]string{name})
		if err != nil || cmd.Name() != name {
			t.Fatalf("cobra has no %s: %v", name, err)
		}
		n := 0
		cmd.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
			n++
			if def, ok := flags[f.Name]; !ok || f.DefValue != def {
				t.Errorf("%s --%s (default %q): fastPath assumes %q (known: %v)", name, f.Name, f.DefValue, def, ok)
			}
		})
		if n != len(flags) {
			t.Errorf("%s: cobra has %d flags, fastPath knows %d", name, n, len(flags))
		}
	}
}
