package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/apiserver"
	"github.com/corral-dev/corral/client"
)

// The API client is what the commands talk to.
var _ ContainerRunAPI = (*client.Client)(nil)

// wireEngine is the Containers and ContainerIO backends of a real API
// server: one container whose process, once started, reads its input to
// the end and answers it, then exits 5.
type wireEngine struct {
	mu      sync.Mutex
	calls   []string
	started chan struct{}
	exited  chan struct{}
}

func (e *wireEngine) record(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, fmt.Sprintf(format, args...))
}

func (e *wireEngine) ContainerCreate(_ context.Context, o api.ContainerCreateOptions) (container.CreateResponse, error) {
	e.record("create %s stdin=%v once=%v auto=%v", o.Config.Image, o.Config.OpenStdin, o.Config.StdinOnce, o.HostConfig.AutoRemove)
	return container.CreateResponse{ID: "wire1"}, nil
}

func (e *wireEngine) ContainerStart(_ context.Context, name string) error {
	e.record("start %s", name)
	close(e.started)
	return nil
}

func (e *wireEngine) ContainerAttach(_ context.Context, name string, o api.ContainerAttachOptions) error {
	e.record("attach %s stdin=%v stdout=%v stderr=%v", name, o.Stdin, o.Stdout, o.Stderr)
	st, err := o.Streams(false)
	if err != nil {
		return err
	}
	<-e.started
	in, err := io.ReadAll(st.Stdin)
	if err != nil {
		return err
	}
	fmt.Fprintf(st.Stdout, "got: %s", in)
	fmt.Fprint(st.Stderr, "e")
	close(e.exited)
	return nil
}

func (e *wireEngine) ContainerWait(_ context.Context, name string, cond container.WaitCondition) (<-chan container.WaitResponse, error) {
	e.record("wait %s %s", name, cond)
	ch := make(chan container.WaitResponse, 1)
	go func() {
		<-e.exited
		ch <- container.WaitResponse{StatusCode: 5}
	}()
	return ch, nil
}

func (e *wireEngine) ContainerResize(context.Context, string, int, int) error { return nil }
func (e *wireEngine) ContainerStop(context.Context, string, api.ContainerStopOptions) error {
	return nil
}
func (e *wireEngine) ContainerRestart(context.Context, string, api.ContainerStopOptions) error {
	return nil
}
func (e *wireEngine) ContainerKill(context.Context, string, string) error { return nil }
func (e *wireEngine) ContainerRemove(context.Context, string, api.ContainerRemoveOptions) error {
	return nil
}
func (e *wireEngine) ContainerPause(context.Context, string) error   { return nil }
func (e *wireEngine) ContainerUnpause(context.Context, string) error { return nil }

// TestRunOverTheWire runs `echo data | corral run -i --rm busybox cat`
// through the real client and API server: attach (hijacked) and wait
// before start, the input's end seen by the process while its output goes
// on, demultiplexed, and its exit code.
func TestRunOverTheWire(t *testing.T) {
	e := &wireEngine{started: make(chan struct{}), exited: make(chan struct{})}
	srv := apiserver.New(apiserver.Config{Containers: e, ContainerIO: e})
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
	defer func() {
		cancel()
		<-done
	}()
	var out, errb bytes.Buffer
	code := Main([]string{"run", "-i", "--rm", "busybox", "cat"}, Options{
		Connect: func(context.Context, Globals) (ImageAPI, error) {
			c, err := client.New("unix://" + l.Addr().String())
			if err != nil {
				return nil, err
			}
			return c, nil
		},
		In: strings.NewReader("data"), Out: &out, Err: &errb,
	})
	if code != 5 || out.String() != "got: data" || errb.String() != "e" {
		t.Errorf("run over the wire: exit %d, out %q, err %q", code, out.String(), errb.String())
	}
	want := "create busybox stdin=true once=true auto=true\nattach wire1 stdin=true stdout=true stderr=true\n" +
		"wait wire1 removed\nstart wire1"
	if got := strings.Join(e.calls, "\n"); got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}
}
