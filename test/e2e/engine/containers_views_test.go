package engine_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

// testPsFilters: ps with and without -a, -q, --no-trunc and the status,
// exited, name, label and ancestor filters.
func testPsFilters(t *testing.T, e *engine) {
	label := "psf=" + e.name(t)
	running, exited3, exited0, created := e.name(t), e.name(t), e.name(t), e.name(t)
	e.ok(t, "run", "-d", "--name", running, "--label", label, "--label", "role=web", "busybox", "sleep", "1000")
	e.fails(t, 3, "run", "--name", exited3, "--label", label, "busybox", "sh", "-c", "exit 3")
	e.ok(t, "run", "--name", exited0, "--label", label, "busybox", "true")
	e.ok(t, "create", "--name", created, "--label", label, "busybox", "true")
	ps := func(args ...string) string {
		t.Helper()
		out := e.ok(t, append(append([]string{"ps", "--filter", "label=" + label}, args...), "--format", "{{.Names}}")...)
		lines := strings.Fields(out)
		sort.Strings(lines)
		return strings.Join(lines, " ")
	}
	sorted := func(names ...string) string { sort.Strings(names); return strings.Join(names, " ") }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, running},
		{[]string{"-a"}, sorted(running, exited3, exited0, created)},
		{[]string{"-a", "--filter", "status=exited"}, sorted(exited3, exited0)},
		{[]string{"-a", "--filter", "status=created"}, created},
		{[]string{"-a", "--filter", "status=running"}, running},
		{[]string{"-a", "--filter", "status=created", "--filter", "status=running"}, sorted(created, running)},
		{[]string{"-a", "--filter", "exited=3"}, exited3},
		{[]string{"-a", "--filter", "exited=0"}, exited0},
		{[]string{"-a", "--filter", "label=role=web"}, running},
		{[]string{"-a", "--filter", "label=role"}, running},
		{[]string{"-a", "--filter", "name=" + exited3}, exited3},
		{[]string{"-a", "--filter", "ancestor=busybox"}, sorted(running, exited3, exited0, created)},
		{[]string{"-a", "--filter", "ancestor=busybox:latest", "--filter", "status=running"}, running},
		{[]string{"-a", "--filter", "ancestor=nosuchimage"}, ""},
	} {
		if got := ps(tc.args...); got != tc.want {
			t.Errorf("ps %v:\n got %s\nwant %s", tc.args, got, tc.want)
		}
	}
	id := e.inspect(t, running).ID
	if out := e.ok(t, "ps", "-q", "--filter", "label="+label); out != id[:12]+"\n" {
		t.Errorf("ps -q: %q", out)
	}
	if out := e.ok(t, "ps", "-q", "--no-trunc", "--filter", "label="+label); out != id+"\n" {
		t.Errorf("ps -q --no-trunc: %q", out)
	}
	if out := e.ok(t, "ps", "-aq", "--filter", "label="+label); len(strings.Fields(out)) != 4 {
		t.Errorf("ps -aq: %q", out)
	}
	if msg := e.fails(t, 1, "ps", "--filter", "status=sleepy"); !strings.Contains(msg, "sleepy") {
		t.Errorf("ps with a bad status filter: %q", msg)
	}
	if msg := e.fails(t, 1, "ps", "--filter", "colour=red"); !strings.Contains(msg, "colour") {
		t.Errorf("ps with an unknown filter: %q", msg)
	}
}

