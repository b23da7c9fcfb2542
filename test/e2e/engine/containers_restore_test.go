package engine_test

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

// monitorPid is the pid of the monitor of a running container: the parent
// of its init.
func monitorPid(t *testing.T, initPid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(initPid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ppid, _ := strconv.Atoi(f[1])
	cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(ppid) + "/cmdline")
	if !strings.Contains(string(cmd), "monitor") {
		t.Fatalf("parent %d of %d is not a monitor: %q", ppid, initPid, cmd)
	}
	return ppid
}

// killAndReap kills pid with SIGKILL and waits until it is gone.
func killAndReap(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "pid "+strconv.Itoa(pid)+" to die", func() bool { return !alive(pid) })
}

// TestContainersRestartPolicy: on-failure:N gives up after N restarts,
// each after a longer delay; always and unless-stopped restart a process
// that exits, not one the user stopped; and across a daemon killed with
// SIGKILL the running ones keep their process, always brings back one
// that died meanwhile and one the user stopped, unless-stopped does not.
func TestContainersRestartPolicy(t *testing.T) {
	e := newEngine(t)
	start := time.Now()
	of := e.runD(t, "--restart", "on-failure:3", "busybox", "sh", "-c", "echo run; exit 1")
	c := e.waitState(t, of, "to give up", func(c container.InspectResponse) bool {
		return c.RestartCount == 3 && !c.State.Running && !c.State.Restarting
	})
	if c.State.ExitCode != 1 || c.State.Status != "exited" {
		t.Errorf("on-failure:3 after its retries: %+v", c.State)
	}
	checkBackoff(t, e, of, start)
	if logs := e.logs(t, of); logs != "run\nrun\nrun\nrun\n" {
		t.Errorf("log of 4 runs: %q", logs)
	}

	quick := e.runD(t, "--restart", "always", "busybox", "true")
	e.waitState(t, quick, "to restart twice", func(c container.InspectResponse) bool { return c.RestartCount >= 2 })
	e.ok(t, "stop", quick)
	c = e.inspect(t, quick)
	if c.State.Running || c.State.Restarting {
		t.Errorf("always after docker stop: %+v", c.State)
	}

	always := e.runD(t, "--restart", "always", "busybox", "sleep", "1000")
	unless := e.runD(t, "--restart", "unless-stopped", "busybox", "sleep", "1000")
	plain := e.runD(t, "busybox", "sleep", "1000")
	unlessStopped := e.runD(t, "--restart", "unless-stopped", "busybox", "sleep", "1000")
	alwaysStopped := e.runD(t, "--restart", "always", "busybox", "sleep", "1000")
	dies := e.runD(t, "--restart", "always", "busybox", "sleep", "1000")
	e.ok(t, "stop", "-t", "0", unlessStopped, alwaysStopped)
	pids := map[string]int{}
	for _, n := range []string{always, unless, plain, dies} {
		pids[n] = e.inspect(t, n).State.Pid
	}

	e.kill9(t)
	killAndReap(t, pids[dies])
	e.restart(t)

	for _, n := range []string{always, unless, plain} {
		if c := e.inspect(t, n); !c.State.Running || c.State.Pid != pids[n] {
			t.Errorf("%s after the daemon's restart: %+v, pid was %d", n, c.State, pids[n])
		}
	}
	c = e.waitState(t, dies, "to come back", func(c container.InspectResponse) bool { return c.State.Running })
	if c.State.Pid == pids[dies] || c.RestartCount != 1 {
		t.Errorf("an always container whose process died with the daemon away: %+v, restarts %d", c.State, c.RestartCount)
	}
	e.waitState(t, alwaysStopped, "to start with the daemon", func(c container.InspectResponse) bool { return c.State.Running })
	if c := e.inspect(t, unlessStopped); c.State.Running {
		t.Errorf("an unless-stopped container the user stopped started with the daemon")
	}
	if c := e.inspect(t, of); c.State.Running || c.RestartCount != 3 {
		t.Errorf("on-failure:3 after the daemon's restart: %+v, restarts %d", c.State, c.RestartCount)
	}
}

// checkBackoff checks the restarts of an on-failure:3 container from its
// events: each start comes at least 100, 200, then 400 ms after the exit
// before it, as dockerd's doubling delay.
func checkBackoff(t *testing.T, e *engine, name string, since time.Time) {
	t.Helper()
	out := e.ok(t, "events", "--since", strconv.FormatInt(since.Unix(), 10), "--until", strconv.FormatInt(time.Now().Unix()+1, 10),
		"--filter", "container="+name, "--filter", "event=start", "--filter", "event=die", "--format", "{{.TimeNano}} {{.Action}}")
	var dies []int64
	var gaps []time.Duration
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || len(f) != 2 {
			t.Fatalf("event line %q", line)
		}
		switch {
		case f[1] == "die":
			dies = append(dies, ns)
		case len(dies) > 0:
			gaps = append(gaps, time.Duration(ns-dies[len(dies)-1]))
		}
	}
	if len(dies) != 4 || len(gaps) != 3 {
		t.Fatalf("events of 4 runs:\n%s", out)
	}
	for i, min := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond} {
		if gaps[i] < min {
			t.Errorf("restart %d came %v after the exit, want at least %v", i+1, gaps[i], min)
		}
	}
}

