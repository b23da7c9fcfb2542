package monitor_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/monitor"
	"github.com/corral-dev/corral/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestPipes: Start's client knows the init's pid; a client attached
// before start gets stdout and stderr apart from the first byte; the exit
// code is recorded; the log has both streams; the monitor then exits.
func TestPipes(t *testing.T) {
	ct := newContainer(t, sh("echo first; echo oops >&2; echo second; exit 3"), nil)
	s := ct.attach(false)
	st, err := ct.c.Status(ctx(t))
	if err != nil || st.State != monitor.StateCreated || st.Pid <= 0 {
		t.Fatalf("status before start = %+v, %v", st, err)
	}
	if got := ct.c.InitPid(); got != st.Pid {
		t.Errorf("InitPid from the monitor's report = %d, status says %d", got, st.Pid)
	}
	ct.start()
	stdout, stderr := demux(t, s)
	if stdout != "first\nsecond\n" || stderr != "oops\n" {
		t.Errorf("attached output: stdout %q, stderr %q", stdout, stderr)
	}
	ex := ct.wait()
	if ex.ExitCode != 3 || ex.OOMKilled || ex.ExitedAt.IsZero() || ex.StartedAt.IsZero() {
		t.Errorf("exit = %+v, want code 3", ex)
	}
	got, err := monitor.ReadExit(stateDir, ct.cfg.ID)
	if err != nil || got.ExitCode != 3 {
		t.Errorf("exit file = %+v, %v", got, err)
	}
	log := logLines(t, ct.cfg)
	for _, l := range []string{"first\n", "oops\n", "second\n"} {
		contains(t, "log", log, l)
	}
	waitGone(t, ct.cfg.Dir()+"/monitor.sock")
	// After the monitor exited, the client answers from the exit file.
	if st, err := ct.c.Status(ctx(t)); err != nil || st.State != monitor.StateExited || st.Exit.ExitCode != 3 {
		t.Errorf("status after exit = %+v, %v", st, err)
	}
	if _, err := monitor.Connect(ctx(t), stateDir, ct.cfg.ID); err == nil {
		t.Error("Connect to an exited monitor succeeded")
	}
}