// testPsFormat: ps's table, --format fields, --no-trunc, -s and json.
func testPsFormat(t *testing.T, e *engine) {
	n := e.runD(t, "--label", "a=b", "busybox", "sh", "-c", "sleep 1000 # a command line long enough to be cut")
	id := e.inspect(t, n).ID
	f := "{{.ID}}|{{.Image}}|{{.Command}}|{{.Names}}|{{.Labels}}|{{.State}}|{{.Ports}}"
	want := id[:12] + `|busybox|"sh -c 'sleep 1000 #…"|` + n + "|a=b|running|\n"
	if out := e.ok(t, "ps", "--filter", "name="+n, "--format", f); out != want {
		t.Errorf("ps --format:\n got %q\nwant %q", out, want)
	}
	want = id + `|busybox|"sh -c 'sleep 1000 # a command line long enough to be cut'"|` + n + "|a=b|running|\n"
	if out := e.ok(t, "ps", "--no-trunc", "--filter", "name="+n, "--format", f); out != want {
		t.Errorf("ps --no-trunc --format:\n got %q\nwant %q", out, want)
	}
	out := e.ok(t, "ps", "--filter", "name="+n)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !regexp.MustCompile(`^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^`+id[:12]+` +busybox +"sh -c 'sleep 1000 #…" +(Less than a second|\d+ seconds?) ago +Up .* +`+n+`$`).MatchString(lines[1]) {
		t.Errorf("ps table:\n%s", out)
	}
	if out := e.ok(t, "ps", "-s", "--filter", "name="+n, "--format", "{{.Size}}"); !regexp.MustCompile(`^\d+(\.\d+)?k?B \(virtual \d+(\.\d+)?[kM]B\)\n$`).MatchString(out) {
		t.Errorf("ps -s: %q", out)
	}
	out = e.ok(t, "ps", "--filter", "name="+n, "--format", "json")
	var row map[string]any
	if err := json.Unmarshal([]byte(out), &row); err != nil || row["Names"] != n || row["State"] != "running" {
		t.Errorf("ps --format json: %q (%v)", out, err)
	}
}

