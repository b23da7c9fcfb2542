package engine_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

// TestContainers drives the container commands of the real docker CLI
// against one corral daemon, each scenario in parallel with the others on
// containers named after it.
func TestContainers(t *testing.T) {
	e := newEngine(t)
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *engine)
	}{
		{"Lifecycle", testLifecycle},
		{"StopSignalAndGrace", testStopSignalAndGrace},
		{"KillSignals", testKillSignals},
		{"RemoveForce", testRemoveForce},
		{"Wait", testWait},
		{"Rename", testRename},
		{"PauseUnpause", testPauseUnpause},
		{"Port", testPort},
		{"Events", testEvents},
		{"Prune", testPrune},
		{"Update", testUpdate},
		{"PsFilters", testPsFilters},
		{"PsFormat", testPsFormat},
		{"Inspect", testInspect},
		{"InspectMissing", testInspectMissing},
		{"HomeEnv", testHomeEnv},
		{"Logs", testLogs},
		{"LogsFollow", testLogsFollow},
		{"LargeOutput", testLargeOutput},
		{"BinaryStdin", testBinaryStdin},
		{"Exec", testExec},
		{"TopStats", testTopStats},
		{"RunInteractive", testRunInteractive},
		{"ExecInteractive", testExecInteractive},
		{"AttachDetach", testAttachDetach},
		{"RunConfig", testRunConfig},
		{"Init", testInit},
		{"Resources", testResources},
		{"Ulimit", testUlimit},
		{"DefaultSecurity", testDefaultSecurity},
		{"Privileged", testPrivileged},
		{"CapsAndSecurityOpts", testCapsAndSecurityOpts},
		{"ReadOnly", testReadOnly},
		{"Network", testNetwork},
		{"Device", testDevice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, e)
		})
	}
}

// leftovers lists what container id still holds after its removal: its
// record directory, bundle, monitor and runtime state, mounts and cgroups.
func (e *engine) leftovers(t *testing.T, id string) []string {
	t.Helper()
	var left []string
	for _, pattern := range []string{filepath.Join(e.root(), "containers", id), "/run/corral/roots/*/bundles/" + id,
		"/run/corral/roots/*/monitors/" + id, "/run/corral/roots/*/runtime/" + id} {
		m, _ := filepath.Glob(pattern)
		left = append(left, m...)
	}
	left = append(left, cgroupDirs(id)...)
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil && strings.Contains(string(mi), id) {
		left = append(left, "a mount of "+id)
	}
	return left
}

// logs returns the container's log (stdout and stderr) through docker.
func (e *engine) logs(t *testing.T, name string, args ...string) string {
	t.Helper()
	r := e.docker(t, "", append(append([]string{"logs"}, args...), name)...)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	return r.stdout + r.stderr
}

// waitLog waits until the container's log holds s.
func (e *engine) waitLog(t *testing.T, name, s string) {
	t.Helper()
	eventually(t, 20*time.Second, name+"'s log to show "+strconv.Quote(s), func() bool {
		return strings.Contains(e.logs(t, name), s)
	})
}

// waitReady waits until testprog pause has started n times in the
// container.
func (e *engine) waitReady(t *testing.T, name string, n int) {
	t.Helper()
	eventually(t, 20*time.Second, fmt.Sprintf("%s to be ready %d times", name, n), func() bool {
		return strings.Count(e.logs(t, name), "ready\n") == n
	})
}