// TestFirstBytes: output written the moment the process starts reaches a
// client that attached before start, and only the streams it asked for.
func TestFirstBytes(t *testing.T) {
	ct := newContainer(t, sh("printf x; printf y >&2"), nil)
	s, err := ct.c.Attach(ctx(t), monitor.AttachOptions{Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ct.start()
	if stdout, stderr := demux(t, s); stdout != "x" || stderr != "" {
		t.Errorf("stdout-only attach got %q / %q", stdout, stderr)
	}
	ct.wait()
	// A partial last line is logged too.
	contains(t, "log", logLines(t, ct.cfg), "y")
}

// TestTTY: with a terminal the output is raw, the initial size applies,
// resize works, and stdin reaches the process.
func TestTTY(t *testing.T) {
	ct := newContainer(t, sh("stty size; read line; echo got $line; stty size"), func(s *specs.Spec, c *monitor.Config) {
		s.Process.Terminal = true
		c.OpenStdin, c.StdinOnce, c.ConsoleSize = true, true, [2]uint16{24, 80}
	})
	s := ct.attach(true)
	ct.start()
	r := bufio.NewReader(s)
	expectLine(t, r, "24 80")
	if err := ct.c.Resize(ctx(t), 30, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("hello\r")); err != nil {
		t.Fatal(err)
	}
	expectLine(t, r, "hello") // the terminal's echo
	expectLine(t, r, "got hello")
	expectLine(t, r, "30 100")
	rest, _ := io.ReadAll(r)
	if len(rest) != 0 {
		t.Errorf("more output: %q", rest)
	}
	if ex := ct.wait(); ex.ExitCode != 0 {
		t.Errorf("exit %d", ex.ExitCode)
	}
	contains(t, "log", logLines(t, ct.cfg), "got hello\r\n")
}

func expectLine(t *testing.T, r *bufio.Reader, want string) {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		l, _ := r.ReadString('\n')
		done <- l
	}()
	select {
	case l := <-done:
		if strings.TrimRight(l, "\r\n") != want {
			t.Fatalf("line %q, want %q", l, want)
		}
	case <-time.After(testTimeout):
		t.Fatalf("no line %q", want)
	}
}

// TestStdinHalfClose: `echo data | docker run -i cat`: the client ends
// its input, cat sees EOF and exits, and its output still arrives.
func TestStdinHalfClose(t *testing.T) {
	ct := newContainer(t, []string{"cat"}, func(_ *specs.Spec, c *monitor.Config) {
		c.OpenStdin, c.StdinOnce = true, true
	})
	s := ct.attach(true)
	ct.start()
	big := strings.Repeat("0123456789abcdef", 16<<10) // 256 KiB, past any pipe buffer
	go func() {
		s.Write([]byte("hello\n" + big))
		s.CloseStdin()
	}()
	stdout, _ := demux(t, s)
	if stdout != "hello\n"+big {
		t.Errorf("cat echoed %d bytes, want %d", len(stdout), len(big)+6)
	}
	if ex := ct.wait(); ex.ExitCode != 0 {
		t.Errorf("exit %d", ex.ExitCode)
	}
}

// TestStdinOnceDetach: a client that detaches with its input open closes
// the container's stdin (StdinOnce); without StdinOnce stdin stays open
// for the next client.
func TestStdinOnceDetach(t *testing.T) {
	ct := newContainer(t, sh("cat; echo cat-ended"), func(_ *specs.Spec, c *monitor.Config) {
		c.OpenStdin = true
	})
	watch := ct.attach(false)
	ct.start()
	first := ct.attach(true)
	first.Write([]byte("one\n"))
	r := bufio.NewReader(watch)
	expectFrame(t, r, "one\n")
	first.Close() // detach: no StdinOnce, stdin stays open
	second := ct.attach(true)
	second.Write([]byte("two\n"))
	expectFrame(t, r, "two\n")
	second.CloseStdin() // no StdinOnce: only this client's input ends
	third := ct.attach(true)
	third.Write([]byte("three\n"))
	expectFrame(t, r, "three\n")
	ct.c.Signal(ctx(t), syscall.SIGKILL, false)
	ct.wait()

	once := newContainer(t, sh("cat; echo cat-ended"), func(_ *specs.Spec, c *monitor.Config) {
		c.OpenStdin, c.StdinOnce = true, true
	})
	watch = once.attach(false)
	once.start()
	first = once.attach(true)
	first.Write([]byte("one\n"))
	r = bufio.NewReader(watch)
	expectFrame(t, r, "one\n")
	first.Close() // detach closes stdin
	expectFrame(t, r, "cat-ended\n")
	once.wait()
}

// expectFrame reads one stdout frame.
func expectFrame(t *testing.T, r *bufio.Reader, want string) {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		var h [8]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			done <- "error: " + err.Error()
			return
		}
		b := make([]byte, int(h[4])<<24|int(h[5])<<16|int(h[6])<<8|int(h[7]))
		io.ReadFull(r, b)
		done <- string(b)
	}()
	select {
	case got := <-done:
		if got != want {
			t.Fatalf("frame %q, want %q", got, want)
		}
	case <-time.After(testTimeout):
		t.Fatalf("no frame %q", want)
	}
}

// TestOOM: a container killed for memory is recorded as OOM-killed.
func TestOOM(t *testing.T) {
	ct := newContainer(t, []string{"dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"},
		func(s *specs.Spec, _ *monitor.Config) {
			limit := int64(16 << 20)
			s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &limit}
		})
	ct.start()
	ex := ct.wait()
	if ex.ExitCode != 137 || !ex.OOMKilled {
		t.Errorf("exit = %+v, want 137 and OOMKilled", ex)
	}
	plain := running(t, nil)
	if err := plain.c.Signal(ctx(t), syscall.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	if ex := plain.wait(); ex.ExitCode != 137 || ex.OOMKilled {
		t.Errorf("kill -9: exit = %+v, want 137 without OOMKilled", ex)
	}
}

