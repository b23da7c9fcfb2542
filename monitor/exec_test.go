package monitor_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/monitor"
	"github.com/corral-dev/corral/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// process is an exec's process: the container's defaults with args.
func process(args ...string) *specs.Process {
	return &specs.Process{Args: args, Cwd: "/", Env: []string{"PATH=/bin"}}
}

// running starts a container that sleeps.
func running(t *testing.T, edit func(*specs.Spec, *monitor.Config)) *container {
	ct := newContainer(t, []string{"sleep", "1000"}, edit)
	ct.start()
	return ct
}

// TestExec: an exec's output streams back apart, its exit code is
// reported, stdin reaches it, and a detached one runs.
func TestExec(t *testing.T) {
	ct := running(t, nil)
	s, err := ct.c.Exec(ctx(t), monitor.ExecOptions{ID: "e1", Process: process("sh", "-c", "echo hi; echo ho >&2; exit 5")})
	if err != nil {
		t.Fatal(err)
	}
	if s.Pid <= 0 {
		t.Errorf("exec pid %d", s.Pid)
	}
	if stdout, stderr := demux(t, s); stdout != "hi\n" || stderr != "ho\n" {
		t.Errorf("exec output %q / %q", stdout, stderr)
	}
	if code, err := ct.c.ExecWait(ctx(t), "e1"); err != nil || code != 5 {
		t.Errorf("exec wait = %d, %v; want 5", code, err)
	}

	s, err = ct.c.Exec(ctx(t), monitor.ExecOptions{ID: "cat", Process: process("cat"), Stdin: true})
	if err != nil {
		t.Fatal(err)
	}
	go func() { s.Write([]byte("piped\n")); s.CloseStdin() }()
	if stdout, _ := demux(t, s); stdout != "piped\n" {
		t.Errorf("exec cat echoed %q", stdout)
	}
	if code, err := ct.c.ExecWait(ctx(t), "cat"); err != nil || code != 0 {
		t.Errorf("exec cat = %d, %v", code, err)
	}

	d, err := ct.c.Exec(ctx(t), monitor.ExecOptions{ID: "bg", Process: process("sleep", "1000"), Detach: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := ct.c.ExecSignal(ctx(t), "bg", syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := ct.c.ExecWait(ctx(t), "bg"); err != nil || code != 128+int(syscall.SIGTERM) {
		t.Errorf("detached exec %d = %d, %v", d.Pid, code, err)
	}
	// The exec's output is not in the container's log.
	if log := logLines(t, ct.cfg); strings.Contains(log, "hi") {
		t.Errorf("exec output logged: %q", log)
	}
}

// TestExecTTY: an exec with a terminal gets its size and raw output.
func TestExecTTY(t *testing.T) {
	ct := running(t, nil)
	p := process("sh", "-c", "stty size; exit 7")
	p.Terminal = true
	p.ConsoleSize = &specs.Box{Height: 33, Width: 99}
	s, err := ct.c.Exec(ctx(t), monitor.ExecOptions{ID: "tty", Process: p, Stdin: true})
	if err != nil {
		t.Fatal(err)
	}
	if out := string(readAll(t, s)); out != "33 99\r\n" {
		t.Errorf("exec tty output %q", out)
	}
	if code, err := ct.c.ExecWait(ctx(t), "tty"); err != nil || code != 7 {
		t.Errorf("exec tty = %d, %v", code, err)
	}
}

// TestExecErrors: bad execs fail cleanly.
func TestExecErrors(t *testing.T) {
	ct := running(t, nil)
	_, err := ct.c.Exec(ctx(t), monitor.ExecOptions{Process: process("/nonexistent")})
	if err == nil {
		t.Error("exec of a missing program succeeded")
	}
	if _, err := ct.c.Exec(ctx(t), monitor.ExecOptions{Process: &specs.Process{}}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("exec without args: %v", err)
	}
	if _, err := ct.c.ExecWait(ctx(t), "nope"); !errdefs.IsNotFound(err) {
		t.Errorf("wait for unknown exec: %v", err)
	}
	created := newContainer(t, []string{"true"}, nil)
	if _, err := created.c.Exec(ctx(t), monitor.ExecOptions{Process: process("true")}); !errdefs.IsConflict(err) {
		t.Errorf("exec in a created container: %v", err)
	}
	if err := created.c.Resize(ctx(t), 10, 10); !errdefs.IsConflict(err) {
		t.Errorf("resize without a terminal: %v", err)
	}
}

// helperEnv makes the test binary a stand-in daemon: it starts the
// monitor described by the variable's JSON config, prints its pid and
// waits to be killed.
const helperEnv = "CORRAL_MONITOR_TEST_DAEMON"

func helperDaemon() int {
	var cfg monitor.Config
	if err := json.Unmarshal([]byte(os.Getenv(helperEnv)), &cfg); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	sctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := monitor.Start(sctx, cfg)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println(c.Pid())
	time.Sleep(time.Hour)
	return 0
}

// TestDaemonDies: the process that started the monitor is killed; the
// container goes on, and a new client attaches, execs, kills and waits.
func TestDaemonDies(t *testing.T) {
	testutil.RequireRoot(t)
	bundle, spec := testutil.NewBundle(t)
	spec.Process.Args = []string{"sh", "-c", "read x; echo got $x; sleep 1000"}
	testutil.WriteSpec(t, bundle, spec)
	cfg := monitor.Config{ID: testutil.UniqueName(t), StateDir: stateDir, Bundle: bundle,
		RuntimeRoot: runtimeRoot, Binary: monitorBinary(t), OpenStdin: true}
	ct := &container{t: t, cfg: cfg}
	t.Cleanup(ct.cleanup)
	data, _ := json.Marshal(cfg)
	daemon := exec.Command(os.Args[0])
	daemon.Env = append(os.Environ(), helperEnv+"="+string(data))
	out, _ := daemon.StdoutPipe()
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		daemon.Process.Kill()
		daemon.Wait()
		t.Fatalf("stand-in daemon: %q", line)
	}
	daemon.Process.Signal(syscall.SIGKILL)
	daemon.Wait()

	c, err := monitor.Connect(ctx(t), stateDir, cfg.ID)
	if err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	ct.c = c
	if c.Pid() != pid {
		t.Errorf("monitor pid %d, the daemon saw %d", c.Pid(), pid)
	}
	checkDetached(t, c)
	s := ct.attach(true)
	ct.start()
	s.Write([]byte("again\n"))
	expectFrame(t, bufio.NewReader(s), "got again\n")
	e, err := c.Exec(ctx(t), monitor.ExecOptions{ID: "x", Process: process("echo", "exec ok")})
	if err != nil {
		t.Fatal(err)
	}
	if stdout, _ := demux(t, e); stdout != "exec ok\n" {
		t.Errorf("exec after reconnect: %q", stdout)
	}
	if err := c.Signal(ctx(t), syscall.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	if ex := ct.wait(); ex.ExitCode != 137 {
		t.Errorf("exit after reconnect: %+v", ex)
	}
}

// checkDetached: the monitor leads a session of its own, has /dev/null as
// stdio, and is the parent of the container's init.
func checkDetached(t *testing.T, c *monitor.Client) {
	t.Helper()
	st, err := c.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	pid := st.MonitorPid
	if sid, err := unix.Getsid(pid); err != nil || sid != pid {
		t.Errorf("monitor %d is in session %d, not its own", pid, sid)
	}
	for _, fd := range []string{"0", "1", "2"} {
		if target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd)); target != os.DevNull {
			t.Errorf("monitor fd %s is %q, want /dev/null", fd, target)
		}
	}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.Pid))
	if want := fmt.Sprintf("\nPPid:\t%d\n", pid); !strings.Contains(string(status), want) {
		t.Errorf("the container's init is not the monitor's child:\n%s", status)
	}
}

