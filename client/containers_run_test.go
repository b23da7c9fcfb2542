package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/apiserver"
	"github.com/corral-dev/corral/errdefs"
)

// runFake is the Containers, ContainerIO, Exec and (for logs)
// ContainerViews backends of an apiserver: it records each call as a line,
// answers the container "nosuch" with NotFound, and runs the test's own
// attach, exec and wait functions.
type runFake struct {
	mu    sync.Mutex
	calls []string

	attach func(api.ContainerAttachOptions) error
	exec   func(api.ExecStartOptions) error
	wait   chan container.WaitResponse
	logs   []api.LogMessage
	tty    bool
}

func (f *runFake) record(name, format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	if name == "nosuch" {
		return errdefs.NotFound(errors.New("No such container: nosuch"))
	}
	return nil
}

func (f *runFake) last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return ""
	}
	return f.calls[len(f.calls)-1]
}

func (f *runFake) ContainerCreate(_ context.Context, o api.ContainerCreateOptions) (container.CreateResponse, error) {
	return container.CreateResponse{ID: "c1"}, f.record(o.Name, "ContainerCreate name=%s platform=%s image=%s caps=%q/%q auto=%v",
		o.Name, o.Platform, o.Config.Image, o.HostConfig.CapAdd, o.HostConfig.CapDrop, o.HostConfig.AutoRemove)
}

func (f *runFake) ContainerStart(_ context.Context, name string) error {
	if name == "running" {
		return errdefs.Wrap(errdefs.ErrNotModified, errors.New("container already started"))
	}
	return f.record(name, "ContainerStart %s", name)
}

func (f *runFake) ContainerStop(context.Context, string, api.ContainerStopOptions) error { return nil }
func (f *runFake) ContainerRestart(context.Context, string, api.ContainerStopOptions) error {
	return nil
}
func (f *runFake) ContainerKill(context.Context, string, string) error { return nil }
func (f *runFake) ContainerRemove(context.Context, string, api.ContainerRemoveOptions) error {
	return nil
}
func (f *runFake) ContainerPause(context.Context, string) error   { return nil }
func (f *runFake) ContainerUnpause(context.Context, string) error { return nil }

func (f *runFake) ContainerWait(_ context.Context, name string, cond container.WaitCondition) (<-chan container.WaitResponse, error) {
	return f.wait, f.record(name, "ContainerWait %s %s", name, cond)
}

func (f *runFake) ContainerAttach(_ context.Context, name string, o api.ContainerAttachOptions) error {
	if err := f.record(name, "ContainerAttach %s stream=%v logs=%v in=%v out=%v err=%v keys=%s", name, o.Stream, o.Logs,
		o.Stdin, o.Stdout, o.Stderr, o.DetachKeys); err != nil {
		return err
	}
	return f.attach(o)
}

func (f *runFake) ContainerResize(_ context.Context, name string, h, w int) error {
	return f.record(name, "ContainerResize %s %dx%d", name, h, w)
}

func (f *runFake) ExecCreate(_ context.Context, name string, req container.ExecCreateRequest) (container.ExecCreateResponse, error) {
	return container.ExecCreateResponse{ID: "e1"}, f.record(name, "ExecCreate %s %s", name, js(req))
}

func (f *runFake) ExecStart(_ context.Context, id string, o api.ExecStartOptions) error {
	size := "nil"
	if o.ConsoleSize != nil {
		size = fmt.Sprint(*o.ConsoleSize)
	}
	if err := f.record(id, "ExecStart %s detach=%v tty=%v size=%s", id, o.Detach, o.Tty, size); err != nil {
		return err
	}
	if o.Detach {
		return nil
	}
	return f.exec(o)
}

func (f *runFake) ExecResize(_ context.Context, id string, h, w int) error {
	return f.record(id, "ExecResize %s %dx%d", id, h, w)
}

func (f *runFake) ExecInspect(_ context.Context, id string) (container.ExecInspectResponse, error) {
	code := 3
	return container.ExecInspectResponse{ID: id, ExitCode: &code}, f.record(id, "ExecInspect %s", id)
}

func (f *runFake) ContainerList(context.Context, api.ContainerListOptions) ([]container.Summary, error) {
	return nil, nil
}

func (f *runFake) ContainerInspect(context.Context, string, bool) (container.InspectResponse, error) {
	return container.InspectResponse{}, nil
}

