package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corral-dev/corral/testutil"
	"golang.org/x/sys/unix"
)

func TestExitStatus(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "plain"), "#!/bin/sh\necho no\n", 0o644)
	writeFile(t, filepath.Join(dir, "noshebang"), "echo script \"$@\"\n", 0o755)
	writeFile(t, filepath.Join(dir, "bin", "inpath"), "#!/bin/sh\necho in path\n", 0o755)
	missing := "corral-missing-" + strconv.Itoa(os.Getpid())
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"exit code", []string{"--", "sh", "-c", "exit 7"}, 7, "", ""},
		{"no --", []string{"sh", "-c", "echo $0 $1", "a", "b"}, 0, "a b", ""},
		{"killed by SIGTERM", []string{"--", "sh", "-c", "kill -TERM $$"}, 143, "", ""},
		{"killed by SIGKILL", []string{"--", "sh", "-c", "kill -KILL $$"}, 137, "", ""},
		{"-e remaps", []string{"-e", "3", "--", "sh", "-c", "exit 3"}, 0, "", ""},
		{"-e other code", []string{"-e", "3", "--", "sh", "-c", "exit 4"}, 4, "", ""},
		{"not in PATH", []string{"--", missing}, 127, "",
			"corral-init: exec " + missing + ": executable file not found in $PATH\n"},
		{"no such path", []string{"--", "/nonexistent/prog"}, 127, "",
			"corral-init: exec /nonexistent/prog: no such file or directory\n"},
		{"not executable", []string{"--", filepath.Join(dir, "plain")}, 126, "",
			"corral-init: exec " + filepath.Join(dir, "plain") + ": permission denied\n"},
		{"directory", []string{"--", dir}, 126, "", "corral-init: exec " + dir + ": permission denied\n"},
		{"script without #!", []string{"--", filepath.Join(dir, "noshebang"), "x", "y"}, 0, "script x y", ""},
		{"usage: nothing to run", []string{"--"}, 2, "", "corral-init: no program to run\nusage: corral-init"},
		{"usage: unknown flag", []string{"-z", "sh"}, 2, "", "corral-init: unknown option -z\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startInit(t, tt.args...)
			code := r.wait()
			out := strings.Join(r.rest(), "\n")
			if code != tt.code || out != tt.stdout || !strings.HasPrefix(r.stderr(), tt.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q...",
					code, out, r.stderr(), tt.code, tt.stdout, tt.stderr)
			}
			if n := adopted(t); n != 0 {
				t.Errorf("%d process(es) left behind", n)
			}
		})
	}
}

func TestPathFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "only-here"), "#!/bin/sh\necho found\n", 0o755)
	cmd := start(t, nil, "env", "PATH="+dir+":/usr/bin:/bin", initBinary(t), "--", "only-here")
	if code := cmd.wait(); code != 0 || !slices.Equal(cmd.rest(), []string{"found"}) {
		t.Errorf("exit %d; stderr %q", code, cmd.stderr())
	}
}

func TestHelp(t *testing.T) {
	r := startInit(t, "-h")
	if code := r.wait(); code != 0 {
		t.Fatalf("-h: exit %d", code)
	}
	if out := r.rest(); len(out) == 0 || !strings.HasPrefix(out[0], "usage: corral-init") {
		t.Errorf("-h printed %q", out)
	}
}

func writeFile(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
}

// orphanScript leaves eight orphans behind: an inner shell starts them in
// the background and exits at once, so they are reparented to the nearest
// subreaper, then live for half a second and exit.
const orphanScript = `sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 0.5 & done'
echo spawned
`

// checkReaped waits until every child of pid other than keep has gone, and
// fails if they stay as zombies. It reports whether the orphans were seen
// as children of pid at all (they exit after 0.5s).
func checkReaped(t *testing.T, pid, keep int) (seen bool) {
	t.Helper()
	others := func() []proc {
		var out []proc
		for _, p := range children(pid) {
			if p.pid != keep {
				out = append(out, p)
			}
		}
		return out
	}
	seen = len(others()) > 0
	if !waitFor(3*time.Second, func() bool { return len(others()) == 0 }) {
		t.Errorf("children of %d still there after 3s: %v (zombies: %v)", pid, others(), zombies(others()))
	}
	return seen
}