// TestContainerLogRotation: a container that prints far past the
// rotation size leaves at most MaxFiles files of about MaxSize, holding
// its last lines.
func TestContainerLogRotation(t *testing.T) {
	const lines = 20000
	ct := newContainer(t, sh(fmt.Sprintf("i=0; while [ $i -lt %d ]; do echo line-$i; i=$((i+1)); done", lines)),
		func(_ *specs.Spec, c *monitor.Config) {
			c.Log.MaxSize, c.Log.MaxFiles = 64<<10, 3
		})
	ct.start()
	ct.wait()
	path := ct.cfg.LogPath()
	var total int64
	for _, name := range []string{path, path + ".1", path + ".2"} {
		st, err := os.Stat(name)
		if err != nil {
			t.Fatalf("log file: %v", err)
		}
		if st.Size() > 64<<10 {
			t.Errorf("%s is %d bytes, past MaxSize", name, st.Size())
		}
		total += st.Size()
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Error("a fourth log file exists")
	}
	got := strings.Split(strings.TrimSuffix(logLines(t, ct.cfg), "\n"), "\n")
	if len(got) < 1000 {
		t.Fatalf("only %d lines in %d bytes of log", len(got), total)
	}
	for i, l := range got {
		if want := fmt.Sprintf("line-%d", lines-len(got)+i); l != want {
			t.Fatalf("log line %d = %q, want %q", i, l, want)
		}
	}
}

// TestReadLogsFollowContainer follows a running container's log until it
// exits.
func TestReadLogsFollowContainer(t *testing.T) {
	ct := newContainer(t, sh("for i in 1 2 3 4 5; do echo tick $i; sleep 0.05; done"), nil)
	ct.start()
	done := make(chan struct{})
	go func() {
		ct.c.Wait(ctx(t))
		close(done)
	}()
	var b strings.Builder
	o := monitor.LogOptions{Follow: true, Done: done, Tail: monitor.TailAll, Stdout: true, Raw: true}
	if err := monitor.ReadLogs(ctx(t), ct.cfg.LogPath(), o, &b); err != nil {
		t.Fatal(err)
	}
	if b.String() != "tick 1\ntick 2\ntick 3\ntick 4\ntick 5\n" {
		t.Errorf("followed %q", b.String())
	}
}

// TestCreateError: a command that does not exist fails Start with the
// runtime's message and leaves no monitor and no container behind.
func TestCreateError(t *testing.T) {
	testutil.RequireRoot(t)
	bundle, spec := testutil.NewBundle(t)
	spec.Process.Args = []string{"/nonexistent"}
	testutil.WriteSpec(t, bundle, spec)
	cfg := monitor.Config{ID: testutil.UniqueName(t), StateDir: stateDir, Bundle: bundle,
		RuntimeRoot: runtimeRoot, Binary: monitorBinary(t)}
	_, err := monitor.Start(ctx(t), cfg)
	if err == nil || !strings.Contains(err.Error(), "nonexistent") {
		t.Fatalf("start = %v, want an error naming the program", err)
	}
	waitGone(t, filepath.Join(cfg.Dir(), "monitor.sock"))
	if _, err := os.Stat(filepath.Join(runtimeRoot, cfg.ID)); err == nil {
		t.Error("the runtime still has the container")
	}
	if err := monitor.Remove(ctx(t), stateDir, cfg.ID); err != nil {
		t.Error(err)
	}
	if _, err := monitor.Start(ctx(t), monitor.Config{ID: "../x", StateDir: stateDir, Bundle: bundle}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("start with a bad id: %v", err)
	}
}

