package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/corral-dev/corral/testutil"
	"golang.org/x/sys/unix"
)

// The tests run the built binary, static and stripped as install.sh builds
// it, the way an engine would. The test process makes itself a child
// subreaper, so that a process that outlives the init it ran under comes
// back to the test (and not to this VM's pid 1, which does not reap): each
// test counts and kills such leftovers (adopted) when it ends.

func TestMain(m *testing.M) {
	code := testutil.Sandbox(m)
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

var built struct {
	once      sync.Once
	dir, path string
	err       error
}

// maxSize bounds the stripped binary: a heavy import (fmt, net...) would
// show here first.
const maxSize = 2 << 20

// initBinary builds cmd/corral-init once per test process, with
// CGO_ENABLED=0 and -ldflags=-s -w, and returns its path.
func initBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "corral-init-test-"); built.err != nil {
			return
		}
		if built.err = os.Chmod(built.dir, 0o755); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "corral-init")
		cmd := exec.Command("go", "build", "-buildvcs=false", "-trimpath", "-ldflags=-s -w", "-o", built.path, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = &buildError{err: err, out: string(out)}
		}
	})
	if built.err != nil {
		t.Fatalf("build corral-init: %v", built.err)
	}
	becomeSubreaper(t)
	return built.path
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

var subreaper sync.Once

func becomeSubreaper(t *testing.T) {
	subreaper.Do(func() {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			t.Fatalf("become subreaper: %v", err)
		}
	})
	t.Cleanup(func() {
		if n := adopted(t); n > 0 {
			t.Logf("killed %d process(es) left behind", n)
		}
	})
}

// adopted kills and reaps the processes that were reparented to the test
// (every child it has once its commands are waited for), and returns how
// many there were.
func adopted(t *testing.T) int {
	t.Helper()
	kids := children(os.Getpid())
	for _, p := range kids {
		_ = unix.Kill(p.pid, unix.SIGKILL)
		var ws unix.WaitStatus
		if _, err := unix.Wait4(p.pid, &ws, 0, nil); err != nil {
			t.Errorf("reap leftover %d (%s): %v", p.pid, p.comm, err)
		}
	}
	return len(kids)
}

func TestBinaryStaticAndSmall(t *testing.T) {
	bin := initBinary(t)
	testutil.RequireStatic(t, bin)
	st, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("size of the stripped binary: %d bytes", st.Size())
	if st.Size() > maxSize {
		t.Errorf("corral-init is %d bytes, more than %d: a heavy import?", st.Size(), maxSize)
	}
}

// proc is a process as /proc/PID/stat shows it.
type proc struct {
	pid, ppid, pgrp int
	state           byte
	comm            string
}

func (p proc) String() string {
	return strconv.Itoa(p.pid) + " " + p.comm + " (" + string(p.state) + ")"
}

// readProc reads /proc/pid/stat; ok is false when the process is gone.
func readProc(pid int) (proc, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, false
	}
	s := string(data)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return proc{}, false
	}
	f := strings.Fields(s[end+1:]) // state ppid pgrp ...
	if len(f) < 3 {
		return proc{}, false
	}
	p := proc{pid: pid, comm: s[open+1 : end], state: f[0][0]}
	p.ppid, _ = strconv.Atoi(f[1])
	p.pgrp, _ = strconv.Atoi(f[2])
	return p, true
}

// children returns the processes whose parent is pid, zombies included.
func children(pid int) []proc {
	entries, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(n); ok && p.ppid == pid {
			out = append(out, p)
		}
	}
	return out
}

func zombies(ps []proc) []proc {
	var out []proc
	for _, p := range ps {
		if p.state == 'Z' {
			out = append(out, p)
		}
	}
	return out
}

// run is an init (or a control command) started by a test. Its stdout is a
// pipe read line by line and its stderr a file, so that waiting for it does
// not depend on a process it left behind closing them.
type run struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan string
	errLog string
	stdin  io.WriteCloser
	done   chan struct{}
}

// start starts name with args.
func start(t *testing.T, attr *syscall.SysProcAttr, name string, args ...string) *run {
	t.Helper()
	r := &run{t: t, cmd: exec.Command(name, args...), lines: make(chan string, 64), done: make(chan struct{})}
	r.cmd.SysProcAttr = attr
	r.errLog = filepath.Join(t.TempDir(), "stderr")
	stderr, err := os.Create(r.errLog)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	r.cmd.Stdout, r.cmd.Stderr = pw, stderr
	if r.stdin, err = r.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		defer pr.Close()
		defer close(r.lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = r.cmd.Process.Kill()
			_ = r.cmd.Wait()
		}
	})
	return r
}

// stderr returns what the process wrote to stderr so far.
func (r *run) stderr() string {
	data, _ := os.ReadFile(r.errLog)
	return string(data)
}

// startInit starts the built corral-init with args.
func startInit(t *testing.T, args ...string) *run {
	t.Helper()
	return start(t, nil, initBinary(t), args...)
}

func (r *run) pid() int { return r.cmd.Process.Pid }

// line returns the next line of output, failing after a few seconds.
func (r *run) line() string {
	r.t.Helper()
	select {
	case l, ok := <-r.lines:
		if !ok {
			r.t.Fatalf("output ended early; stderr: %s", r.stderr())
		}
		return l
	case <-time.After(5 * time.Second):
		r.t.Fatalf("no output line in 5s; stderr: %s", r.stderr())
	}
	return ""
}

func (r *run) expect(want string) {
	r.t.Helper()
	if got := r.line(); got != want {
		r.t.Fatalf("output %q, want %q; stderr: %s", got, want, r.stderr())
	}
}

func (r *run) signal(s syscall.Signal) {
	r.t.Helper()
	if err := unix.Kill(r.pid(), s); err != nil {
		r.t.Fatalf("kill %d %v: %v", r.pid(), s, err)
	}
}

// wait waits for the process (at most 10s) and returns its exit code,
// shell style.
func (r *run) wait() int {
	r.t.Helper()
	_ = r.stdin.Close()
	errc := make(chan error, 1)
	go func() { errc <- r.cmd.Wait() }()
	select {
	case <-errc:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-errc
		r.t.Fatalf("%s did not exit in 10s; stderr: %s", r.cmd.Path, r.stderr())
	}
	close(r.done)
	ws := r.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// waitFor polls cond every 10ms for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// rest returns the lines not read yet, up to the end of the output (at
// most 5s).
func (r *run) rest() []string {
	r.t.Helper()
	var out []string
	timeout := time.After(5 * time.Second)
	for {
		select {
		case l, ok := <-r.lines:
			if !ok {
				return out
			}
			out = append(out, l)
		case <-timeout:
			r.t.Fatalf("output did not end in 5s; got %q", out)
		}
	}
}