// testInspect: docker inspect's view of a container's config and state,
// -f templates, several objects, --size and a missing one.
func testInspect(t *testing.T, e *engine) {
	n := e.runD(t, "-e", "A=1", "--label", "k=v", "-w", "/tmp", "-h", "hh", "busybox", "sleep", "1000")
	var img struct{ ID string }
	if st := e.api(t, "GET", "/images/busybox/json", nil, &img); st != http.StatusOK {
		t.Fatalf("image inspect: %d", st)
	}
	out := e.ok(t, "inspect", "-f", `{{.Config.Hostname}} {{.Config.WorkingDir}} {{index .Config.Labels "k"}} {{.State.Status}} `+
		`{{.HostConfig.NetworkMode}} {{.Image}} {{.Config.Image}} {{json .Config.Cmd}} {{.RestartCount}} {{.Driver}}`, n)
	want := `hh /tmp v running bridge ` + img.ID + ` busybox ["sleep","1000"] 0 overlayfs` + "\n"
	if out != want {
		t.Errorf("inspect -f:\n got %q\nwant %q", out, want)
	}
	c := e.inspect(t, n)
	if !contains(c.Config.Env, "A=1") {
		t.Errorf("Env: %v", c.Config.Env)
	}
	// The image sets no PATH: the process gets the default one.
	if env := strings.Split(e.ok(t, "exec", n, "env"), "\n"); !contains(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") ||
		!contains(env, "A=1") || !contains(env, "HOSTNAME=hh") {
		t.Errorf("the process's environment: %v", env)
	}
	if c.State.Pid <= 0 || c.State.StartedAt == "" || c.Created == "" || c.LogPath == "" || c.HostnamePath == "" ||
		c.GraphDriver == nil || c.GraphDriver.Data["MergedDir"] == "" {
		t.Errorf("inspect: %+v", c)
	}
	out = e.ok(t, "inspect", n, n)
	var both []container.InspectResponse
	if err := json.Unmarshal([]byte(out), &both); err != nil || len(both) != 2 || both[0].ID != c.ID {
		t.Errorf("inspect of two: %v", err)
	}
	if out := e.ok(t, "container", "inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", n); !regexp.MustCompile(`^\d+ [1-9]\d*\n$`).MatchString(out) {
		t.Errorf("inspect -s: %q", out)
	}
	if msg := e.fails(t, 1, "container", "inspect", "nosuch-"+n); !strings.Contains(msg, "No such container: nosuch-"+n) {
		t.Errorf("container inspect of a missing container: %q", msg)
	}
}

// testInspectMissing: docker inspect of a name that is nothing tries every
// object type; each must answer 404 for it to say "No such object".
func testInspectMissing(t *testing.T, e *engine) {
	n := e.name(t)
	if msg := e.fails(t, 1, "inspect", "nosuch-"+n); !strings.Contains(msg, "No such object: nosuch-"+n) {
		t.Errorf("inspect of a missing object: %q", msg)
	}
}

// testHomeEnv: the process gets HOME from its user's passwd entry when the
// image and the request set none, as runc does.
func testHomeEnv(t *testing.T, e *engine) {
	for user, home := range map[string]string{"": "/root", "tester": "/home", "nobody": "/nonexistent"} {
		args := []string{"run", "--rm"}
		if user != "" {
			args = append(args, "-u", user)
		}
		if out := e.ok(t, append(args, "busybox", "sh", "-c", "echo $HOME")...); out != home+"\n" {
			t.Errorf("HOME of user %q: %q, want %s", user, out, home)
		}
	}
	if out := e.ok(t, "run", "--rm", "-e", "HOME=/x", "busybox", "sh", "-c", "echo $HOME"); out != "/x\n" {
		t.Errorf("HOME set by -e: %q", out)
	}
	n := e.runD(t, "busybox", "sleep", "1000")
	if out := e.ok(t, "exec", "-u", "tester", n, "sh", "-c", "echo $HOME"); out != "/home\n" {
		t.Errorf("HOME of exec -u tester: %q", out)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// testExec: exec's -u, -w, -e, -d, --privileged, exit codes, and its
// refusals.
func testExec(t *testing.T, e *engine) {
	n := e.runD(t, "-e", "FOO=container", "busybox", "sleep", "1000")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"echo", "hi"}, "hi\n"},
		{[]string{"sh", "-c", "echo $FOO"}, "container\n"},
		{[]string{"-e", "FOO=exec", "-e", "BAR=2", "sh", "-c", "echo $FOO $BAR"}, "exec 2\n"},
		{[]string{"-u", "1000", "id"}, "uid=1000(tester) gid=1000(tester) groups=1000(tester)\n"},
		{[]string{"-u", "nobody:tty", "id"}, "uid=65534(nobody) gid=5(tty) groups=5(tty)\n"},
		{[]string{"-w", "/tmp", "pwd"}, "/tmp\n"},
	} {
		args := append(append([]string{"exec"}, tc.args[:len(tc.args)-len(cmdOf(tc.args))]...), append([]string{n}, cmdOf(tc.args)...)...)
		if out := e.ok(t, args...); out != tc.want {
			t.Errorf("%v: %q, want %q", args, out, tc.want)
		}
	}
	if r := e.docker(t, "", "exec", n, "sh", "-c", "echo to-err >&2; exit 5"); r.code != 5 || r.stderr != "to-err\n" {
		t.Errorf("exec exit 5: %v", r)
	}
	if msg := e.fails(t, 127, "exec", n, "nosuchcmd"); !strings.Contains(msg, `"nosuchcmd": executable file not found in $PATH`) {
		t.Errorf("exec of a missing command: %q", msg)
	}
	if msg := e.fails(t, 126, "exec", n, "/etc/passwd"); !strings.Contains(msg, "permission denied") {
		t.Errorf("exec of a file that is not executable: %q", msg)
	}
	// exec -d returns while its process waits for /tmp/go.
	e.ok(t, "exec", "-d", n, "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.02; done; echo done > /tmp/detached")
	e.ok(t, "exec", n, "touch", "/tmp/go")
	eventually(t, 10*time.Second, "the detached exec", func() bool {
		return e.docker(t, "", "exec", n, "cat", "/tmp/detached").stdout == "done\n"
	})
	if out := e.ok(t, "exec", "--privileged", n, "grep", "CapEff", "/proc/self/status"); out != "CapEff:\t"+hostCapBnd(t)+"\n" {
		t.Errorf("exec --privileged: %q, want the daemon's bounding set %s", out, hostCapBnd(t))
	}
	if ids := e.inspect(t, n).ExecIDs; len(ids) == 0 {
		t.Errorf("ExecIDs empty after execs")
	} else {
		var ei container.ExecInspectResponse
		if e.api(t, "GET", "/exec/"+ids[0]+"/json", nil, &ei) != http.StatusOK || ei.Running || ei.ExitCode == nil || ei.ContainerID != e.inspect(t, n).ID {
			t.Errorf("exec inspect: %+v", ei)
		}
	}
	e.ok(t, "stop", "-t", "0", n)
	if msg := e.fails(t, 1, "exec", n, "true"); !strings.Contains(msg, "is not running") {
		t.Errorf("exec in a stopped container: %q", msg)
	}
	if msg := e.fails(t, 1, "exec", "nosuch-"+n, "true"); !strings.Contains(msg, "No such container: nosuch-"+n) {
		t.Errorf("exec in a missing container: %q", msg)
	}
}