// testLifecycle: create, start, stop, restart, kill, rm, and what each
// leaves in inspect.
func testLifecycle(t *testing.T, e *engine) {
	n := e.name(t)
	id := strings.TrimSpace(e.ok(t, "create", "--name", n, "busybox", "testprog", "pause"))
	c := e.inspect(t, n)
	if c.ID != id || c.State.Status != "created" || c.Path != "testprog" || strings.Join(c.Args, " ") != "pause" || c.Name != "/"+n {
		t.Errorf("after create: id %s name %s state %s path %s args %v", c.ID, c.Name, c.State.Status, c.Path, c.Args)
	}
	if out := e.ok(t, "ps", "-a", "--filter", "name=^"+n+"$", "--format", "{{.Status}}"); out != "Created\n" {
		t.Errorf("ps after create: %q", out)
	}
	if out := e.ok(t, "start", n); out != n+"\n" {
		t.Errorf("start printed %q", out)
	}
	c = e.inspect(t, n)
	if !c.State.Running || c.State.Pid <= 0 || !alive(c.State.Pid) || c.State.StartedAt == "" {
		t.Fatalf("after start: %+v", c.State)
	}
	e.waitLog(t, n, "ready")
	start := time.Now()
	if out := e.ok(t, "stop", n); out != n+"\n" {
		t.Errorf("stop printed %q", out)
	}
	c = e.inspect(t, n)
	if c.State.Running || c.State.Status != "exited" || c.State.ExitCode != 0 || time.Since(start) > 5*time.Second {
		t.Errorf("stop of a process that exits on SIGTERM: %+v after %v", c.State, time.Since(start))
	}
	if !strings.Contains(e.logs(t, n), "SIGTERM") {
		t.Errorf("the process did not see SIGTERM: %q", e.logs(t, n))
	}
	oldPid := c.State.Pid
	e.ok(t, "restart", n)
	c = e.inspect(t, n)
	if !c.State.Running || c.State.Pid == oldPid {
		t.Errorf("after restart: %+v", c.State)
	}
	e.ok(t, "restart", "-t", "1", n) // running: stop then start
	if c2 := e.inspect(t, n); !c2.State.Running || c2.State.Pid == c.State.Pid {
		t.Errorf("after a restart of a running container: %+v", c2.State)
	}
	if out := e.ok(t, "kill", n); out != n+"\n" {
		t.Errorf("kill printed %q", out)
	}
	c = e.inspect(t, n)
	if c.State.Running || c.State.ExitCode != 137 {
		t.Errorf("after kill: %+v", c.State)
	}
	if out := e.ok(t, "rm", n); out != n+"\n" {
		t.Errorf("rm printed %q", out)
	}
	if e.exists(t, n) {
		t.Errorf("%s exists after rm", n)
	}
	if left := e.leftovers(t, id); len(left) > 0 {
		t.Errorf("rm left %v", left)
	}
	if msg := e.fails(t, 1, "start", n); !strings.Contains(msg, "No such container: "+n) {
		t.Errorf("start after rm: %q", msg)
	}
}

// testStopSignalAndGrace: --stop-signal and --stop-timeout of run, stop's
// -t and --signal; a process that ignores the signal is killed after the
// grace period.
func testStopSignalAndGrace(t *testing.T, e *engine) {
	n := e.runD(t, "--stop-signal", "USR1", "--stop-timeout", "1", "busybox", "testprog", "pause")
	e.waitLog(t, n, "ready")
	c := e.inspect(t, n)
	if c.Config.StopSignal != "USR1" || c.Config.StopTimeout == nil || *c.Config.StopTimeout != 1 {
		t.Errorf("stop signal %q, timeout %v", c.Config.StopSignal, c.Config.StopTimeout)
	}
	start := time.Now()
	e.ok(t, "stop", n)
	took := time.Since(start)
	c = e.inspect(t, n)
	if c.State.ExitCode != 137 || took < time.Second || took > 6*time.Second {
		t.Errorf("stop with USR1 ignored, 1 s grace: exit %d after %v", c.State.ExitCode, took)
	}
	if !strings.Contains(e.logs(t, n), "SIGUSR1") {
		t.Errorf("the process did not see SIGUSR1: %q", e.logs(t, n))
	}
	e.ok(t, "start", n)
	e.waitReady(t, n, 2)
	start = time.Now()
	e.ok(t, "stop", "-t", "0", n) // -t over --stop-timeout
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("stop -t 0 took %v", took)
	}
	e.ok(t, "start", n)
	e.waitReady(t, n, 3) // stop -t 0 may kill it before it prints SIGUSR1
	e.ok(t, "stop", "--signal", "HUP", "-t", "1", n)
	logs := e.logs(t, n)
	if !strings.HasSuffix(logs, "ready\nSIGHUP\n") {
		t.Errorf("stop --signal HUP: log %q", logs)
	}
	n2 := e.runD(t, "busybox", "sh", "-c", "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.05; done")
	e.waitLog(t, n2, "ready")
	e.ok(t, "stop", n2)
	if c := e.inspect(t, n2); c.State.ExitCode != 3 || !strings.Contains(e.logs(t, n2), "got-term") {
		t.Errorf("a shell trapping TERM: exit %d, log %q", c.State.ExitCode, e.logs(t, n2))
	}
}