// TestMonitorKilled: kill -9 of the monitor is told apart from an exit,
// and Recover kills the container and records 255.
func TestMonitorKilled(t *testing.T) {
	ct := running(t, nil)
	st, err := ct.c.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() {
		_, err := ct.c.Wait(ctx(t))
		waitErr <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the wait reach the monitor
	if err := syscall.Kill(st.MonitorPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-waitErr; !errors.Is(err, monitor.ErrMonitorDead) {
		t.Errorf("wait across the monitor's death: %v", err)
	}
	if _, err := monitor.Connect(ctx(t), stateDir, ct.cfg.ID); !errors.Is(err, monitor.ErrMonitorDead) {
		t.Errorf("connect to a dead monitor: %v", err)
	}
	if syscall.Kill(st.Pid, 0) != nil {
		t.Fatal("the container died with its monitor: test assumption broken")
	}
	ex, err := monitor.Recover(ctx(t), stateDir, ct.cfg.ID)
	if err != nil || ex.ExitCode != 255 || ex.Error == "" {
		t.Fatalf("recover = %+v, %v", ex, err)
	}
	if !gone(st.Pid) {
		t.Errorf("container init %d still runs after recover", st.Pid)
	}
	if got, err := ct.c.Wait(ctx(t)); err != nil || got.ExitCode != 255 {
		t.Errorf("wait after recover = %+v, %v", got, err)
	}
}

// gone reports whether pid has exited (zombies count: the sandbox reaps
// orphans a little later).
func gone(pid int) bool {
	for i := 0; i < 200; i++ {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(data), ") Z ") {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// TestNoLeakedFDs: the container's process and an exec's see only their
// stdio: none of the monitor's descriptors (socket, log, pipes).
func TestNoLeakedFDs(t *testing.T) {
	check := func(what, out string) { t.Helper(); checkOnlyStdio(t, what, out) }
	ct := newContainer(t, []string{"/bin/testprog", "fds"}, func(_ *specs.Spec, c *monitor.Config) { c.OpenStdin = true })
	s := ct.attach(true)
	ct.start()
	stdout, stderr := demux(t, s)
	check("container", stdout+stderr)
	ct.wait()

	run := running(t, nil)
	e, err := run.c.Exec(ctx(t), monitor.ExecOptions{Process: process("/bin/testprog", "fds"), Stdin: true})
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr = demux(t, e)
	check("exec", stdout+stderr)
}

// checkOnlyStdio fails the test unless out, the output of `testprog fds`,
// lists no descriptor above 2.
func checkOnlyStdio(t *testing.T, what, out string) {
	t.Helper()
	var fds []struct {
		FD     int    `json:"fd"`
		Target string `json:"target"`
	}
	if err := json.Unmarshal([]byte(out), &fds); err != nil {
		t.Fatalf("%s: %q: %v", what, out, err)
	}
	for _, fd := range fds {
		if fd.FD > 2 {
			t.Errorf("%s: descriptor %d (%s) leaked in", what, fd.FD, fd.Target)
		}
	}
}
