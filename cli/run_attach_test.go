package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/term"
)

func TestAttach(t *testing.T) {
	f := newCtrFake(t)
	f.proc = echoProc
	// The container runs already: the daemon's side starts at once.
	close(f.started)
	out, errOut, code := runCLI(f, "typed\n", "attach", "web")
	if code != 3 || out != "typed\nhello\n" || errOut != "oops\n" {
		t.Errorf("attach: exit %d, out %q, err %q", code, out, errOut)
	}
	want := "wait web \ninspect web\nattach web stream=true stdin=true stdout=true stderr=true keys=\ninspect web"
	if got := f.callList(); got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}

	f = newCtrFake(t)
	close(f.started)
	f.proc = echoProc
	out, _, code = runCLI(f, "typed\n", "attach", "--no-stdin", "--detach-keys", "ctrl-x", "web")
	if code != 3 || out != "hello\n" || !strings.Contains(f.callList(), "stdin=false stdout=true stderr=true keys=ctrl-x") {
		t.Errorf("attach --no-stdin: exit %d, out %q, calls:\n%s", code, out, f.callList())
	}
}

func TestAttachRefusals(t *testing.T) {
	tests := []struct {
		running, paused bool
		name, err       string
	}{
		{false, false, "web", "You cannot attach to a stopped container, start it first\n"},
		{true, true, "web", "You cannot attach to a paused container, unpause it first\n"},
		{true, false, "nosuch", "Error response from daemon: No such container: nosuch\n"},
	}
	for _, tt := range tests {
		f := newCtrFake(t)
		f.running, f.paused = tt.running, tt.paused
		_, errOut, code := runCLI(f, "", "attach", tt.name)
		if code != 1 || errOut != tt.err {
			t.Errorf("attach to %s (running %v, paused %v): exit %d, %q", tt.name, tt.running, tt.paused, code, errOut)
		}
	}
	f := newCtrFake(t)
	f.tty = true
	_, errOut, code := runCLI(f, "", "attach", "web")
	if code != 1 || errOut != "the input device is not a TTY\n" {
		t.Errorf("attach to a TTY without a terminal: exit %d, %q", code, errOut)
	}
}

func TestStart(t *testing.T) {
	f := newCtrFake(t)
	out, errOut, code := runCLI(f, "", "start", "web", "nosuch", "other")
	if code != 1 || out != "web\nother\n" ||
		errOut != "Error response from daemon: No such container: nosuch\nError: failed to start containers: nosuch\n" {
		t.Errorf("start: exit %d, out %q, err %q", code, out, errOut)
	}

	f = newCtrFake(t)
	f.proc = echoProc
	out, errOut, code = runCLI(f, "in\n", "start", "-a", "-i", "web")
	if code != 3 || out != "in\nhello\n" || errOut != "oops\n" {
		t.Errorf("start -ai: exit %d, out %q, err %q", code, out, errOut)
	}
	want := "inspect web\nattach " + ctrID + " stream=true stdin=true stdout=true stderr=true keys=\n" +
		"wait " + ctrID + " next-exit\nstart " + ctrID
	if got := f.callList(); got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}

	_, errOut, code = runCLI(newCtrFake(t), "", "start", "-a", "a", "b")
	if code != 1 || errOut != "you cannot start and attach multiple containers at once\n" {
		t.Errorf("start -a of two: exit %d, %q", code, errOut)
	}
	f = newCtrFake(t)
	f.startErr = errors.New("Error response from daemon: cannot start")
	_, errOut, code = runCLI(f, "", "start", "-a", "web")
	if code != 1 || errOut != "Error response from daemon: cannot start\n" {
		t.Errorf("start -a failing: exit %d, %q", code, errOut)
	}
}

// openPTY is a pseudo-terminal of the given size for the test.
func openPTY(t *testing.T, rows, cols uint16) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	t.Cleanup(func() {
		ptmx.Close()
		tty.Close()
	})
	if err := pty.Setsize(tty, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		t.Fatal(err)
	}
	return ptmx, tty
}