// testKillSignals: kill -s by name and number; kill of a stopped container
// fails as dockerd's.
func testKillSignals(t *testing.T, e *engine) {
	n := e.runD(t, "busybox", "testprog", "pause")
	e.waitLog(t, n, "ready")
	e.ok(t, "kill", "-s", "HUP", n)
	e.waitLog(t, n, "SIGHUP")
	e.ok(t, "kill", "-s", "SIGUSR2", n)
	e.waitLog(t, n, "SIGUSR2")
	e.ok(t, "kill", "--signal", "10", n)
	e.waitLog(t, n, "SIGUSR1")
	if c := e.inspect(t, n); !c.State.Running {
		t.Fatalf("stopped by handled signals: %+v", c.State)
	}
	if msg := e.fails(t, 1, "kill", "-s", "NOPE", n); !strings.Contains(msg, "Invalid signal: NOPE") {
		t.Errorf("kill -s NOPE: %q", msg)
	}
	e.ok(t, "kill", "-s", "TERM", n)
	c := e.waitState(t, n, "exited", func(c container.InspectResponse) bool { return !c.State.Running })
	if c.State.ExitCode != 0 {
		t.Errorf("exit after SIGTERM: %d", c.State.ExitCode)
	}
	if msg := e.fails(t, 1, "kill", n); !strings.Contains(msg, "is not running") {
		t.Errorf("kill of a stopped container: %q", msg)
	}
}

// testRemoveForce: rm of a running container fails; rm -f kills it;
// rm -v; rm of several at once.
func testRemoveForce(t *testing.T, e *engine) {
	n := e.runD(t, "busybox", "sleep", "1000")
	id := e.inspect(t, n).ID
	msg := e.fails(t, 1, "rm", n)
	if !strings.Contains(msg, `cannot remove container "/`+n+`": container is running: stop the container before removing or force remove`) {
		t.Errorf("rm of a running container: %q", msg)
	}
	pid := e.inspect(t, n).State.Pid
	if out := e.ok(t, "rm", "-f", n); out != n+"\n" {
		t.Errorf("rm -f printed %q", out)
	}
	if alive(pid) {
		t.Errorf("process %d alive after rm -f", pid)
	}
	if left := e.leftovers(t, id); len(left) > 0 {
		t.Errorf("rm -f left %v", left)
	}
	a, b := e.name(t), e.name(t)
	e.ok(t, "create", "--name", a, "busybox", "true")
	e.ok(t, "run", "--name", b, "busybox", "true")
	if out := e.ok(t, "rm", "-v", a, b); out != a+"\n"+b+"\n" {
		t.Errorf("rm -v a b printed %q", out)
	}
	if msg := e.fails(t, 1, "rm", "nosuch-"+a); !strings.Contains(msg, "No such container: nosuch-"+a) {
		t.Errorf("rm of a missing container: %q", msg)
	}
}

// testWait: docker wait prints the exit codes, for one running and one
// exited container.
func testWait(t *testing.T, e *engine) {
	a := e.runD(t, "busybox", "sleep", "1000")
	b := e.name(t)
	e.fails(t, 9, "run", "--name", b, "busybox", "sh", "-c", "exit 9")
	done := make(chan result, 1)
	go func() { done <- e.docker(t, "", "wait", a, b) }()
	e.ok(t, "kill", a)
	r := <-done
	if r.code != 0 || r.stdout != "137\n9\n" {
		t.Errorf("wait: %v", r)
	}
}

