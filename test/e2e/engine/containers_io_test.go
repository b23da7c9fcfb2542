package engine_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// background is a docker command the test lets run while it does other
// things.
type background struct {
	cmd  *exec.Cmd
	done chan struct{}
	code int

	// mu guards out.
	mu  sync.Mutex
	out bytes.Buffer
}

func (b *background) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.Write(p)
}

func (b *background) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

// dockerBG starts a docker command, stdout and stderr into one buffer; it
// is killed when the test ends if still running.
func (e *engine) dockerBG(t *testing.T, args ...string) *background {
	t.Helper()
	b := &background{cmd: exec.Command("docker", args...), done: make(chan struct{})}
	b.cmd.Env = append(append(os.Environ(), "CORRAL_HOST=", "DOCKER_HOST="), e.env...)
	b.cmd.Stdout, b.cmd.Stderr = b, b
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		if ee, ok := b.cmd.Wait().(*exec.ExitError); ok {
			b.code = ee.ExitCode()
		}
		close(b.done)
	}()
	t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			_ = b.cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

// waitOutput waits until the command has written s.
func (b *background) waitOutput(t *testing.T, s string) {
	t.Helper()
	eventually(t, 20*time.Second, strings.Join(b.cmd.Args, " ")+" to print "+s, func() bool {
		return strings.Contains(b.output(), s)
	})
}

// wait waits for the command to end.
func (b *background) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-b.done:
		return b.code
	case <-time.After(30 * time.Second):
		t.Fatalf("%v did not end; output:\n%s", b.cmd.Args, b.output())
		return -1
	}
}