func TestReapsOrphans(t *testing.T) {
	r := startInit(t, "--", "sh", "-c", orphanScript+"read line; exit 5")
	r.expect("spawned")
	main := children(r.pid())
	if len(main) == 0 {
		t.Fatal("the init has no child")
	}
	kid := mainChild(t, r.pid())
	if !checkReaped(t, r.pid(), kid) {
		t.Error("no orphan was reparented to the init: is it a subreaper?")
	}
	if _, err := r.stdin.Write([]byte("go on\n")); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(); code != 5 {
		t.Errorf("exit %d, want 5; stderr %q", code, r.stderr())
	}
	if n := adopted(t); n != 0 {
		t.Errorf("%d process(es) left behind", n)
	}
}

// TestOrphansBecomeZombiesWithoutInit is the control of TestReapsOrphans:
// the same script run straight under this test process (a subreaper that
// does not reap) leaves zombies that checkReaped's scan sees.
func TestOrphansBecomeZombiesWithoutInit(t *testing.T) {
	initBinary(t) // the subreaper and the cleanup
	r := start(t, nil, "sh", "-c", orphanScript)
	r.expect("spawned")
	if code := r.wait(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	ok := waitFor(3*time.Second, func() bool { return len(zombies(children(os.Getpid()))) == 8 })
	if !ok {
		t.Fatalf("want 8 zombie children of the test, got %v", children(os.Getpid()))
	}
}

// mainChild returns the pid of the init's child whose parent is the init
// and that is not one of the orphans: the oldest child (lowest start time is
// the first pid in practice, but pids wrap; the command is the one in a
// process group of its own).
func mainChild(t *testing.T, initPid int) int {
	t.Helper()
	var pid int
	waitFor(3*time.Second, func() bool {
		for _, p := range children(initPid) {
			if p.pgrp == p.pid {
				pid = p.pid
				return true
			}
		}
		return false
	})
	if pid == 0 {
		t.Fatalf("no child of %d leads its process group: %v", initPid, children(initPid))
	}
	return pid
}

func TestChildInOwnProcessGroup(t *testing.T) {
	r := startInit(t, "--", testutil.TestProgram(t), "pause")
	r.expect("ready")
	kid := mainChild(t, r.pid())
	self, _ := readProc(r.pid())
	if self.pgrp != syscall.Getpgrp() {
		t.Errorf("the init moved to process group %d", self.pgrp)
	}
	if self.pgrp == kid {
		t.Errorf("the child shares the init's process group")
	}
	r.signal(syscall.SIGTERM)
	if code := r.wait(); code != 0 {
		t.Errorf("exit %d; stderr %q", code, r.stderr())
	}
}

func TestForwardsSignals(t *testing.T) {
	r := startInit(t, "--", testutil.TestProgram(t), "pause")
	r.expect("ready")
	for _, s := range []syscall.Signal{syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1,
		syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGCONT, syscall.SIGALRM, syscall.SIGINT} {
		r.signal(s)
		r.expect(unix.SignalName(s))
	}
	if code := r.wait(); code != 0 { // pause exits 0 after SIGINT
		t.Errorf("exit %d; stderr %q", code, r.stderr())
	}
}

// TestForwardsOtherSignals sends signals that would end or stop a Go
// program or a process without handlers (SIGSYS, SIGABRT, SIGTSTP, SIGPIPE,
// real-time ones) and those the init keeps (SIGURG, SIGTTIN, SIGTTOU): the
// init survives all of them, and the child sees only the first group.
func TestForwardsOtherSignals(t *testing.T) {
	forwarded := []string{"SYS", "ABRT", "TSTP", "PIPE", "XCPU", "PWR", "35", "40", "64"}
	script := "trap 'echo URG' URG; trap 'echo TTIN' TTIN; trap 'echo TTOU' TTOU; trap 'exit 9' TERM\n"
	for _, s := range forwarded {
		script += "trap 'echo " + s + "' " + s + "\n"
	}
	script += "echo ready; while :; do sleep 0.02; done"
	r := startInit(t, "--", "sh", "-c", script)
	r.expect("ready")
	for _, s := range []syscall.Signal{syscall.SIGURG, syscall.SIGTTIN, syscall.SIGTTOU} {
		r.signal(s)
	}
	for _, name := range forwarded {
		r.signal(signalNumber(t, name))
		r.expect(name) // not URG, TTIN or TTOU first
	}
	r.signal(syscall.SIGTERM)
	if code := r.wait(); code != 9 {
		t.Errorf("exit %d, want 9 from the TERM trap; stderr %q", code, r.stderr())
	}
}

func signalNumber(t *testing.T, name string) syscall.Signal {
	if n, err := strconv.Atoi(name); err == nil {
		return syscall.Signal(n)
	}
	s := unix.SignalNum("SIG" + name)
	if s == 0 {
		t.Fatalf("no signal %s", name)
	}
	return s
}

func TestExitCodeOfForwardedSignal(t *testing.T) {
	for _, tt := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGTERM, 143}, {syscall.SIGINT, 130}, {syscall.SIGHUP, 129}, {syscall.SIGKILL, 137}} {
		t.Run(unix.SignalName(tt.sig), func(t *testing.T) {
			r := startInit(t, "--", "sh", "-c", "echo ready; exec sleep 30")
			r.expect("ready")
			if tt.sig == syscall.SIGKILL { // not catchable: sent to the child
				if err := unix.Kill(mainChild(t, r.pid()), tt.sig); err != nil {
					t.Fatal(err)
				}
			} else {
				r.signal(tt.sig)
			}
			if code := r.wait(); code != tt.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.code, r.stderr())
			}
		})
	}
}