// testRename: rename, the old name freed, a taken name refused.
func testRename(t *testing.T, e *engine) {
	a := e.runD(t, "busybox", "sleep", "1000")
	b := e.name(t)
	e.ok(t, "rename", a, b)
	if c := e.inspect(t, b); c.Name != "/"+b || !c.State.Running {
		t.Errorf("after rename: name %s, running %v", c.Name, c.State.Running)
	}
	if e.exists(t, a) {
		t.Errorf("old name %s still answers", a)
	}
	e.ok(t, "create", "--name", a, "busybox", "true")
	if msg := e.fails(t, 1, "rename", b, a); !strings.Contains(msg, "is already in use") {
		t.Errorf("rename to a taken name: %q", msg)
	}
}

// testPauseUnpause: pause freezes the container's cgroup; exec refuses;
// unpause thaws it; stop of a paused container works.
func testPauseUnpause(t *testing.T, e *engine) {
	n := e.runD(t, "busybox", "sleep", "1000")
	id := e.inspect(t, n).ID
	e.ok(t, "pause", n)
	c := e.inspect(t, n)
	if !c.State.Paused || c.State.Status != "paused" || cgroupFile(t, id, "freezer", "freezer.state") != "FROZEN" {
		t.Errorf("after pause: %+v, freezer %s", c.State, cgroupFile(t, id, "freezer", "freezer.state"))
	}
	if out := e.ok(t, "ps", "--filter", "name="+n, "--format", "{{.Status}}"); !strings.HasSuffix(out, "(Paused)\n") {
		t.Errorf("ps of a paused container: %q", out)
	}
	if msg := e.fails(t, 1, "exec", n, "true"); !strings.Contains(msg, "is paused") {
		t.Errorf("exec in a paused container: %q", msg)
	}
	if msg := e.fails(t, 1, "pause", n); !strings.Contains(msg, "is already paused") {
		t.Errorf("pause twice: %q", msg)
	}
	e.ok(t, "unpause", n)
	if c := e.inspect(t, n); c.State.Paused || cgroupFile(t, id, "freezer", "freezer.state") != "THAWED" {
		t.Errorf("after unpause: %+v", c.State)
	}
	if msg := e.fails(t, 1, "unpause", n); !strings.Contains(msg, "is not paused") {
		t.Errorf("unpause twice: %q", msg)
	}
	e.ok(t, "pause", n)
	e.ok(t, "stop", "-t", "1", n)
	if c := e.inspect(t, n); c.State.Running || c.State.Paused || c.State.ExitCode != 137 {
		t.Errorf("stop of a paused container: %+v", c.State)
	}
}

// testPort: docker port of a container without published ports prints
// nothing; of a missing container fails.
func testPort(t *testing.T, e *engine) {
	n := e.runD(t, "busybox", "sleep", "1000")
	if out := e.ok(t, "port", n); out != "" {
		t.Errorf("port: %q", out)
	}
	if msg := e.fails(t, 1, "port", n, "80/tcp"); !strings.Contains(msg, "No public port '80/tcp' published for "+n) {
		t.Errorf("port 80/tcp: %q", msg)
	}
	if msg := e.fails(t, 1, "port", "nosuch-"+n); !strings.Contains(msg, "No such container") {
		t.Errorf("port of a missing container: %q", msg)
	}
}

// testEvents: the events of a lifecycle, filtered by container and type,
// in dockerd's order.
func testEvents(t *testing.T, e *engine) {
	since := strconv.FormatInt(time.Now().Unix(), 10)
	n := e.name(t)
	e.ok(t, "create", "--name", n, "--label", "ev=1", "busybox", "sleep", "1000")
	e.ok(t, "start", n)
	e.ok(t, "pause", n)
	e.ok(t, "unpause", n)
	e.ok(t, "restart", "-t", "0", n)
	e.ok(t, "stop", "-t", "1", n)
	e.ok(t, "rm", n)
	until := strconv.FormatInt(time.Now().Unix()+1, 10)
	out := e.ok(t, "events", "--since", since, "--until", until, "--filter", "container="+n,
		"--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.ev}}")
	want := []string{"create", "start", "pause", "unpause", "kill", "kill", "die", "stop", "start", "restart",
		"kill", "kill", "die", "stop", "destroy"}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 || f[0] != "container" || f[2] != n || f[3] != "1" {
			t.Errorf("event line %q", line)
			continue
		}
		got = append(got, f[1])
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("events:\n got %v\nwant %v", got, want)
	}
	out = e.ok(t, "events", "--since", since, "--until", until, "--filter", "container="+n,
		"--filter", "event=die", "--format", "{{.Action}} {{.Actor.Attributes.exitCode}}")
	if out != "die 137\ndie 137\n" {
		t.Errorf("events --filter event=die: %q", out)
	}
}

