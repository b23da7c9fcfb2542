package monitor_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corral-dev/corral/monitor"
	"github.com/corral-dev/corral/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperDaemon())
	}
	if p := os.Getenv(untrustedEnv); p != "" {
		os.Exit(untrustedClient(p))
	}
	os.Exit(testutil.Sandbox(m))
}

// testTimeout bounds every wait of a test.
const testTimeout = 20 * time.Second

// Directories of the tests, on the sandbox's tmpfs.
const (
	stateDir    = "/run/corral/monitor-test"
	runtimeRoot = "/run/corral/monitor-test-runtime"
)

// container is a monitor under test and what it was started with.
type container struct {
	t   *testing.T
	cfg monitor.Config
	c   *monitor.Client
}

// newContainer starts a monitor on a busybox bundle running args; edit
// changes the spec and config first. The container is killed and its
// monitor waited for at cleanup.
func newContainer(t *testing.T, args []string, edit func(*specs.Spec, *monitor.Config)) *container {
	t.Helper()
	testutil.RequireRoot(t)
	bundle, spec := testutil.NewBundle(t)
	spec.Process.Args = args
	cfg := monitor.Config{ID: testutil.UniqueName(t), StateDir: stateDir, Bundle: bundle,
		RuntimeRoot: runtimeRoot, Binary: monitorBinary(t)}
	if edit != nil {
		edit(spec, &cfg)
	}
	testutil.WriteSpec(t, bundle, spec)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := monitor.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start monitor: %v", err)
	}
	ct := &container{t: t, cfg: cfg, c: c}
	if c.Pid() <= 0 {
		t.Errorf("Start returned no monitor pid")
	}
	t.Cleanup(ct.cleanup)
	return ct
}

func (ct *container) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := monitor.Connect(ctx, ct.cfg.StateDir, ct.cfg.ID)
	switch {
	case err == nil:
		c.Signal(ctx, syscall.SIGKILL, true)
		if _, err := c.Wait(ctx); err != nil {
			ct.t.Errorf("cleanup: wait: %v", err)
		}
	case errors.Is(err, monitor.ErrMonitorDead):
		monitor.Recover(ctx, ct.cfg.StateDir, ct.cfg.ID)
	}
	// The monitor exits right after it answered the last wait.
	waitGone(ct.t, filepath.Join(ct.cfg.Dir(), "monitor.sock"))
	if pid := ct.c.Pid(); pid > 0 && !gone(pid) {
		ct.t.Errorf("cleanup: monitor %d still runs", pid)
	}
	if err := monitor.Remove(ctx, ct.cfg.StateDir, ct.cfg.ID); err != nil {
		ct.t.Errorf("cleanup: %v", err)
	}
}

// monitorBinary is Config.Binary in the tests: $CORRAL_MONITOR_BINARY when
// set (corral-monitor, or the corral binary with corral-monitor beside it),
// else corral-monitor built with corral-runc beside it, as installed.
func monitorBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CORRAL_MONITOR_BINARY"); p != "" {
		return p
	}
	return testutil.MonitorBinary(t)
}

func waitGone(t *testing.T, path string) {
	deadline := time.Now().Add(testTimeout)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err != nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Errorf("%s still exists", path)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return c
}

// attach attaches to every stream.
func (ct *container) attach(stdin bool) *monitor.Stream {
	ct.t.Helper()
	s, err := ct.c.Attach(ctx(ct.t), monitor.AttachOptions{Stdin: stdin, Stdout: true, Stderr: true})
	if err != nil {
		ct.t.Fatalf("attach: %v", err)
	}
	ct.t.Cleanup(func() { s.Close() })
	return s
}

func (ct *container) start() {
	ct.t.Helper()
	if err := ct.c.Start(ctx(ct.t)); err != nil {
		ct.t.Fatalf("start: %v", err)
	}
}

func (ct *container) wait() *monitor.ExitStatus {
	ct.t.Helper()
	ex, err := ct.c.Wait(ctx(ct.t))
	if err != nil {
		ct.t.Fatalf("wait: %v", err)
	}
	return ex
}

// demux reads a multiplexed stream to its end (bounded by the test
// timeout) and splits it.
func demux(t *testing.T, r io.Reader) (stdout, stderr string) {
	t.Helper()
	data := readAll(t, r)
	var out, errb bytes.Buffer
	for len(data) > 0 {
		if len(data) < 8 {
			t.Fatalf("truncated frame header %q", data)
		}
		n := int(binary.BigEndian.Uint32(data[4:8]))
		if len(data) < 8+n {
			t.Fatalf("truncated frame: %d bytes of %d", len(data)-8, n)
		}
		switch data[0] {
		case 1:
			out.Write(data[8 : 8+n])
		case 2:
			errb.Write(data[8 : 8+n])
		default:
			t.Fatalf("bad stream %d in frame", data[0])
		}
		data = data[8+n:]
	}
	return out.String(), errb.String()
}

// readAll reads r to its end within the test timeout.
func readAll(t *testing.T, r io.Reader) []byte {
	t.Helper()
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(r)
		ch <- result{b, err}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			t.Fatalf("read stream: %v (after %q)", res.err, res.b)
		}
		return res.b
	case <-time.After(testTimeout):
		t.Fatal("stream did not end")
	}
	return nil
}

// logLines reads the container's whole log as text.
func logLines(t *testing.T, cfg monitor.Config) string {
	t.Helper()
	var buf bytes.Buffer
	o := monitor.LogOptions{Tail: monitor.TailAll, Stdout: true, Stderr: true, Raw: true}
	if err := monitor.ReadLogs(context.Background(), cfg.LogPath(), o, &buf); err != nil {
		t.Fatalf("read logs: %v", err)
	}
	return buf.String()
}

func sh(script string) []string { return []string{"sh", "-c", script} }

func contains(t *testing.T, what, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Errorf("%s = %q, want it to contain %q", what, got, want)
	}
}
