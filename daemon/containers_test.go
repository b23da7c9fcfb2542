package daemon

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/archive"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/testutil"
)

// ctrEnv is a container service over a private data root with a busybox
// image named "busybox".
type ctrEnv struct {
	t      *testing.T
	root   string
	exec   string
	images *Images
	events *Events
	s      *Containers
}

func newCtrEnv(t *testing.T) *ctrEnv {
	t.Helper()
	testutil.RequireRoot(t)
	e := &ctrEnv{t: t, root: t.TempDir(), exec: t.TempDir(), events: NewEvents()}
	var err error
	if e.images, err = NewImages(context.Background(), ImagesOptions{Root: e.root, Events: e.events}); err != nil {
		t.Fatal(err)
	}
	importBusybox(t, e.images)
	e.open()
	t.Cleanup(func() {
		e.removeAll()
		e.s.Close()
		e.images.Close()
	})
	return e
}

// open (re)opens the service, as a daemon start does.
func (e *ctrEnv) open() {
	e.t.Helper()
	var err error
	e.s, err = NewContainers(context.Background(), ContainersOptions{Root: e.root, ExecRoot: e.exec,
		Images: e.images, Events: e.events, Binary: testutil.EngineBinary(e.t)})
	if err != nil {
		e.t.Fatal(err)
	}
}

// removeAll removes every container, leaving no process or mount.
func (e *ctrEnv) removeAll() {
	for _, c := range e.s.store.All() {
		if err := e.s.ContainerRemove(context.Background(), c.ID, api.ContainerRemoveOptions{Force: true}); err != nil {
			e.t.Errorf("remove %s: %v", c.Name, err)
		}
	}
}

func importBusybox(t *testing.T, i *Images) {
	t.Helper()
	dir := testutil.BusyboxRootfs(t)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.WriteDir(context.Background(), dir, pw)) }()
	rc, err := i.ImageImport(context.Background(), pr, "busybox", api.ImageImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range readStream(t, rc) {
		if m.Error != nil {
			t.Fatal(m.Error.Message)
		}
	}
}

// create makes a container running cmd, with cfg and hc edits.
func (e *ctrEnv) create(name string, edit func(*container.Config, *container.HostConfig), cmd ...string) string {
	e.t.Helper()
	cfg := &container.Config{Image: "busybox", Cmd: cmd}
	hc := &container.HostConfig{NetworkMode: "none"}
	if edit != nil {
		edit(cfg, hc)
	}
	r, err := e.s.ContainerCreate(context.Background(), api.ContainerCreateOptions{Name: name, Config: cfg, HostConfig: hc})
	if err != nil {
		e.t.Fatalf("create: %v", err)
	}
	return r.ID
}

func (e *ctrEnv) start(id string) {
	e.t.Helper()
	if err := e.s.ContainerStart(context.Background(), id); err != nil {
		e.t.Fatalf("start: %v", err)
	}
}

// wait waits (at most 20 s) until id is not running and returns its code.
func (e *ctrEnv) wait(id string) int64 {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ch, err := e.s.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	if err != nil {
		e.t.Fatal(err)
	}
	r, ok := <-ch
	if !ok {
		e.t.Fatalf("wait %s: timed out", id)
	}
	return r.StatusCode
}

