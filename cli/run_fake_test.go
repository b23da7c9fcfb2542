package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/client"
	"github.com/corral-dev/corral/errdefs"
)

// ctrID is the ID of the fake's container.
const ctrID = "c0ffee0123456789abcdef0123456789abcdef0123456789abcdef0123456789"

// ctrFake is an engine with one container (ctrID, also called "web"): an
// ImageAPI (fakeAPI, for the pulls) and a ContainerRunAPI. Attach and exec
// answer one end of a socket pair; the other end is the daemon, which runs
// proc once the container starts (at once for an exec): proc reads the
// attached input and writes the output, framed without a TTY; its return
// is the exit code, which the waits get once the connection is closed.
type ctrFake struct {
	*fakeAPI
	t *testing.T

	mu sync.Mutex
	// calls are the container calls, one line each.
	calls []string
	// present says whether create finds the image.
	present bool
	// running, paused and tty are what inspect says.
	running, paused, tty bool
	autoRemove           bool
	startErr             error
	created              api.ContainerCreateOptions
	execReq              container.ExecCreateRequest
	logs                 string
	// proc is the process; nil writes nothing and exits 0.
	proc func(f *ctrFake, stdin io.Reader, stdout, stderr io.Writer) int
	// started closes at start; exited when proc returned (code set).
	started, exited chan struct{}
	code            int
	attached        bool
	killed          chan string
}

func newCtrFake(t *testing.T) *ctrFake {
	return &ctrFake{fakeAPI: newFakeAPI(), t: t, present: true, running: true, started: make(chan struct{}),
		exited: make(chan struct{}), killed: make(chan string, 8)}
}

func (f *ctrFake) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *ctrFake) callList() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, "\n")
}

var errNoSuchContainer = errdefs.NotFound(errors.New("Error response from daemon: No such container: nosuch"))

func (f *ctrFake) ContainerCreate(_ context.Context, o api.ContainerCreateOptions) (container.CreateResponse, error) {
	f.record("create name=%s platform=%s image=%s", o.Name, o.Platform, o.Config.Image)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.present {
		return container.CreateResponse{}, errdefs.NotFound(errors.New("Error response from daemon: No such image: busybox:latest"))
	}
	f.created = o
	f.autoRemove = o.HostConfig.AutoRemove
	return container.CreateResponse{ID: ctrID}, nil
}

// ImagePull makes the image present.
func (f *ctrFake) ImagePull(ctx context.Context, ref string, o api.ImagePullOptions) (io.ReadCloser, error) {
	f.record("pull %s", ref)
	f.mu.Lock()
	f.present = true
	f.mu.Unlock()
	return f.fakeAPI.ImagePull(ctx, ref, o)
}

func (f *ctrFake) ContainerStart(_ context.Context, name string) error {
	f.record("start %s", name)
	if name == "nosuch" {
		return errNoSuchContainer
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return f.startErr
	}
	select {
	case <-f.started:
		return nil // the one container is running
	default:
	}
	close(f.started)
	if !f.attached {
		go f.runProc(nil, io.Discard, io.Discard)
	}
	return nil
}

// runProc runs the process and marks its exit.
func (f *ctrFake) runProc(stdin io.Reader, stdout, stderr io.Writer) {
	code := 0
	if f.proc != nil {
		if stdin == nil {
			stdin = strings.NewReader("")
		}
		code = f.proc(f, stdin, stdout, stderr)
	}
	f.mu.Lock()
	f.code = code
	f.mu.Unlock()
	close(f.exited)
}

func (f *ctrFake) ContainerAttach(_ context.Context, name string, o api.ContainerAttachOptions) (client.HijackedResponse, error) {
	f.record("attach %s stream=%v stdin=%v stdout=%v stderr=%v keys=%s", name, o.Stream, o.Stdin, o.Stdout, o.Stderr, o.DetachKeys)
	if name == "nosuch" {
		return client.HijackedResponse{}, errNoSuchContainer
	}
	near, srv := f.socketPair()
	f.mu.Lock()
	f.attached = true
	tty := f.tty
	f.mu.Unlock()
	go func() {
		defer srv.Close()
		<-f.started
		f.serve(srv, tty, o.Stdin, f.runProc)
	}()
	return client.HijackedResponse{Conn: near, Reader: bufio.NewReader(near)}, nil
}

// serve is the daemon's end of a hijacked connection: run gets the input
// (the connection until the client half-closes, if attached) and the
// output writers.
func (f *ctrFake) serve(srv *net.UnixConn, tty, stdin bool, run func(io.Reader, io.Writer, io.Writer)) {
	var in io.Reader = strings.NewReader("")
	if stdin {
		in = srv
	}
	if tty {
		run(in, srv, srv)
		return
	}
	mu := &sync.Mutex{}
	run(in, &frameWriter{mu: mu, w: srv, stream: 1}, &frameWriter{mu: mu, w: srv, stream: 2})
}

// socketPair is a connected pair of unix sockets (both can half-close).
func (f *ctrFake) socketPair() (*net.UnixConn, *net.UnixConn) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		file := os.NewFile(uintptr(fd), "socketpair")
		defer file.Close()
		c, err := net.FileConn(file)
		if err != nil {
			f.t.Fatal(err)
		}
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1])
}

