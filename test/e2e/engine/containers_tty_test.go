package engine_test

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/moby/moby/api/types/container"
)

// dockerTTY runs the docker CLI on a new pseudo-terminal of rows×cols; the
// command is killed when the test ends, if still running.
func (e *engine) dockerTTY(t *testing.T, rows, cols uint16, args ...string) *terminal {
	t.Helper()
	cmd := exec.Command("docker", args...)
	cmd.Env = append(os.Environ(), "CORRAL_HOST=", "DOCKER_HOST=", "TERM=xterm")
	cmd.Env = append(cmd.Env, e.env...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		t.Fatal(err)
	}
	tm := &terminal{cmd: cmd, pty: f, done: make(chan struct{})}
	go tm.read()
	go func() {
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			tm.code = ee.ExitCode()
		}
		close(tm.done)
	}()
	t.Cleanup(func() {
		tm.hup()
		f.Close()
	})
	return tm
}

// terminal is a command running on a pseudo-terminal the test holds.
type terminal struct {
	cmd  *exec.Cmd
	pty  *os.File
	done chan struct{}
	code int

	// mu guards out.
	mu  sync.Mutex
	out bytes.Buffer
}

// read collects the terminal's output until the command ends.
func (tm *terminal) read() {
	buf := make([]byte, 4096)
	for {
		n, err := tm.pty.Read(buf)
		tm.mu.Lock()
		tm.out.Write(buf[:n])
		tm.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// output is what the terminal showed so far.
func (tm *terminal) output() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

// expect waits until the terminal has shown s.
func (tm *terminal) expect(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(tm.output(), s) {
		select {
		case <-tm.done:
			time.Sleep(50 * time.Millisecond) // the reader's last bytes
			if !strings.Contains(tm.output(), s) {
				t.Fatalf("%v exited (%d) without showing %q; it showed:\n%q", tm.cmd.Args, tm.code, s, tm.output())
			}
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v did not show %q; it showed:\n%q", tm.cmd.Args, s, tm.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// send types s.
func (tm *terminal) send(t *testing.T, s string) {
	t.Helper()
	if _, err := tm.pty.Write([]byte(s)); err != nil {
		t.Fatalf("type %q: %v", s, err)
	}
}

// wait waits for the command to end and returns its exit code.
func (tm *terminal) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-tm.done:
		return tm.code
	case <-time.After(30 * time.Second):
		tm.hup()
		t.Fatalf("%v did not end; it showed:\n%q", tm.cmd.Args, tm.output())
		return -1
	}
}

// hup kills the command if it still runs.
func (tm *terminal) hup() {
	select {
	case <-tm.done:
	default:
		_ = tm.cmd.Process.Signal(syscall.SIGKILL)
		<-tm.done
	}
}

// testRunInteractive: run -it on a terminal (size, tty, exit code, --rm),
// and run -i with piped input.
func testRunInteractive(t *testing.T, e *engine) {
	n := e.name(t)
	tm := e.dockerTTY(t, 30, 100, "run", "-it", "--rm", "--name", n, "busybox", "sh")
	tm.expect(t, "# ")
	tm.send(t, "stty size; tty; echo sum-$((40+2))\r")
	tm.expect(t, "sum-42")
	out := tm.output()
	if !strings.Contains(out, "30 100") || !strings.Contains(out, "/dev/pts/0") {
		t.Errorf("stty size; tty on run -it:\n%q", out)
	}
	tm.send(t, "exit 4\r")
	if code := tm.wait(t); code != 4 {
		t.Errorf("run -it: exit %d, want 4", code)
	}
	if e.exists(t, n) {
		t.Errorf("run -it --rm: %s still exists", n)
	}
	r := e.docker(t, "line one\nline two\n", "run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo eof")
	if r.code != 0 || r.stdout != "line one\nline two\neof\n" {
		t.Errorf("run -i with piped input: %v", r)
	}
}

// testExecInteractive: exec -it on a terminal, exec -i with piped input.
func testExecInteractive(t *testing.T, e *engine) {
	n := e.runD(t, "busybox", "sleep", "1000")
	tm := e.dockerTTY(t, 40, 120, "exec", "-it", n, "sh")
	tm.expect(t, "# ")
	tm.send(t, "stty size; echo prod-$((6*7))\r")
	tm.expect(t, "prod-42")
	if !strings.Contains(tm.output(), "40 120") {
		t.Errorf("stty size in exec -it:\n%q", tm.output())
	}
	tm.send(t, "exit 3\r")
	if code := tm.wait(t); code != 3 {
		t.Errorf("exec -it: exit %d, want 3", code)
	}
	r := e.docker(t, "piped\n", "exec", "-i", n, "sh", "-c", "cat; exit 5")
	if r.code != 5 || r.stdout != "piped\n" {
		t.Errorf("exec -i: %v", r)
	}
}

// testAttachDetach: detach from run -it with ctrl-p ctrl-q (exit 0, the
// container runs on); attach, type, detach (docker attach then says "read
// escape sequence" and exits 1, as with dockerd), again with custom keys;
// last end the shell: attach returns its exit code.
func testAttachDetach(t *testing.T, e *engine) {
	n := e.name(t)
	tm := e.dockerTTY(t, 24, 80, "run", "-it", "--name", n, "busybox", "sh")
	tm.send(t, "echo run-$((1+1))\r")
	tm.expect(t, "run-2")
	tm.send(t, "\x10\x11")
	if code := tm.wait(t); code != 0 {
		t.Errorf("run -it after ctrl-p ctrl-q: exit %d:\n%q", code, tm.output())
	}
	if c := e.inspect(t, n); !c.State.Running {
		t.Fatalf("%s stopped after a detach: %+v", n, c.State)
	}
	tm = e.dockerTTY(t, 24, 80, "attach", n)
	tm.send(t, "echo att-$((2+3))\r")
	tm.expect(t, "att-5")
	tm.send(t, "\x10\x11")
	tm.expect(t, "read escape sequence")
	if code := tm.wait(t); code != 1 {
		t.Errorf("attach after ctrl-p ctrl-q: exit %d:\n%q", code, tm.output())
	}
	tm = e.dockerTTY(t, 24, 80, "attach", "--detach-keys", "ctrl-x,x", n)
	tm.send(t, "echo again-$((3+4))\r")
	tm.expect(t, "again-7")
	tm.send(t, "\x18x")
	tm.expect(t, "read escape sequence")
	if code := tm.wait(t); code != 1 {
		t.Errorf("attach after ctrl-x x: exit %d", code)
	}
	if c := e.inspect(t, n); !c.State.Running {
		t.Fatalf("%s stopped after a detach: %+v", n, c.State)
	}
	tm = e.dockerTTY(t, 24, 80, "attach", n)
	tm.send(t, "echo last-$((4+4))\r")
	tm.expect(t, "last-8")
	tm.send(t, "exit 7\r")
	if code := tm.wait(t); code != 7 {
		t.Errorf("attach to a shell that exits 7: exit %d", code)
	}
	c := e.waitState(t, n, "exited", func(c container.InspectResponse) bool { return !c.State.Running })
	if c.State.ExitCode != 7 {
		t.Errorf("exit code %d, want 7", c.State.ExitCode)
	}
}