// payload is the output carried by a stream of frames.
func payload(t *testing.T, framed []byte) []byte {
	t.Helper()
	var out []byte
	for len(framed) > 0 {
		if len(framed) < monitor.FrameHeaderLen {
			t.Fatalf("%d bytes left: a torn frame header", len(framed))
		}
		n := int(binary.BigEndian.Uint32(framed[4:8]))
		framed = framed[monitor.FrameHeaderLen:]
		if n > len(framed) {
			t.Fatalf("frame of %d bytes, %d left", n, len(framed))
		}
		out, framed = append(out, framed[:n]...), framed[n:]
	}
	return out
}

// TestSlowClient: a client that reads only once its queue is full gets
// every byte (the output waited for it), and so does the log.
func TestSlowClient(t *testing.T) {
	const size = 4 << 20
	ct := newContainer(t, sh(fmt.Sprintf("yes 0123456789abcdef | head -c %d; echo; echo done", size)),
		func(_ *specs.Spec, c *monitor.Config) { c.AttachBuffer = 64 << 10 })
	s := ct.attach(false)
	ct.start()
	// Read nothing until the log shows the output has gone well past the
	// client's bound, so the queue is full and holding the output up.
	for deadline := time.Now().Add(20 * time.Second); len(logLines(t, ct.cfg)) < 256<<10; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the container's output never reached the log")
		}
	}
	got := payload(t, readAll(t, s))
	if len(got) != size+len("\ndone\n") || !strings.HasSuffix(string(got), "\ndone\n") {
		t.Errorf("the slow client got %d bytes, want %d", len(got), size+6)
	}
	if ex := ct.wait(); ex.ExitCode != 0 {
		t.Fatalf("exit %+v", ex)
	}
	if log := logLines(t, ct.cfg); len(log) != size+len("\ndone\n") {
		t.Errorf("log holds %d bytes, want %d", len(log), size+6)
	}
}

// TestSpawnAhead: a monitor spawned before its container's bundle is
// written creates the container once Create comes, and reports the init;
// one aborted exits having made nothing, not even its directory.
func TestSpawnAhead(t *testing.T) {
	testutil.RequireRoot(t)
	bundle, spec := testutil.NewBundle(t)
	spec.Process.Args = sh("exit 7")
	cfg := monitor.Config{ID: testutil.UniqueName(t), StateDir: stateDir, Bundle: bundle,
		RuntimeRoot: runtimeRoot, Binary: monitorBinary(t)}
	aborted := cfg
	aborted.ID += "-aborted"
	a, p := monitor.Spawn(aborted), monitor.Spawn(cfg)
	testutil.WriteSpec(t, bundle, spec)
	a.Abort()
	c, err := p.Create(ctx(t))
	if err != nil {
		t.Fatalf("create after spawn: %v", err)
	}
	ct := &container{t: t, cfg: cfg, c: c}
	t.Cleanup(ct.cleanup)
	if c.Pid() <= 0 || c.InitPid() <= 0 {
		t.Errorf("monitor pid %d, init pid %d", c.Pid(), c.InitPid())
	}
	ct.start()
	if ex := ct.wait(); ex.ExitCode != 7 {
		t.Errorf("exit = %+v, want code 7", ex)
	}
	if _, err := os.Stat(aborted.Dir()); !os.IsNotExist(err) {
		t.Errorf("the aborted monitor left %s (%v)", aborted.Dir(), err)
	}
	deadline := time.Now().Add(testTimeout)
	for runsWithArg(aborted.Dir()) {
		if time.Now().After(deadline) {
			t.Fatal("the aborted monitor still runs")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runsWithArg reports whether a process runs with arg among its
// arguments.
func runsWithArg(arg string) bool {
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range cmdlines {
		data, err := os.ReadFile(f)
		if err == nil && slices.Contains(strings.Split(string(data), "\x00"), arg) {
			return true
		}
	}
	return false
}