// TestRunTTYDetach is `corral run -it` on a terminal: the terminal is raw
// while the container runs (what is typed reaches it at once and is not
// echoed by the terminal), the container's TTY gets the terminal's size,
// and ctrl-p ctrl-q detaches with exit 0, the keys kept from the
// container; the terminal is restored after.
func TestRunTTYDetach(t *testing.T) {
	for _, keys := range []struct{ flag, typed string }{{"", "\x10\x11"}, {"ctrl-x,x", "\x18x"}} {
		ptmx, tty := openPTY(t, 30, 100)
		before, err := term.GetState(int(tty.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		f := newCtrFake(t)
		f.tty = true
		got := make(chan string, 1)
		f.proc = func(_ *ctrFake, stdin io.Reader, stdout, _ io.Writer) int {
			_, _ = io.WriteString(stdout, "$ ")
			b, _ := io.ReadAll(stdin) // until the client goes
			got <- string(b)
			return 0
		}
		go func() {
			// Type once the prompt is there: the terminal is raw by then.
			buf := make([]byte, 64)
			var seen []byte
			for !bytes.Contains(seen, []byte("$ ")) {
				n, err := ptmx.Read(buf)
				if err != nil {
					return
				}
				seen = append(seen, buf[:n]...)
			}
			_, _ = io.WriteString(ptmx, "ls\r"+keys.typed)
		}()
		args := []string{"run", "-it"}
		if keys.flag != "" {
			args = append(args, "--detach-keys", keys.flag)
		}
		var errb bytes.Buffer
		code := Main(append(args, "busybox", "sh"), Options{
			Connect: func(context.Context, Globals) (ImageAPI, error) { return f, nil },
			In:      tty, Out: tty, Err: &errb,
		})
		if code != 0 || errb.String() != "" {
			t.Errorf("detach %q: exit %d, %q", keys.typed, code, errb.String())
		}
		if s := <-got; s != "ls\r" {
			t.Errorf("detach %q: the container read %q", keys.typed, s)
		}
		if !strings.Contains(f.callList(), "resize "+ctrID+" 30x100") ||
			!strings.Contains(f.callList(), "keys="+keys.flag+"\n") {
			t.Errorf("calls:\n%s", f.callList())
		}
		if f.created.HostConfig.ConsoleSize != [2]uint{30, 100} {
			t.Errorf("console size %v", f.created.HostConfig.ConsoleSize)
		}
		after, err := term.GetState(int(tty.Fd()))
		if err != nil || *after != *before {
			t.Errorf("terminal not restored: %v", err)
		}
	}
}

// TestAttachDetach is docker's attach on a TTY: detaching prints "read
// escape sequence" and exits 1.
func TestAttachDetach(t *testing.T) {
	ptmx, tty := openPTY(t, 24, 80)
	f := newCtrFake(t)
	f.tty = true
	close(f.started)
	f.proc = func(_ *ctrFake, stdin io.Reader, stdout, _ io.Writer) int {
		_, _ = io.WriteString(stdout, "$ ")
		_, _ = io.Copy(io.Discard, stdin)
		return 0
	}
	go func() {
		buf := make([]byte, 64)
		var seen []byte
		for !bytes.Contains(seen, []byte("$ ")) {
			n, err := ptmx.Read(buf)
			if err != nil {
				return
			}
			seen = append(seen, buf[:n]...)
		}
		_, _ = io.WriteString(ptmx, "\x10\x11")
	}()
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"attach", "web"}, Options{
			Connect: func(context.Context, Globals) (ImageAPI, error) { return f, nil },
			In:      tty, Out: tty, Err: &errb,
		})
	}()
	select {
	case code := <-done:
		if code != 1 || errb.String() != "read escape sequence\n" {
			t.Errorf("attach detach: exit %d, %q", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("attach did not detach")
	}
	// The redraw trick: one more row and column, then the real size.
	if !strings.Contains(f.callList(), "resize web 25x81\nresize web 24x80") {
		t.Errorf("calls:\n%s", f.callList())
	}
}

func TestEscapeProxy(t *testing.T) {
	keys := []byte{16, 17}
	tests := []struct {
		in, out  string
		detached bool
	}{
		{"hello", "hello", false},
		{"ab\x10\x11cd", "ab", true},
		{"a\x10b", "a\x10b", false},
		{"a\x10\x10\x11", "a\x10", true},
		{"a\x10", "a\x10", false},
		{"\x11\x10", "\x11\x10", false},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 2, 64} {
			p := &escapeProxy{r: &chunkReader{s: tt.in, n: chunk}, keys: keys}
			var out bytes.Buffer
			_, err := io.Copy(&out, p)
			if out.String() != tt.out || errors.Is(err, errDetached) != tt.detached || !tt.detached && err != nil {
				t.Errorf("%q in reads of %d: out %q err %v", tt.in, chunk, out.String(), err)
			}
		}
	}
}

// chunkReader reads s at most n bytes at a time.
type chunkReader struct {
	s string
	n int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.n)], r.s)
	r.s = r.s[n:]
	return n, nil
}

func TestParseDetachKeys(t *testing.T) {
	tests := []struct {
		in   string
		want []byte
		err  string
	}{
		{"ctrl-p,ctrl-q", []byte{16, 17}, ""},
		{"ctrl-a,a,DEL", []byte{1, 'a', 127}, ""},
		{"ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", []byte{0, 27, 28, 29, 30, 31}, ""},
		{"ctrl-1", nil, "Unknown character: 'ctrl-1'"},
		{"ab", nil, "Unknown character: 'ab'"},
	}
	for _, tt := range tests {
		got, err := parseDetachKeys(tt.in)
		if errStr(err) != tt.err || !bytes.Equal(got, tt.want) {
			t.Errorf("parseDetachKeys(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func errStr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestMonitorTTYSize checks the first resize's retries (a process whose
// TTY is not there yet) and the resize on SIGWINCH.
func TestMonitorTTYSize(t *testing.T) {
	_, tty := openPTY(t, 12, 34)
	c := newCLI(Options{Out: tty})
	var mu sync.Mutex
	attempts := 0
	sizes := make(chan string, 8)
	resize := func(_ context.Context, h, w int) error {
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if attempts < 3 {
			return errors.New("no tty yet")
		}
		sizes <- fmt.Sprintf("%dx%d", h, w)
		return nil
	}
	var errb bytes.Buffer
	stop := c.monitorTTYSize(context.Background(), resize, &errb)
	defer stop()
	if s := <-sizes; s != "12x34" {
		t.Errorf("first size %s", s)
	}
	if err := pty.Setsize(tty, &pty.Winsize{Rows: 50, Cols: 60}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	if s := <-sizes; s != "50x60" {
		t.Errorf("size after SIGWINCH %s", s)
	}
	if errb.Len() != 0 {
		t.Errorf("stderr %q", errb.String())
	}
}