// TestContainersDaemonKill: containers with a terminal, a log follower
// and an exec in flight survive a daemon killed with SIGKILL; restarted,
// the daemon has them with the same processes, and attach, logs -f, exec
// and stop work with the right exit codes. A monitor killed with SIGKILL,
// with the daemon up or away, marks its container exited (255).
func TestContainersDaemonKill(t *testing.T) {
	e := newEngine(t)
	tty := e.runD(t, "-it", "busybox", "sh")
	lg := e.runD(t, "busybox", "sh", "-c", "i=0; while :; do i=$((i+1)); echo line$i; sleep 0.05; done")
	ex := e.runD(t, "busybox", "testprog", "pause")
	gone := e.runD(t, "busybox", "sleep", "1000")
	paused := e.runD(t, "busybox", "sleep", "1000")
	e.ok(t, "pause", paused)
	e.waitLog(t, ex, "ready")
	follow := e.dockerBG(t, "logs", "-f", lg)
	follow.waitOutput(t, "line2\n")
	inflight := e.dockerBG(t, "exec", ex, "sh", "-c", "echo started; while [ ! -e /tmp/finish ]; do sleep 0.02; done; echo finished > /tmp/done")
	inflight.waitOutput(t, "started")
	pids := map[string]int{}
	for _, n := range []string{tty, lg, ex, gone, paused} {
		pids[n] = e.inspect(t, n).State.Pid
	}

	e.kill9(t)
	if code := follow.wait(t); code == 0 {
		t.Errorf("logs -f ended well when the daemon died: %s", follow.output())
	}
	inflight.wait(t)
	killAndReap(t, monitorPid(t, pids[gone]))
	for n, pid := range pids {
		if n != gone && !alive(pid) {
			t.Errorf("%s's process died with the daemon", n)
		}
	}
	e.restart(t)

	for _, n := range []string{tty, lg, ex, paused} {
		if c := e.inspect(t, n); !c.State.Running || c.State.Pid != pids[n] || c.State.Paused != (n == paused) {
			t.Errorf("%s after the daemon's restart: %+v, pid was %d", n, c.State, pids[n])
		}
	}
	e.ok(t, "unpause", paused)
	if out := e.ok(t, "exec", paused, "echo", "thawed"); out != "thawed\n" {
		t.Errorf("exec after unpause: %q", out)
	}
	if c := e.inspect(t, gone); c.State.Running || c.State.ExitCode != 255 || alive(pids[gone]) {
		t.Errorf("a container whose monitor died with the daemon away: %+v, process alive %v", c.State, alive(pids[gone]))
	}
	afterRestart(t, e, tty, lg, ex)
	monitorKilled(t, e)
}

// afterRestart: attach, logs -f, exec and stop on containers that lived
// through a daemon restart.
func afterRestart(t *testing.T, e *engine, tty, lg, ex string) {
	tm := e.dockerTTY(t, 24, 80, "attach", tty)
	tm.send(t, "echo back-$((5*5))\r")
	tm.expect(t, "back-25")
	tm.send(t, "\x10\x11")
	tm.expect(t, "read escape sequence")
	tm.wait(t)

	follow := e.dockerBG(t, "logs", "-f", "--tail", "1", lg)
	follow.waitOutput(t, "line")
	n := strings.Count(follow.output(), "line")
	eventually(t, 10*time.Second, "logs -f to show new lines", func() bool { return strings.Count(follow.output(), "line") > n+1 })

	if out := e.ok(t, "exec", ex, "echo", "exec-ok"); out != "exec-ok\n" {
		t.Errorf("exec after the restart: %q", out)
	}
	e.ok(t, "exec", ex, "touch", "/tmp/finish")
	eventually(t, 10*time.Second, "the exec started before the restart to finish", func() bool {
		return e.docker(t, "", "exec", ex, "cat", "/tmp/done").stdout == "finished\n"
	})

	e.ok(t, "stop", ex)
	e.ok(t, "stop", "-t", "1", tty)
	e.ok(t, "kill", lg)
	if code := follow.wait(t); code != 0 {
		t.Errorf("logs -f did not end with the container: exit %d", code)
	}
	for n, want := range map[string]int{ex: 0, tty: 137, lg: 137} {
		if c := e.inspect(t, n); c.State.Running || c.State.ExitCode != want {
			t.Errorf("%s stopped: %+v, want exit %d", n, c.State, want)
		}
	}
	if out := e.ok(t, "wait", ex, tty); out != "0\n137\n" {
		t.Errorf("docker wait: %q", out)
	}
}

// monitorKilled: a monitor killed with the daemon up takes its container
// down, recorded as exit 255.
func monitorKilled(t *testing.T, e *engine) {
	n := e.runD(t, "busybox", "sleep", "1000")
	pid := e.inspect(t, n).State.Pid
	killAndReap(t, monitorPid(t, pid))
	c := e.waitState(t, n, "to be marked exited", func(c container.InspectResponse) bool { return !c.State.Running })
	if c.State.ExitCode != 255 || alive(pid) {
		t.Errorf("after its monitor's death: %+v, process alive %v", c.State, alive(pid))
	}
	id := c.ID
	e.ok(t, "rm", n)
	if left := e.leftovers(t, id); len(left) > 0 {
		t.Errorf("rm left %v", left)
	}
}