// testLogs: logs of both streams, --tail, -t, --since, --until, and a
// terminal container's log. The lines are written 20 ms apart, so that
// each has a time of its own.
func testLogs(t *testing.T, e *engine) {
	n := e.name(t)
	e.ok(t, "run", "--name", n, "busybox", "sh", "-c", "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; sleep 0.02; done")
	r := e.docker(t, "", "logs", n)
	if r.stdout != "out1\nout2\nout3\nout4\nout5\n" || r.stderr != "err1\nerr2\nerr3\nerr4\nerr5\n" {
		t.Errorf("logs: %v", r)
	}
	if r := e.docker(t, "", "logs", "--tail", "2", n); r.stdout != "out5\n" || r.stderr != "err5\n" {
		t.Errorf("logs --tail 2: %v", r)
	}
	if r := e.docker(t, "", "logs", "--tail", "0", n); r.stdout != "" || r.stderr != "" {
		t.Errorf("logs --tail 0: %v", r)
	}
	r = e.docker(t, "", "logs", "-t", n)
	stamp := regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (out\d)$`)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var third string
	for i, l := range lines {
		m := stamp.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("logs -t line %q", l)
		}
		if i == 2 {
			third = m[1]
		}
	}
	if r := e.docker(t, "", "logs", "--since", third, n); r.stdout != "out3\nout4\nout5\n" {
		t.Errorf("logs --since %s: %v", third, r)
	}
	if r := e.docker(t, "", "logs", "--since", "1h", n); r.stdout != "out1\nout2\nout3\nout4\nout5\n" {
		t.Errorf("logs --since 1h: %v", r)
	}
	if r := e.docker(t, "", "logs", "--until", third, n); r.stdout != "out1\nout2\nout3\n" {
		t.Errorf("logs --until %s: %v", third, r)
	}
	tty := e.name(t)
	e.ok(t, "run", "-t", "--name", tty, "busybox", "sh", "-c", "echo a; echo b >&2")
	if r := e.docker(t, "", "logs", tty); r.stdout != "a\r\nb\r\n" || r.stderr != "" {
		t.Errorf("logs of a tty container: %v", r)
	}
	if msg := e.fails(t, 1, "logs", "nosuch-"+n); !strings.Contains(msg, "No such container: nosuch-"+n) {
		t.Errorf("logs of a missing container: %q", msg)
	}
}

// testLogsFollow: logs -f shows what exists, then what comes, and ends
// when the container exits; --tail 0 -f only what comes.
func testLogsFollow(t *testing.T, e *engine) {
	n := e.runD(t, "busybox", "sh", "-c", "echo first; while [ ! -e /tmp/next ]; do sleep 0.02; done; echo second; "+
		"while [ ! -e /tmp/stop ]; do sleep 0.02; done; echo last >&2; exit 2")
	e.waitLog(t, n, "first")
	all := e.dockerBG(t, "logs", "-f", n)
	all.waitOutput(t, "first\n")
	e.ok(t, "exec", n, "touch", "/tmp/next")
	all.waitOutput(t, "second\n")
	tail := e.dockerBG(t, "logs", "-f", "--tail", "0", n)
	e.ok(t, "exec", n, "touch", "/tmp/stop")
	if code := all.wait(t); code != 0 || all.output() != "first\nsecond\nlast\n" {
		t.Errorf("logs -f: exit %d, output %q", code, all.output())
	}
	if code := tail.wait(t); code != 0 || strings.Contains(tail.output(), "first") || strings.Contains(tail.output(), "second") {
		t.Errorf("logs -f --tail 0: exit %d, output %q", code, tail.output())
	}
	if c := e.inspect(t, n); c.State.ExitCode != 2 {
		t.Errorf("exit code %d", c.State.ExitCode)
	}
	start := time.Now()
	if out := e.logs(t, n, "-f"); out != "first\nsecond\nlast\n" || time.Since(start) > 5*time.Second {
		t.Errorf("logs -f of an exited container: %q after %v", out, time.Since(start))
	}
}

// testLargeOutput: a fast producer's output reaches docker run, exec and
// logs whole, as with dockerd, where a reader slower than the container
// slows the container down rather than losing output. docker run's output
// is read at about 3 MB/s, slower than the container writes it.
func testLargeOutput(t *testing.T, e *engine) {
	const size = 3 << 20
	want := base64Lines(make([]byte, size))
	script := fmt.Sprintf("head -c %d /dev/zero | base64", size)
	n := e.name(t)
	if out, code := e.slowRead(t, "run", "--name", n, "busybox", "sh", "-c", script); code != 0 || out != want {
		t.Errorf("docker run of %d bytes of base64, read slowly: exit %d, %d bytes out", len(want), code, len(out))
	}
	if out := e.logs(t, n); out != want {
		t.Errorf("docker logs: %d bytes, want %d", len(out), len(want))
	}
	x := e.runD(t, "busybox", "sleep", "1000")
	if out, code := e.slowRead(t, "exec", x, "sh", "-c", script); code != 0 || out != want {
		t.Errorf("docker exec, read slowly: exit %d, %d bytes out, want %d", code, len(out), len(want))
	}
}

// slowRead runs docker and reads its stdout 64 KiB every 20 ms.
func (e *engine) slowRead(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("docker", args...)
	cmd.Env = append(append(os.Environ(), "CORRAL_HOST=", "DOCKER_HOST="), e.env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		n, err := io.ReadFull(out, buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
		time.Sleep(20 * time.Millisecond) // a slow reader, not a synchronisation
	}
	code := 0
	if ee, ok := cmd.Wait().(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return got.String(), code
}

// base64Lines is b in base64 as base64(1) writes it: lines of 76.
func base64Lines(b []byte) string {
	enc := base64.StdEncoding.EncodeToString(b)
	var sb strings.Builder
	for len(enc) > 76 {
		sb.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	sb.WriteString(enc + "\n")
	return sb.String()
}

// testBinaryStdin: piped input is data, ctrl-p ctrl-q bytes included, to
// run -i and exec -i alike.
func testBinaryStdin(t *testing.T, e *engine) {
	in := strings.Repeat("a\x10\x11b\x00", 100000)
	r := e.docker(t, in, "run", "-i", "--rm", "busybox", "wc", "-c")
	if r.code != 0 || strings.TrimSpace(r.stdout) != strconv.Itoa(len(in)) {
		t.Errorf("run -i of %d bytes: %v", len(in), r)
	}
	n := e.runD(t, "busybox", "sleep", "1000")
	r = e.docker(t, in, "exec", "-i", n, "cat")
	if r.code != 0 || r.stdout != in {
		t.Errorf("exec -i cat of %d bytes: exit %d, %d bytes back", len(in), r.code, len(r.stdout))
	}
}