// testPrune: container prune removes the stopped containers its filter
// selects, not running ones.
func testPrune(t *testing.T, e *engine) {
	label := "prune=" + e.name(t)
	a, b, c := e.name(t), e.name(t), e.name(t)
	e.ok(t, "run", "--name", a, "--label", label, "busybox", "true")
	e.ok(t, "create", "--name", b, "--label", label, "busybox", "true")
	e.ok(t, "run", "-d", "--name", c, "--label", label, "busybox", "sleep", "1000")
	ida, idb := e.inspect(t, a).ID, e.inspect(t, b).ID
	out := e.ok(t, "container", "prune", "-f", "--filter", "label="+label)
	if !strings.HasPrefix(out, "Deleted Containers:\n") || !strings.Contains(out, ida+"\n") || !strings.Contains(out, idb+"\n") ||
		!strings.Contains(out, "Total reclaimed space:") {
		t.Errorf("prune:\n%s", out)
	}
	if e.exists(t, a) || e.exists(t, b) || !e.exists(t, c) {
		t.Errorf("after prune: a %v b %v c %v", e.exists(t, a), e.exists(t, b), e.exists(t, c))
	}
	if out := e.ok(t, "container", "prune", "-f", "--filter", "label="+label); out != "Total reclaimed space: 0B\n" {
		t.Errorf("second prune: %q", out)
	}
}

// testUpdate: update of a running container's limits reaches its cgroup
// files at once, and the restart policy its record.
func testUpdate(t *testing.T, e *engine) {
	n := e.runD(t, "busybox", "sleep", "1000")
	id := e.inspect(t, n).ID
	e.ok(t, "update", "--memory", "48m", "--memory-swap", "96m", "--cpus", "0.5", "--cpu-shares", "256",
		"--pids-limit", "20", "--restart", "on-failure:3", n)
	for _, f := range []struct{ ctl, file, want string }{
		{"memory", "memory.limit_in_bytes", strconv.Itoa(48 << 20)},
		{"memory", "memory.memsw.limit_in_bytes", strconv.Itoa(96 << 20)},
		{"cpu", "cpu.cfs_quota_us", "50000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"cpu", "cpu.shares", "256"},
		{"pids", "pids.max", "20"},
	} {
		if got := cgroupFile(t, id, f.ctl, f.file); got != f.want {
			t.Errorf("%s after update: %s, want %s", f.file, got, f.want)
		}
	}
	hc := e.inspect(t, n).HostConfig
	if hc.Memory != 48<<20 || hc.MemorySwap != 96<<20 || hc.NanoCPUs != 5e8 || hc.PidsLimit == nil || *hc.PidsLimit != 20 ||
		hc.RestartPolicy.Name != "on-failure" || hc.RestartPolicy.MaximumRetryCount != 3 {
		t.Errorf("HostConfig after update: %+v", hc.Resources)
	}
	if msg := e.fails(t, 1, "update", "--memory", "200m", n); !strings.Contains(msg, "Memory limit should be smaller than already set memoryswap limit") {
		t.Errorf("update memory over swap: %q", msg)
	}
	e.ok(t, "stop", "-t", "0", n)
	e.ok(t, "update", "--pids-limit", "30", n)
	e.ok(t, "start", n)
	if got := cgroupFile(t, id, "pids", "pids.max"); got != "30" {
		t.Errorf("pids.max after update of a stopped container and start: %s", got)
	}
	if st := e.api(t, "POST", "/containers/"+n+"/update", strings.NewReader(`{"Memory": "x"}`), nil); st != http.StatusBadRequest {
		t.Errorf("update with a malformed body: %d", st)
	}
}