// frameWriter writes each Write as one frame of the 8-byte header
// protocol.
type frameWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	stream byte
}

func (fw *frameWriter) Write(p []byte) (int, error) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	_, err := fw.w.Write(frame(fw.stream, string(p)))
	return len(p), err
}

func frame(stream byte, payload string) []byte {
	h := make([]byte, 8, 8+len(payload))
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], uint32(len(payload)))
	return append(h, payload...)
}

func (f *ctrFake) ContainerResize(_ context.Context, name string, h, w int) error {
	f.record("resize %s %dx%d", name, h, w)
	return nil
}

func (f *ctrFake) ContainerWait(ctx context.Context, name string, cond container.WaitCondition) (<-chan container.WaitResponse, <-chan error) {
	f.record("wait %s %s", name, cond)
	results, errs := make(chan container.WaitResponse, 1), make(chan error, 1)
	if name == "nosuch" {
		errs <- errNoSuchContainer
		return results, errs
	}
	go func() {
		select {
		case <-f.exited:
			f.mu.Lock()
			results <- container.WaitResponse{StatusCode: int64(f.code)}
			f.mu.Unlock()
		case <-ctx.Done():
			errs <- ctx.Err()
		}
	}()
	return results, errs
}

func (f *ctrFake) ContainerLogs(_ context.Context, name string, o api.ContainerLogsOptions) (io.ReadCloser, error) {
	f.record("logs %s follow=%v out=%v err=%v ts=%v details=%v since=%d until=%d tail=%d", name, o.Follow, o.Stdout,
		o.Stderr, o.Timestamps, o.Details, unixOrZero(o.Since), unixOrZero(o.Until), o.Tail)
	f.mu.Lock()
	defer f.mu.Unlock()
	return io.NopCloser(strings.NewReader(f.logs)), nil
}

func unixOrZero(t interface{ Unix() int64 }) int64 { return t.Unix() }

func (f *ctrFake) ContainerInspect(_ context.Context, name string) (container.InspectResponse, error) {
	f.record("inspect %s", name)
	if name == "nosuch" {
		return container.InspectResponse{}, errNoSuchContainer
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return container.InspectResponse{ID: ctrID, State: &container.State{Running: f.running, Paused: f.paused},
		Config: &container.Config{Tty: f.tty, OpenStdin: true}, HostConfig: &container.HostConfig{AutoRemove: f.autoRemove}}, nil
}

func (f *ctrFake) ContainerKill(_ context.Context, name, signal string) error {
	f.record("kill %s %s", name, signal)
	f.killed <- signal
	return nil
}

func (f *ctrFake) ExecCreate(_ context.Context, name string, req container.ExecCreateRequest) (container.ExecCreateResponse, error) {
	b, _ := json.Marshal(req)
	f.record("exec create %s %s", name, b)
	f.mu.Lock()
	f.execReq = req
	f.mu.Unlock()
	return container.ExecCreateResponse{ID: "e1"}, nil
}

func (f *ctrFake) ExecStart(_ context.Context, id string, req container.ExecStartRequest) (client.HijackedResponse, error) {
	b, _ := json.Marshal(req)
	f.record("exec start %s %s", id, b)
	if req.Detach {
		go f.runProc(nil, io.Discard, io.Discard)
		return client.HijackedResponse{}, nil
	}
	near, srv := f.socketPair()
	f.mu.Lock()
	er := f.execReq
	f.mu.Unlock()
	go func() {
		defer srv.Close()
		f.serve(srv, er.Tty, er.AttachStdin, f.runProc)
	}()
	return client.HijackedResponse{Conn: near, Reader: bufio.NewReader(near)}, nil
}

func (f *ctrFake) ExecResize(_ context.Context, id string, h, w int) error {
	f.record("exec resize %s %dx%d", id, h, w)
	return nil
}

func (f *ctrFake) ExecInspect(_ context.Context, id string) (container.ExecInspectResponse, error) {
	f.record("exec inspect %s", id)
	<-f.exited
	f.mu.Lock()
	defer f.mu.Unlock()
	code := f.code
	return container.ExecInspectResponse{ID: id, ExitCode: &code}, nil
}

// runCLI runs the command line against f with stdin in (a string or a
// reader) and answers stdout, stderr and the exit code.
func runCLI(f *ctrFake, in any, args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	var r io.Reader
	switch v := in.(type) {
	case string:
		r = strings.NewReader(v)
	case io.Reader:
		r = v
	}
	code := Main(args, Options{
		Connect:     func(context.Context, Globals) (ImageAPI, error) { return f, nil },
		Credentials: func() (Credentials, error) { return &fakeCreds{}, nil },
		In:          r, Out: &out, Err: &errb,
	})
	return out.String(), errb.String(), code
}

// echoProc writes its input back, "hello\n" on stdout and "oops\n" on
// stderr, and exits 3.
func echoProc(_ *ctrFake, stdin io.Reader, stdout, stderr io.Writer) int {
	b, _ := io.ReadAll(stdin)
	_, _ = stdout.Write(b)
	_, _ = io.WriteString(stdout, "hello\n")
	_, _ = io.WriteString(stderr, "oops\n")
	return 3
}
