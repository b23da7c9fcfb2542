package cli

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// manageCase is a command line, what it should print and the engine
// calls it should make.
type manageCase struct {
	args        []string
	in          string
	out, err    string
	code        int
	calls       []string
	sortCalls   bool   // calls made in parallel
	outContains string // instead of out
	// racing is the prefix of a call made in the background, which may
	// or may not have reached the engine when the command ends: left out.
	racing string
}

func checkManage(t *testing.T, f *engineFake, sock string, tc manageCase) {
	t.Helper()
	f.takeNotes()
	out, errOut, code := runEngine(sock, tc.in, tc.args...)
	calls := f.takeNotes()
	if tc.racing != "" {
		calls = slices.DeleteFunc(calls, func(c string) bool { return strings.HasPrefix(c, tc.racing) })
	}
	if code != tc.code {
		t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
	}
	if tc.outContains != "" {
		if !strings.Contains(out, tc.outContains) {
			t.Errorf("stdout %q does not contain %q", out, tc.outContains)
		}
	} else if out != tc.out {
		t.Errorf("stdout:\n got %q\nwant %q", out, tc.out)
	}
	if errOut != tc.err {
		t.Errorf("stderr:\n got %q\nwant %q", errOut, tc.err)
	}
	got, want := strings.Join(calls, "\n"), strings.Join(tc.calls, "\n")
	if tc.sortCalls {
		got, want = sortLines(got), sortLines(want)
	}
	if got != want {
		t.Errorf("engine calls:\n got %q\nwant %q", calls, tc.calls)
	}
}

func TestManageCommands(t *testing.T) {
	f := newEngineFake()
	sock := serveEngine(t, f)
	const noSuch = "Error response from daemon: No such container: nope\n"
	tests := []manageCase{
		{args: []string{"stop", "web", "db"}, out: "web\ndb\n", sortCalls: true,
			calls: []string{"stop web signal= t=-", "stop db signal= t=-"}},
		{args: []string{"stop", "-t", "5", "-s", "HUP", "web"}, out: "web\n", calls: []string{"stop web signal=HUP t=5"}},
		// As docker's, the deprecation notice goes to stdout.
		{args: []string{"stop", "--time", "0", "web"}, out: "Flag --time has been deprecated, use --timeout instead\nweb\n",
			calls: []string{"stop web signal= t=0"}},
		{args: []string{"stop", "--time", "1", "-t", "2", "web"}, code: 1, out: "Flag --time has been deprecated, use --timeout instead\n",
			err: "conflicting options: cannot specify both --timeout and --time\n"},
		// A stopped container answers 304: docker prints its name.
		{args: []string{"stop", "down"}, out: "down\n", calls: []string{"stop down signal= t=-"}},
		// The others go on; the failures come last, exit 1.
		{args: []string{"stop", "nope", "web"}, out: "web\n", err: noSuch, code: 1, sortCalls: true,
			calls: []string{"stop nope signal= t=-", "stop web signal= t=-"}},
		{args: []string{"stop", ""}, code: 1, err: "invalid container name or ID: value is empty\n"},
		{args: []string{"stop"}, code: 1, err: "corral: 'corral stop' requires at least 1 argument\n\n" +
			"Usage:  corral stop [OPTIONS] CONTAINER [CONTAINER...]\n\nSee 'corral stop --help' for more information\n"},
		{args: []string{"kill", "-s", "USR1", "web", "nope"}, out: "web\n", err: noSuch, code: 1, sortCalls: true,
			calls: []string{"kill web signal=USR1", "kill nope signal=USR1"}},
		{args: []string{"container", "kill", "web"}, out: "web\n", calls: []string{"kill web signal="}},
		// restart goes one by one, in order.
		{args: []string{"restart", "-t", "3", "web", "nope", "db"}, out: "web\ndb\n", err: noSuch, code: 1,
			calls: []string{"restart web signal= t=3", "restart nope signal= t=3", "restart db signal= t=3"}},
		{args: []string{"rm", "-fv", "db"}, out: "db\n", calls: []string{"rm db force=true v=true link=false"}},
		{args: []string{"rm", "-l", "web"}, out: "web\n", calls: []string{"rm web force=false v=false link=true"}},
		// With --force a missing container is only reported.
		{args: []string{"rm", "-f", "nope", "web"}, out: "web\n", err: noSuch, sortCalls: true,
			calls: []string{"rm nope force=true v=false link=false", "rm web force=true v=false link=false"}},
		{args: []string{"rm", "nope"}, err: noSuch, code: 1, calls: []string{"rm nope force=false v=false link=false"}},
		{args: []string{"rm", "/"}, err: "container name cannot be empty\n", code: 1},
		{args: []string{"rm", "/db"}, out: "/db\n", calls: []string{"rm db force=false v=false link=false"}},
		{args: []string{"rm", "busy"}, code: 1, calls: []string{"rm busy force=false v=false link=false"},
			err: "Error response from daemon: You cannot remove a running container " + webID +
				". Stop the container before attempting removal or force remove\n"},
		{args: []string{"pause", "web"}, out: "web\n", calls: []string{"pause web"}},
		{args: []string{"unpause", "nope"}, err: noSuch, code: 1, calls: []string{"unpause nope"}},
		{args: []string{"rename", "web", "web2"}, calls: []string{"rename web web2"}},
		{args: []string{"rename", "db", "web"}, code: 1, calls: []string{"rename db web"},
			err: `Error response from daemon: Conflict. The container name "/web" is already in use by container "` + webID +
				`". You have to remove (or rename) that container to be able to reuse that name.` + "\nError: failed to rename container named db\n"},
		{args: []string{"rename", " ", "x"}, code: 1, err: "Error: Neither old nor new names may be empty\n"},
		{args: []string{"update", "--memory", "10m", "--memory-swap", "-1", "--cpus", "1.5", "-c", "512", "--cpuset-cpus", "0",
			"--pids-limit", "10", "--restart", "on-failure:3", "web"},
			out:   "web\nYour kernel does not support swap limit capabilities.\n",
			calls: []string{`update web mem=10485760 swap=-1 cpus=1500000000 shares=512 cpuset="0" pids=10 restart=on-failure:3`}},
		{args: []string{"update", "--pids-limit", "-1", "nope", "web"}, out: "web\n", err: noSuch, code: 1,
			calls: []string{`update nope mem=0 swap=0 cpus=0 shares=0 cpuset="" pids=-1 restart=:0`,
				`update web mem=0 swap=0 cpus=0 shares=0 cpuset="" pids=-1 restart=:0`}},
		{args: []string{"update", "web"}, code: 1, err: "you must provide one or more flags when using this command\n"},
		{args: []string{"update", "--cpus", "0.0000000001", "web"}, code: 125, err: "invalid argument \"0.0000000001\" for \"--cpus\" flag: " +
			"value is too precise\n\nUsage:  corral update [OPTIONS] CONTAINER [CONTAINER...]\n\nRun 'corral update --help' for more information\n"},
		{args: []string{"update", "--restart", "on-failure:x", "web"}, code: 1,
			err: "invalid restart policy format: maximum retry count must be an integer\n"},
		{args: []string{"container", "prune", "-f", "--filter", "until=1h"}, calls: []string{"prune [until]"},
			out: "Deleted Containers:\n" + dbID + "\n" + newID + "\n\nTotal reclaimed space: 4.262MB\n"},
		{args: []string{"container", "prune"}, in: "y\n", calls: []string{"prune []"},
			out: containerPruneWarning + " [y/N] Deleted Containers:\n" + dbID + "\n" + newID + "\n\nTotal reclaimed space: 4.262MB\n"},
		{args: []string{"container", "prune"}, in: "n\n", out: containerPruneWarning + " [y/N] "},
		{args: []string{"container", "prune", "-f", "--filter", "label=x"}, out: "Total reclaimed space: 0B\n", calls: []string{"prune [label]"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) { checkManage(t, f, sock, tc) })
	}
}