// cmdOf is the command part of exec arguments: from the first one that is
// neither a flag nor a flag's value.
func cmdOf(args []string) []string {
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "-e" || args[i] == "-u" || args[i] == "-w":
			i++
		case strings.HasPrefix(args[i], "-"):
		default:
			return args[i:]
		}
	}
	return nil
}

// hostCapBnd is the bounding set of this process (as the daemon's), as
// /proc/*/status prints it.
func hostCapBnd(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^CapBnd:\t([0-9a-f]+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no CapBnd in /proc/self/status")
	}
	return string(m[1])
}

// testTopStats: top's default and -o columns, stats --no-stream, a
// streamed sample through docker and through the API.
func testTopStats(t *testing.T, e *engine) {
	n := e.runD(t, "busybox", "sh", "-c", "sleep 1000 & exec sleep 999")
	c := e.inspect(t, n)
	eventually(t, 10*time.Second, "both sleeps", func() bool {
		out := e.ok(t, "top", n)
		return strings.Contains(out, "sleep 1000") && strings.Contains(out, "sleep 999")
	})
	out := e.ok(t, "top", n)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !regexp.MustCompile(`^UID +PID +PPID +C +STIME +TTY +TIME +CMD$`).MatchString(lines[0]) || len(lines) != 3 ||
		!regexp.MustCompile(`(?m)^root +`+itoa(c.State.Pid)+` +\d+ `).MatchString(out) {
		t.Errorf("top:\n%s", out)
	}
	if out := e.ok(t, "top", n, "-o", "pid,args"); !regexp.MustCompile(`^PID +COMMAND\n`).MatchString(out) ||
		!strings.Contains(out, itoa(c.State.Pid)+" ") {
		t.Errorf("top -o pid,args:\n%s", out)
	}
	if out := e.ok(t, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.Container}}", n); out != n+" 2 "+n+"\n" {
		t.Errorf("stats --no-stream: %q", out)
	}
	bg := e.dockerBG(t, "stats", "--format", "{{.Name}}={{.PIDs}}", n)
	bg.waitOutput(t, n+"=2")
	streamedStats(t, e, n)
	e.ok(t, "stop", "-t", "0", n)
	if msg := e.fails(t, 1, "top", n); !strings.Contains(msg, "is not running") {
		t.Errorf("top of a stopped container: %q", msg)
	}
}

// streamedStats reads two samples of GET /containers/{id}/stats?stream=1:
// the second carries the first as its previous CPU sample.
func streamedStats(t *testing.T, e *engine, n string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://corral/v1.47/containers/"+n+"/stats?stream=1", nil)
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
	var first, second container.StatsResponse
	if err := dec.Decode(&first); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&second); err != nil {
		t.Fatal(err)
	}
	if second.PreCPUStats.CPUUsage.TotalUsage != first.CPUStats.CPUUsage.TotalUsage || !second.PreRead.Equal(first.Read) ||
		!second.Read.After(first.Read) || second.PidsStats.Current != 2 || second.MemoryStats.Usage == 0 || second.Name != "/"+n {
		t.Errorf("streamed stats:\nfirst  %+v\nsecond %+v", first, second)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