// groupScript starts a background sleep in its own process group (no job
// control in sh -c) and prints its pid.
const groupScript = "sleep 30 & echo $!; wait"

func TestKillGroup(t *testing.T) {
	for _, tt := range []struct {
		args      []string
		bgSurvive bool
	}{{[]string{"-g", "--"}, false}, {[]string{"--"}, true}} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := startInit(t, append(tt.args, "sh", "-c", groupScript)...)
			bg, err := strconv.Atoi(r.line())
			if err != nil {
				t.Fatal(err)
			}
			r.signal(syscall.SIGTERM)
			if code := r.wait(); code != 143 {
				t.Errorf("exit %d, want 143; stderr %q", code, r.stderr())
			}
			// The background sleep, if it lives, came back to the test.
			alive := func() bool { p, ok := readProc(bg); return ok && p.state != 'Z' }
			if !tt.bgSurvive && !waitFor(2*time.Second, func() bool { return !alive() }) {
				t.Errorf("background process %d of the group survived -g", bg)
			}
			if tt.bgSurvive && !alive() {
				t.Errorf("background process %d died without -g: was the group signalled?", bg)
			}
		})
	}
}

// TestChildSignalState: the child starts with no signal ignored or blocked
// even when the init was started with some ignored (here by sh's trap "").
func TestChildSignalState(t *testing.T) {
	const ignore = `trap "" INT QUIT USR1; exec "$@"`
	control := start(t, nil, "sh", "-c", ignore, "sh", "grep", "^Sig[IB]", "/proc/self/status")
	r := start(t, nil, "sh", "-c", ignore, "sh", initBinary(t), "--", "grep", "^Sig[IB]", "/proc/self/status")
	for _, c := range []*run{control, r} {
		if code := c.wait(); code != 0 {
			t.Fatalf("exit %d; stderr %q", code, c.stderr())
		}
	}
	if got := control.rest(); !slices.Contains(got, "SigIgn:\t0000000000000206") {
		t.Fatalf("control: trap \"\" INT QUIT USR1 did not ignore them: %q", got)
	}
	want := []string{"SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000"}
	if got := r.rest(); !slices.Equal(got, want) {
		t.Errorf("child's signal state %q, want %q", got, want)
	}
}

// TestSignalFlood: signals sent faster than the init handles them (some
// are dropped when its channel is full) neither stop it from seeing its
// child exit nor from exiting with the child's code. The flood is capped:
// queued real-time signals count against the user's RLIMIT_SIGPENDING,
// shared with every other process of root (timer_create fails with EAGAIN
// in other tests while the queue is full).
func TestSignalFlood(t *testing.T) {
	const floodMax = 4000
	var sigs []syscall.Signal
	trap := `trap "" USR1 USR2 HUP WINCH`
	for n := 35; n <= 64; n++ {
		sigs = append(sigs, syscall.Signal(n))
		trap += " " + strconv.Itoa(n)
	}
	sigs = append(sigs, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGHUP, syscall.SIGWINCH)
	r := startInit(t, "--", "sh", "-c", trap+"; echo ready; read line; exit 6")
	r.expect("ready")
	stop := make(chan struct{})
	flooded := make(chan int)
	go func() {
		n := 0
		defer func() { flooded <- n }()
		for n < floodMax {
			for _, s := range sigs {
				select {
				case <-stop:
					return
				default:
				}
				if unix.Kill(r.pid(), s) == nil {
					n++
				}
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	if _, err := r.stdin.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
	code := r.wait()
	close(stop)
	t.Logf("%d signals sent", <-flooded)
	if code != 6 {
		t.Errorf("exit %d, want 6; stderr %q", code, r.stderr())
	}
}