func TestManageViews(t *testing.T) {
	f := newEngineFake()
	sock := serveEngine(t, f)
	tests := []manageCase{
		{args: []string{"top", "web", "aux", "-x"}, calls: []string{`top web "aux -x"`},
			out: "UID                 PID                 PPID                C                   STIME               TTY                 TIME                CMD\n" +
				"root                4242                4200                0                   10:00               ?                   00:00:00            httpd -f -p 80 -h /www\n" +
				"www-data            4250                4242                12                  10:01               pts/0               00:01:02            sh\n"},
		{args: []string{"top", "nope"}, code: 1, err: "Error response from daemon: No such container: nope\n", calls: []string{`top nope ""`}},
		{args: []string{"port", "web"}, calls: []string{"inspect web size=false"},
			out: "9/tcp -> 127.0.0.1:10009\n53/udp -> :5353\n80/tcp -> 0.0.0.0:8080\n80/tcp -> [::]:8080\n8081/tcp -> 0.0.0.0:32768\n"},
		{args: []string{"port", "web", "80"}, out: "0.0.0.0:8080\n[::]:8080\n", calls: []string{"inspect web size=false"}},
		{args: []string{"port", "web", "53/udp"}, out: ":5353\n", calls: []string{"inspect web size=false"}},
		{args: []string{"port", "web", "443"}, code: 1, err: "Error: No public port '443' published for web\n",
			calls: []string{"inspect web size=false"}},
		{args: []string{"port", "web", "http"}, code: 1, calls: []string{"inspect web size=false"},
			err: "Error: invalid port (http): strconv.ParseUint: parsing \"http\": invalid syntax\n"},
		{args: []string{"port", "a", "b", "c"}, code: 1, err: "corral: 'corral port' requires at least 1 and at most 2 arguments\n\n" +
			"Usage:  corral port CONTAINER [PRIVATE_PORT[/PROTO]]\n\nRun 'corral port --help' for more information\n"},
		{args: []string{"container", "inspect", "-f", "{{.Name}} {{.State.Status}} {{.SizeRw}}", "-s", "db", "nope"},
			out: "/db exited 12\n", err: "Error response from daemon: No such container: nope\n", code: 1,
			calls: []string{"inspect db size=true", "inspect nope size=true"}},
		// The raw JSON is printed as the engine wrote it, fields it has and
		// the client's type does not included.
		{args: []string{"inspect", "-f", "{{json .NetworkSettings.Ports}}", "web"}, calls: []string{"inspect web size=false"},
			out: `{"443/tcp":null,"53/udp":[{"HostIp":"","HostPort":"5353"}],"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},` +
				`{"HostIp":"::","HostPort":"8080"}],"8081/tcp":[{"HostIp":"0.0.0.0","HostPort":"32768"}],"9/tcp":[{"HostIp":"127.0.0.1","HostPort":"10009"}]}` + "\n"},
		// Not a container: an image.
		{args: []string{"inspect", "-f", "{{.Id}}", "busybox"}, out: busyboxID + "\n", calls: []string{"inspect busybox size=false"}},
		{args: []string{"inspect", "-s", "-f", "{{.Id}}", "busybox"}, out: busyboxID + "\n", err: "WARNING: --size ignored for image\n",
			calls: []string{"inspect busybox size=true"}},
		{args: []string{"inspect", "nope"}, code: 1, out: "[]\n", err: "Error: No such object: nope\n", calls: []string{"inspect nope size=false", "info"}},
		{args: []string{"inspect", "--type", "container", "busybox"}, code: 1, out: "[]\n",
			err: "Error response from daemon: No such container: busybox\n", calls: []string{"inspect busybox size=false"}},
		{args: []string{"inspect", "--type", "thing", "x"}, code: 1,
			err: `unknown type: "thing": must be one of "config", "container", "image", "network", "node", "plugin", "secret", "service", "task", "volume"` + "\n"},
		{args: []string{"inspect", "-f", "{{", "web"}, code: 64, err: "template parsing error: template: :1: unclosed action\n"},
		{args: []string{"inspect", "-f", "json", "fresh"}, outContains: `[{"Id":"` + newID + `","Created":`, calls: []string{"inspect fresh size=false"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) { checkManage(t, f, sock, tc) })
	}
}