func (e *ctrEnv) inspect(id string) container.InspectResponse {
	e.t.Helper()
	r, err := e.s.ContainerInspect(context.Background(), id, false)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// logs reads the whole log of id.
func (e *ctrEnv) logs(id string) (stdout, stderr string) {
	e.t.Helper()
	ch, _, err := e.s.ContainerLogs(context.Background(), id, api.ContainerLogsOptions{Stdout: true, Stderr: true, Tail: -1})
	if err != nil {
		e.t.Fatal(err)
	}
	var o, eb strings.Builder
	for m := range ch {
		if m.Err != nil {
			e.t.Fatal(m.Err)
		}
		if m.Stream == "stderr" {
			eb.Write(m.Line)
		} else {
			o.Write(m.Line)
		}
	}
	return o.String(), eb.String()
}

func TestContainerRunExitCodeAndLogs(t *testing.T) {
	e := newCtrEnv(t)
	id := e.create("", nil, "sh", "-c", "echo out; echo err >&2; exit 3")
	e.start(id)
	if code := e.wait(id); code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	out, errOut := e.logs(id)
	if out != "out\n" || errOut != "err\n" {
		t.Errorf("logs %q / %q", out, errOut)
	}
	in := e.inspect(id)
	if in.State.Running || in.State.ExitCode != 3 || in.State.Status != "exited" {
		t.Errorf("state %+v", in.State)
	}
	if mounted(e.s.paths.rootfs(id)) {
		t.Error("rootfs still mounted after exit")
	}
}

func TestContainerAttachBeforeStart(t *testing.T) {
	e := newCtrEnv(t)
	id := e.create("", func(c *container.Config, _ *container.HostConfig) {
		c.OpenStdin, c.StdinOnce, c.AttachStdin, c.AttachStdout = true, true, true, true
	}, "sh", "-c", "read x; echo got $x; echo early")
	var out bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	inR, inW := io.Pipe()
	attached := make(chan struct{})
	go func() {
		defer wg.Done()
		err := e.s.ContainerAttach(context.Background(), id, api.ContainerAttachOptions{Stream: true, Stdin: true,
			Stdout: true, Stderr: true, Streams: func(tty bool) (api.Streams, error) {
				close(attached)
				return api.Streams{Stdin: inR, Stdout: &out, Stderr: &out}, nil
			}})
		if err != nil {
			t.Errorf("attach: %v", err)
		}
	}()
	<-attached
	e.start(id)
	io.WriteString(inW, "hello\n")
	inW.Close()
	wg.Wait()
	if got := out.String(); got != "got hello\nearly\n" {
		t.Errorf("attached output %q", got)
	}
	if code := e.wait(id); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

func TestContainerStopKillRemove(t *testing.T) {
	e := newCtrEnv(t)
	id := e.create("sleeper", nil, "sleep", "100")
	e.start(id)
	one := 1
	start := time.Now()
	if err := e.s.ContainerStop(context.Background(), "sleeper", api.ContainerStopOptions{Timeout: &one}); err != nil {
		t.Fatal(err)
	}
	// sleep as PID 1 ignores SIGTERM: the grace period ends in SIGKILL.
	if in := e.inspect(id); in.State.ExitCode != 137 || in.State.Running {
		t.Errorf("after stop: %+v", in.State)
	}
	if d := time.Since(start); d < time.Second || d > 5*time.Second {
		t.Errorf("stop took %v", d)
	}
	if err := e.s.ContainerStop(context.Background(), id, api.ContainerStopOptions{}); !errors.Is(err, errdefs.ErrNotModified) {
		t.Errorf("stop of a stopped container: %v", err)
	}
	e.start(id)
	if err := e.s.ContainerRemove(context.Background(), id, api.ContainerRemoveOptions{}); !errdefs.IsConflict(err) {
		t.Errorf("rm of a running container: %v", err)
	}
	if err := e.s.ContainerKill(context.Background(), id, "KILL"); err != nil {
		t.Fatal(err)
	}
	if in := e.inspect(id); in.State.ExitCode != 137 {
		t.Errorf("after kill: %+v", in.State)
	}
	e.start(id)
	if err := e.s.ContainerRemove(context.Background(), id, api.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.ContainerInspect(context.Background(), id, false); !errdefs.IsNotFound(err) {
		t.Errorf("inspect after rm: %v", err)
	}
	e.checkNothingLeft(id)
}

// checkNothingLeft checks that a removed container left no bundle,
// monitor, snapshot or record directory.
func (e *ctrEnv) checkNothingLeft(id string) {
	e.t.Helper()
	for _, p := range []string{e.s.paths.bundle(id), filepath.Join(e.s.paths.monitors, id), e.s.store.Dir(id)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			e.t.Errorf("%s left behind (%v)", p, err)
		}
	}
	if _, err := e.s.snapshots().Stat(context.Background(), snapshotKey(id)); !errdefs.IsNotFound(err) {
		e.t.Errorf("snapshot left behind (%v)", err)
	}
}

func TestContainerExec(t *testing.T) {
	e := newCtrEnv(t)
	id := e.create("", func(c *container.Config, _ *container.HostConfig) { c.Env = []string{"A=1"} }, "sleep", "100")
	e.start(id)
	r, err := e.s.ExecCreate(context.Background(), id, container.ExecCreateRequest{
		Cmd: []string{"sh", "-c", "echo $A $B $(pwd); exit 5"}, Env: []string{"B=2"}, WorkingDir: "/tmp",
		AttachStdout: true, AttachStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = e.s.ExecStart(context.Background(), r.ID, api.ExecStartOptions{Streams: func(bool) (api.Streams, error) {
		return api.Streams{Stdout: &out, Stderr: &out}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "1 2 /tmp\n" {
		t.Errorf("exec output %q", out.String())
	}
	in, err := e.s.ExecInspect(context.Background(), r.ID)
	if err != nil || in.ExitCode == nil || *in.ExitCode != 5 || in.Running {
		t.Errorf("exec inspect %+v %v", in, err)
	}
}

func TestContainerStartFailures(t *testing.T) {
	e := newCtrEnv(t)
	id := e.create("", nil, "/no/such/command")
	err := e.s.ContainerStart(context.Background(), id)
	if err == nil {
		t.Fatal("start of a missing command succeeded")
	}
	if in := e.inspect(id); in.State.ExitCode != 127 || in.State.Running || in.State.Error == "" {
		t.Errorf("state after failed start: %+v (%v)", in.State, err)
	}
	if mounted(e.s.paths.rootfs(id)) {
		t.Error("rootfs still mounted after a failed start")
	}
	_, err = e.s.ContainerCreate(context.Background(), api.ContainerCreateOptions{Config: &container.Config{Image: "nosuch", Cmd: []string{"true"}}})
	if !errdefs.IsNotFound(err) {
		t.Errorf("create of an unknown image: %v", err)
	}
	e.create("taken", nil, "true")
	_, err = e.s.ContainerCreate(context.Background(), api.ContainerCreateOptions{Name: "taken", Config: &container.Config{Image: "busybox", Cmd: []string{"true"}}})
	if !errdefs.IsConflict(err) {
		t.Errorf("create with a name in use: %v", err)
	}
	if n := len(e.s.store.All()); n != 2 {
		t.Errorf("%d containers after failed creates, want 2", n)
	}
}

func TestContainerRestartPolicy(t *testing.T) {
	e := newCtrEnv(t)
	id := e.create("", func(_ *container.Config, hc *container.HostConfig) {
		hc.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 2}
	}, "sh", "-c", "exit 1")
	w, err := e.s.ContainerWait(context.Background(), id, container.WaitConditionNextExit)
	if err != nil {
		t.Fatal(err)
	}
	e.start(id)
	<-w
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		in := e.inspect(id)
		if in.RestartCount == 2 && !in.State.Running {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("restart count %d, want 2", e.inspect(id).RestartCount)
}

func TestContainerSurvivesDaemonRestart(t *testing.T) {
	e := newCtrEnv(t)
	id := e.create("", nil, "sh", "-c", "echo before; sleep 100")
	e.start(id)
	pid := e.inspect(id).State.Pid
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if out, _ := e.logs(id); out == "before\n" || time.Now().After(deadline) {
			break // the output is in the log before the daemon goes away
		}
	}
	e.s.Close()
	e.open()
	in := e.inspect(id)
	if !in.State.Running || in.State.Pid != pid {
		t.Fatalf("after restart: %+v", in.State)
	}
	if out, _ := e.logs(id); out != "before\n" {
		t.Errorf("logs after restart %q", out)
	}
	if err := e.s.ContainerKill(context.Background(), id, ""); err != nil {
		t.Fatal(err)
	}
	if code := e.wait(id); code != 137 {
		t.Errorf("exit code after restart %d", code)
	}
}

func TestContainerAutoRemove(t *testing.T) {
	e := newCtrEnv(t)
	id := e.create("", func(_ *container.Config, hc *container.HostConfig) { hc.AutoRemove = true }, "true")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ch, err := e.s.ContainerWait(ctx, id, container.WaitConditionRemoved)
	if err != nil {
		t.Fatal(err)
	}
	e.start(id)
	if _, ok := <-ch; !ok {
		t.Fatal("not removed")
	}
	e.checkNothingLeft(id)
}