func (f *runFake) ContainerTop(context.Context, string, string) (container.TopResponse, error) {
	return container.TopResponse{}, nil
}

func (f *runFake) ContainerChanges(context.Context, string) ([]container.FilesystemChange, error) {
	return nil, nil
}

func (f *runFake) ContainerStats(context.Context, string, api.ContainerStatsOptions) (<-chan container.StatsResponse, error) {
	return nil, nil
}

func (f *runFake) ContainerLogs(_ context.Context, name string, o api.ContainerLogsOptions) (<-chan api.LogMessage, bool, error) {
	err := f.record(name, "ContainerLogs %s follow=%v out=%v err=%v ts=%v details=%v since=%d until=%d tail=%d", name,
		o.Follow, o.Stdout, o.Stderr, o.Timestamps, o.Details, o.Since.UnixNano(), o.Until.UnixNano(), o.Tail)
	ch := make(chan api.LogMessage, len(f.logs))
	for _, m := range f.logs {
		ch <- m
	}
	close(ch)
	return ch, f.tty, err
}

// serveRun runs an apiserver with f as its container backends on a unix
// socket of the test's own and answers a client of it.
func serveRun(t *testing.T, f *runFake) *Client {
	t.Helper()
	srv := apiserver.New(apiserver.Config{Containers: f, ContainerIO: f, Exec: f, ContainerViews: f})
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "api.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ctx, l)
	}()
	c, err := New("unix://" + l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		cancel()
		<-done
	})
	return c
}

func TestContainerCreateStart(t *testing.T) {
	t.Parallel()
	f := &runFake{}
	c := serveRun(t, f)
	ctx := context.Background()
	resp, err := c.ContainerCreate(ctx, api.ContainerCreateOptions{Name: "web", Platform: "linux/amd64",
		Config:     &container.Config{Image: "busybox"},
		HostConfig: &container.HostConfig{CapAdd: []string{"net_admin", "CAP_SYS_TIME", "NET_ADMIN"}, CapDrop: []string{"all"}, AutoRemove: true}})
	if err != nil || resp.ID != "c1" {
		t.Fatalf("create: %+v %v", resp, err)
	}
	want := `ContainerCreate name=web platform=linux/amd64 image=busybox caps=["CAP_NET_ADMIN" "CAP_SYS_TIME"]/["ALL"] auto=true`
	if got := f.last(); got != want {
		t.Errorf("backend got  %s\nwant %s", got, want)
	}
	if err := c.ContainerStart(ctx, "c1"); err != nil || f.last() != "ContainerStart c1" {
		t.Errorf("start: %v, %s", err, f.last())
	}
	if err := c.ContainerStart(ctx, "running"); err != nil {
		t.Errorf("start of a running container: %v, want no error (304)", err)
	}
	err = c.ContainerStart(ctx, "nosuch")
	if !errors.Is(err, errdefs.ErrNotFound) || err.Error() != "Error response from daemon: No such container: nosuch" {
		t.Errorf("start of a missing container: %v", err)
	}
	if err := c.ContainerResize(ctx, "c1", 24, 80); err != nil || f.last() != "ContainerResize c1 24x80" {
		t.Errorf("resize: %v, %s", err, f.last())
	}
}