func TestNaturalLess(t *testing.T) {
	sorted := []string{"1", "01", "2", "9/tcp", "10/tcp", "53/udp", "80/tcp -> 0.0.0.0:8080", "80/tcp -> [::]:8080", "443/tcp", "a", "a1", "a01", "a2", "b"}
	for i := range sorted {
		for j := range sorted {
			if got, want := naturalLess(sorted[i], sorted[j]), i < j; got != want {
				t.Errorf("naturalLess(%q, %q) = %v", sorted[i], sorted[j], got)
			}
		}
	}
}

func TestFlagValues(t *testing.T) {
	var m memBytes
	if err := m.Set("1.5g"); err != nil || m != 1610612736 || m.String() != "1.5GiB" {
		t.Errorf("memBytes 1.5g: %d %q %v", m, m.String(), err)
	}
	if m = 0; m.String() != "0" {
		t.Errorf("unset memBytes shows %q", m.String())
	}
	var s memSwapBytes
	if err := s.Set("-1"); err != nil || s != -1 {
		t.Errorf("memSwapBytes -1: %d %v", s, err)
	}
	var n nanoCPUs
	for in, want := range map[string]int64{"1.5": 1500000000, "0.001": 1000000, "3": 3000000000, "0.000000001": 1} {
		if err := n.Set(in); err != nil || int64(n) != want {
			t.Errorf("nanoCPUs %s: %d %v", in, n, err)
		}
	}
	if err := n.Set("1/3"); err == nil || err.Error() != "value is too precise" {
		t.Errorf("nanoCPUs 1/3: %v", err)
	}
	if err := n.Set("x"); err == nil || err.Error() != "failed to parse x as a rational number" {
		t.Errorf("nanoCPUs x: %v", err)
	}
	for in, want := range map[string]string{"": ":0", "no": "no:0", "always": "always:0", "on-failure:5": "on-failure:5", "on-failure": "on-failure:0"} {
		p, err := parseRestartPolicy(in)
		if got := fmt.Sprintf("%s:%d", p.Name, p.MaximumRetryCount); err != nil || got != want {
			t.Errorf("restart %q: %s %v", in, got, err)
		}
	}
}

// TestCommandNamesUnique checks that no two commands of the same group
// answer to the same name, once the container group has its own
// commands.
func TestCommandNamesUnique(t *testing.T) {
	c := newCLI(Options{})
	root := c.rootCommand()
	if !wiredGroup() {
		group, _, _ := root.Find([]string{"container"})
		group.AddCommand(c.containerGroupCommands()...)
	}
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		seen := map[string]string{}
		for _, sub := range cmd.Commands() {
			for _, name := range append([]string{sub.Name()}, sub.Aliases...) {
				if other, ok := seen[name]; ok {
					t.Errorf("%s: %q is both %s and %s", cmd.CommandPath(), name, other, sub.Use)
				}
				seen[name] = sub.Use
			}
			walk(sub)
		}
	}
	walk(root)
}
