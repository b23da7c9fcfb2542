package oci_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestStdinPassthrough(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r).args("cat")
	res := c.runC(func(cmd *exec.Cmd) { cmd.Stdin = strings.NewReader("hello\nworld\n") })
	if res.code != 0 || res.stdout != "hello\nworld\n" {
		t.Errorf("stdin piped to cat: %v", res)
	}
}

// After create, the container's stdio are the files create was given.
func TestCreateStdio(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r).args("sh", "-c", "echo to-out; echo to-err >&2")
	var errFile string
	r.track(c.id)
	res := r.exec(func(cmd *exec.Cmd) {
		c.out = cmd.Stdout.(*os.File).Name()
		errFile = cmd.Stderr.(*os.File).Name()
	}, "create", "--bundle", c.bundle, c.id)
	if res.code != 0 {
		t.Fatalf("create: %v", res)
	}
	r.must("start", c.id)
	c.waitStatus("stopped")
	if got := c.containerOut(); got != "to-out\n" {
		t.Errorf("container stdout %q", got)
	}
	contains(t, "container stderr", readFile(t, errFile), "to-err\n")
}

const ttyScript = `for i in 0 1 2; do readlink /proc/self/fd/$i; done; stty size; read x; echo "got:$x"`

func checkTTYOutput(t *testing.T, out string) {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(out, "\r", ""), "\n") {
		if l != "abc" { // the terminal's echo of our input, wherever it landed
			lines = append(lines, l)
		}
	}
	if len(lines) < 6 {
		t.Fatalf("terminal output %q", out)
	}
	for _, l := range lines[:3] {
		if !strings.HasPrefix(l, "/dev/pts/") {
			t.Errorf("stdio is %q, want the pty", l)
		}
	}
	if lines[3] != "40 100" {
		t.Errorf("stty size %q, want the consoleSize 40 100", lines[3])
	}
	contains(t, "terminal output", out, "got:abc")
}

func TestTerminalConsoleSocket(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Process.Terminal = true
	c.spec.Process.ConsoleSize = &specs.Box{Height: 40, Width: 100}
	c.args("sh", "-c", ttyScript)
	srv := newConsoleServer(t)
	c.mustCreate("--console-socket", srv.path)
	master := srv.getMaster(t)
	r.must("start", c.id)
	if _, err := master.Write([]byte("abc\n")); err != nil {
		t.Fatal(err)
	}
	checkTTYOutput(t, srv.output(t))
	c.waitStatus("stopped")
}

func TestTerminalRunDetached(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Process.Terminal = true
	c.spec.Process.ConsoleSize = &specs.Box{Height: 40, Width: 100}
	c.args("sh", "-c", ttyScript)
	srv := newConsoleServer(t)
	if res := c.runC(nil, "--detach", "--console-socket", srv.path); res.code != 0 {
		t.Fatalf("run -d: %v", res)
	}
	master := srv.getMaster(t)
	if _, err := master.Write([]byte("abc\n")); err != nil {
		t.Fatal(err)
	}
	checkTTYOutput(t, srv.output(t))
}

func TestTerminalWithoutSocketFails(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Process.Terminal = true
	c.args("true")
	if res := c.create(); res.code == 0 {
		t.Errorf("create of a terminal container without --console-socket succeeded: %v", res)
	}
	c.assertGone()
}

// fdList is what `testprog fds` prints.
type fdList []struct {
	FD     int    `json:"fd"`
	Target string `json:"target"`
}

func (l fdList) has(fd int) bool {
	for _, f := range l {
		if f.FD == fd {
			return true
		}
	}
	return false
}

func TestPreserveFDs(t *testing.T) {
	t.Parallel()
	extra := filepath.Join(t.TempDir(), "extra")
	writeFile(t, extra, "through-fd-3\n")
	withExtra := func(cmd *exec.Cmd) {
		f, err := os.Open(extra)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		cmd.ExtraFiles = []*os.File{f}
	}
	r := newRT(t)
	c := newCtr(t, r).args("sh", "-c", "cat <&3")
	if res := c.runC(withExtra, "--preserve-fds", "1"); res.code != 0 || res.stdout != "through-fd-3\n" {
		t.Errorf("--preserve-fds 1: %v", res)
	}
	for _, preserve := range []string{"0", "1"} {
		c := newCtr(t, r).args("/bin/testprog", "fds")
		res := c.runC(withExtra, "--preserve-fds", preserve)
		var fds fdList
		if err := json.Unmarshal([]byte(res.stdout), &fds); err != nil {
			t.Fatalf("testprog fds: %v: %v", err, res)
		}
		if !fds.has(0) || !fds.has(1) || !fds.has(2) || fds.has(3) != (preserve == "1") || len(fds) > 4 {
			t.Errorf("--preserve-fds %s: the process has fds %+v", preserve, fds)
		}
	}
}

func TestPidFile(t *testing.T) {
	t.Parallel()
	for _, verb := range []string{"create", "run"} {
		r := newRT(t)
		c := newCtr(t, r).args("sleep", "1000")
		pidFile := filepath.Join(t.TempDir(), "pid")
		if verb == "create" {
			c.mustCreate("--pid-file", pidFile)
		} else if res := c.runC(nil, "--detach", "--pid-file", pidFile); res.code != 0 {
			t.Fatalf("run -d: %v", res)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, pidFile)))
		if st := c.state(); err != nil || pid != st.Pid {
			t.Errorf("%s --pid-file holds %q, state pid %d", verb, readFile(t, pidFile), st.Pid)
		}
	}
}

func TestRunDetach(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r).args("sleep", "1000")
	start := time.Now()
	if res := c.runC(nil, "--detach"); res.code != 0 {
		t.Fatalf("run -d: %v", res)
	}
	// The process sleeps 1000 s: a run -d that waited for it would take
	// that long; the bound leaves room for a slow machine (the VM).
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("run -d took %v", d)
	}
	st := c.state()
	if st.Status != "running" || !alive(st.Pid) {
		t.Errorf("after run -d: %+v", st)
	}
	r.must("kill", c.id, "KILL")
	c.waitStatus("stopped")
	r.must("delete", c.id)
	c.assertGone()
}

// The runtime must not chown a device given as the container's stdio to
// process.user (crun 1.8.1 did that to the host's /dev/null). The test uses a
// null device node of its own.
func TestStdioDeviceNotChowned(t *testing.T) {
	t.Parallel()
	null := filepath.Join(t.TempDir(), "null")
	must(t, unix.Mknod(null, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(t, os.Chmod(null, 0o666))
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Process.User = specs.User{UID: 1000, GID: 1000}
	c.args("sh", "-c", "echo hi")
	res := c.runC(func(cmd *exec.Cmd) {
		f, err := os.OpenFile(null, os.O_RDWR, 0)
		must(t, err)
		t.Cleanup(func() { f.Close() })
		cmd.Stdin = f
	})
	if res.code != 0 || res.stdout != "hi\n" {
		t.Errorf("run: %v", res)
	}
	var st unix.Stat_t
	must(t, unix.Stat(null, &st))
	if st.Uid != 0 || st.Gid != 0 || st.Mode&0o777 != 0o666 {
		t.Errorf("the stdin device became %d:%d mode %o", st.Uid, st.Gid, st.Mode&0o777)
	}
}