// TestAttachHalfClose is `echo hello | corral run -i`: the client
// half-closes after its input, the process sees the end of its input and
// its output still arrives, demultiplexed.
func TestAttachHalfClose(t *testing.T) {
	t.Parallel()
	f := &runFake{attach: func(o api.ContainerAttachOptions) error {
		st, err := o.Streams(false)
		if err != nil {
			return err
		}
		in, err := io.ReadAll(st.Stdin)
		if err != nil {
			return err
		}
		fmt.Fprintf(st.Stdout, "got %q", in)
		fmt.Fprint(st.Stderr, "after end of input")
		return nil
	}}
	c := serveRun(t, f)
	h, err := c.ContainerAttach(context.Background(), "c1", api.ContainerAttachOptions{Stream: true, Stdin: true,
		Stdout: true, Stderr: true, DetachKeys: "ctrl-x"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if mt, _ := h.MediaType(); mt != "application/vnd.docker.multiplexed-stream" {
		t.Errorf("media type %q", mt)
	}
	if f.last() != "ContainerAttach c1 stream=true logs=false in=true out=true err=true keys=ctrl-x" {
		t.Errorf("backend got %s", f.last())
	}
	if _, err := io.WriteString(h.Conn, "hello"); err != nil {
		t.Fatal(err)
	}
	if err := h.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if _, err := StdCopy(&out, &errb, h.Reader); err != nil {
		t.Fatal(err)
	}
	if out.String() != `got "hello"` || errb.String() != "after end of input" {
		t.Errorf("stdout %q stderr %q", out.String(), errb.String())
	}
}

func TestAttachTTYAndErrors(t *testing.T) {
	t.Parallel()
	f := &runFake{attach: func(o api.ContainerAttachOptions) error {
		st, err := o.Streams(true)
		if err != nil {
			return err
		}
		_, err = io.WriteString(st.Stdout, "raw\r\n")
		return err
	}}
	c := serveRun(t, f)
	ctx := context.Background()
	h, err := c.ContainerAttach(ctx, "c1", api.ContainerAttachOptions{Stream: true, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(h.Reader)
	h.Close()
	if err != nil || string(b) != "raw\r\n" {
		t.Errorf("tty output %q %v", b, err)
	}
	_, err = c.ContainerAttach(ctx, "nosuch", api.ContainerAttachOptions{Stream: true})
	if !errors.Is(err, errdefs.ErrNotFound) || err.Error() != "Error response from daemon: No such container: nosuch" {
		t.Errorf("attach to a missing container: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.ContainerAttach(cctx, "c1", api.ContainerAttachOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("attach with an ended context: %v", err)
	}
}

// TestContainerWait checks that ContainerWait returns once the daemon has
// answered, before the result, which comes later.
func TestContainerWait(t *testing.T) {
	t.Parallel()
	f := &runFake{wait: make(chan container.WaitResponse)}
	c := serveRun(t, f)
	results, errs := c.ContainerWait(context.Background(), "c1", container.WaitConditionNextExit)
	// The backend was called: the answer's head came before any result.
	if f.last() != "ContainerWait c1 next-exit" {
		t.Fatalf("backend got %s", f.last())
	}
	select {
	case r := <-results:
		t.Fatalf("result before the exit: %+v", r)
	case err := <-errs:
		t.Fatalf("error before the exit: %v", err)
	default:
	}
	f.wait <- container.WaitResponse{StatusCode: 3}
	select {
	case r := <-results:
		if r.StatusCode != 3 {
			t.Errorf("status %d", r.StatusCode)
		}
	case err := <-errs:
		t.Errorf("wait: %v", err)
	}
	_, errs = c.ContainerWait(context.Background(), "nosuch", "")
	if err := <-errs; !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("wait for a missing container: %v", err)
	}
}

func TestContainerLogs(t *testing.T) {
	t.Parallel()
	f := &runFake{logs: []api.LogMessage{{Stream: "stdout", Line: []byte("one\n")}, {Stream: "stderr", Line: []byte("two\n")}}}
	c := serveRun(t, f)
	since := time.Unix(1700000000, 5)
	rc, err := c.ContainerLogs(context.Background(), "c1", api.ContainerLogsOptions{Stdout: true, Stderr: true,
		Follow: true, Details: true, Since: since, Tail: 10})
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	_, err = StdCopy(&out, &errb, rc)
	rc.Close()
	if err != nil || out.String() != " one\n" || errb.String() != " two\n" { // details: attributes, then a space
		t.Errorf("logs: %q %q %v", out.String(), errb.String(), err)
	}
	want := fmt.Sprintf("ContainerLogs c1 follow=true out=true err=true ts=false details=true since=%d until=%d tail=10",
		since.UnixNano(), time.Time{}.UnixNano())
	if f.last() != want {
		t.Errorf("backend got  %s\nwant %s", f.last(), want)
	}
	rc, err = c.ContainerLogs(context.Background(), "c1", api.ContainerLogsOptions{Stdout: true, Tail: -1})
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if !strings.HasSuffix(f.last(), "tail=-1") {
		t.Errorf("tail all: backend got %s", f.last())
	}
}

func TestExec(t *testing.T) {
	t.Parallel()
	f := &runFake{exec: func(o api.ExecStartOptions) error {
		st, err := o.Streams(o.Tty)
		if err != nil {
			return err
		}
		in, _ := io.ReadAll(st.Stdin)
		_, err = fmt.Fprintf(st.Stdout, "exec read %q", in)
		return err
	}}
	c := serveRun(t, f)
	ctx := context.Background()
	size := &[2]uint{24, 80}
	resp, err := c.ExecCreate(ctx, "c1", container.ExecCreateRequest{Cmd: []string{"sh"}, Tty: true, AttachStdin: true,
		AttachStdout: true, ConsoleSize: size})
	if err != nil || resp.ID != "e1" {
		t.Fatalf("exec create: %+v %v", resp, err)
	}
	if !strings.Contains(f.last(), `"ConsoleSize":[24,80]`) || !strings.Contains(f.last(), `"Cmd":["sh"]`) {
		t.Errorf("backend got %s", f.last())
	}
	h, err := c.ExecStart(ctx, "e1", container.ExecStartRequest{Tty: true, ConsoleSize: size})
	if err != nil {
		t.Fatal(err)
	}
	if f.last() != "ExecStart e1 detach=false tty=true size=[24 80]" {
		t.Errorf("backend got %s", f.last())
	}
	_, _ = io.WriteString(h.Conn, "ls\n")
	_ = h.CloseWrite()
	b, err := io.ReadAll(h.Reader)
	h.Close()
	if err != nil || string(b) != `exec read "ls\n"` {
		t.Errorf("exec output %q %v", b, err)
	}
	if h, err := c.ExecStart(ctx, "e1", container.ExecStartRequest{Detach: true}); err != nil || h.Conn != nil {
		t.Errorf("detached start: %v", err)
	}
	if f.last() != "ExecStart e1 detach=true tty=false size=nil" {
		t.Errorf("backend got %s", f.last())
	}
	if err := c.ExecResize(ctx, "e1", 30, 100); err != nil || f.last() != "ExecResize e1 30x100" {
		t.Errorf("exec resize: %v %s", err, f.last())
	}
	if in, err := c.ExecInspect(ctx, "e1"); err != nil || in.ExitCode == nil || *in.ExitCode != 3 {
		t.Errorf("exec inspect: %+v %v", in, err)
	}
	if _, err := c.ExecStart(ctx, "nosuch", container.ExecStartRequest{}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("start of a missing exec: %v", err)
	}
}

// frame is one frame of the 8-byte header protocol.
func frame(stream byte, payload string) string {
	n := len(payload)
	return string([]byte{stream, 0, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}) + payload
}

func TestStdCopy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, out, errOut, err string
	}{
		{"empty", "", "", "", ""},
		{"both streams", frame(1, "a") + frame(2, "b") + frame(1, "c") + frame(1, ""), "ac", "b", ""},
		{"stdin counts as stdout", frame(0, "x"), "x", "", ""},
		{"daemon error", frame(1, "a") + frame(3, "boom") + frame(1, "never"), "a", "", "error from daemon in stream: boom"},
		{"unknown stream", frame(7, "x"), "", "", "Unrecognized input header: 7"},
		{"raw bytes", "hello world", "", "", "Unrecognized input header: 104"},
		{"truncated header", frame(1, "a") + "\x01\x00", "a", "", "read stream header: unexpected EOF"},
		{"truncated payload", frame(1, "abc")[:10], "ab", "", "read stream frame: unexpected EOF"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		n, err := StdCopy(&out, &errb, strings.NewReader(tt.in))
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if out.String() != tt.out || errb.String() != tt.errOut || gotErr != tt.err || n != int64(len(tt.out)+len(tt.errOut)) {
			t.Errorf("%s: out %q err %q n %d error %q; want %q %q %q", tt.name, out.String(), errb.String(), n, gotErr, tt.out, tt.errOut, tt.err)
		}
	}
	// A large payload crosses many reads.
	big := strings.Repeat("x", 100000)
	var out bytes.Buffer
	if _, err := StdCopy(&out, nil, iotestHalf(frame(1, big)+frame(2, "dropped"))); err != nil || out.String() != big {
		t.Errorf("large frame: %d bytes, %v", out.Len(), err)
	}
}

// iotestHalf reads s a few bytes at a time.
func iotestHalf(s string) io.Reader { return &slowReader{s: s} }

type slowReader struct{ s string }

func (r *slowReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 7)], r.s)
	r.s = r.s[n:]
	return n, nil
}
