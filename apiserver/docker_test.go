package apiserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

// engine is a scripted engine behind the real docker CLI: images appear
// when pulled, containers run a few built-in "programs" (echo, cat,
// exit N), output goes to the attached streams.
type engine struct {
	*fake
	mu     sync.Mutex
	pulled map[string]bool
	next   int // the last container number
	ctrs   map[string]*fakeCtr
	execs  map[string]*fakeExec
}

type fakeCtr struct {
	id         string
	cmd        []string
	tty        bool
	autoRemove bool
	// mu guards streams: attach sets them before start reads them.
	mu      sync.Mutex
	streams *api.Streams
	code    int
	exited  chan struct{}
	removed chan struct{}
}

type fakeExec struct {
	cmd  []string
	code *int
}

func newEngine() *engine {
	return &engine{fake: newFake(), pulled: map[string]bool{}, ctrs: map[string]*fakeCtr{}, execs: map[string]*fakeExec{}}
}

func (e *engine) config() Config {
	return Config{System: e, Images: e, ImageTransfer: e, Registry: e, Builder: e, Containers: e,
		ContainerViews: e, ContainerIO: e, Exec: e, ContainerFiles: e, ContainerAdmin: e, Networks: e,
		Volumes: e, Version: "0.0.1-test"}
}

// run is the container's or exec's "program".
func run(cmd []string, st api.Streams) int {
	out := st.Stdout
	if out == nil {
		out = io.Discard
	}
	switch {
	case len(cmd) > 0 && cmd[0] == "echo":
		_, _ = fmt.Fprintln(out, strings.Join(cmd[1:], " "))
	case len(cmd) > 0 && cmd[0] == "cat" && st.Stdin != nil:
		_, _ = io.Copy(out, st.Stdin)
	case len(cmd) == 3 && cmd[0] == "sh" && strings.HasPrefix(cmd[2], "exit "):
		n, _ := strconv.Atoi(strings.TrimPrefix(cmd[2], "exit "))
		return n
	}
	return 0
}

func (e *engine) ImageList(context.Context, api.ImageListOptions) ([]image.Summary, error) {
	return []image.Summary{{ID: "sha256:" + strings.Repeat("ab", 32), RepoTags: []string{"busybox:latest"},
		RepoDigests: []string{}, Created: time.Now().Add(-time.Hour).Unix(), Size: 4_400_000, Labels: map[string]string{}}}, nil
}

func (e *engine) ImagePull(_ context.Context, ref string, _ api.ImagePullOptions) (io.ReadCloser, error) {
	e.mu.Lock()
	e.pulled[ref] = true
	e.mu.Unlock()
	return io.NopCloser(strings.NewReader(`{"status":"Pulling from library/busybox","id":"latest"}
{"status":"Pulling fs layer","progressDetail":{},"id":"aaaa"}
{"status":"Pull complete","progressDetail":{},"id":"aaaa"}
{"status":"Digest: sha256:` + strings.Repeat("cd", 32) + `"}
{"status":"Status: Downloaded newer image for busybox:latest"}
`)), nil
}

func (e *engine) ContainerCreate(_ context.Context, o api.ContainerCreateOptions) (container.CreateResponse, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.pulled["docker.io/library/busybox:latest"] {
		return container.CreateResponse{}, errdefs.NotFound(fmt.Errorf("No such image: %s:latest", o.Config.Image))
	}
	e.next++
	id := fmt.Sprintf("%064d", e.next)
	e.ctrs[id] = &fakeCtr{id: id, cmd: o.Config.Cmd, tty: o.Config.Tty, autoRemove: o.HostConfig.AutoRemove,
		exited: make(chan struct{}), removed: make(chan struct{})}
	return container.CreateResponse{ID: id}, nil
}

func (e *engine) ctr(name string) (*fakeCtr, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, c := range e.ctrs {
		if id == name || strings.HasPrefix(id, name) && len(name) >= 12 {
			return c, nil
		}
	}
	return nil, errdefs.NotFound(fmt.Errorf("No such container: %s", name))
}

func (e *engine) ContainerAttach(_ context.Context, name string, o api.ContainerAttachOptions) error {
	c, err := e.ctr(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	st, err := o.Streams(c.tty)
	if err == nil {
		c.streams = &st
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	<-c.exited
	return nil
}

func (e *engine) ContainerStart(_ context.Context, name string) error {
	c, err := e.ctr(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	st := api.Streams{}
	if c.streams != nil {
		st = *c.streams
	}
	c.mu.Unlock()
	go func() {
		c.code = run(c.cmd, st)
		close(c.exited)
		if c.autoRemove {
			e.mu.Lock()
			delete(e.ctrs, c.id)
			e.mu.Unlock()
			close(c.removed)
		}
	}()
	return nil
}

func (e *engine) ContainerWait(ctx context.Context, name string, cond container.WaitCondition) (<-chan container.WaitResponse, error) {
	c, err := e.ctr(name)
	if err != nil {
		return nil, err
	}
	ch := make(chan container.WaitResponse, 1)
	go func() {
		done := c.exited
		if cond == container.WaitConditionRemoved {
			done = c.removed
		}
		select {
		case <-done:
			ch <- container.WaitResponse{StatusCode: int64(c.code)}
		case <-ctx.Done():
		}
	}()
	return ch, nil
}

func (e *engine) ExecCreate(_ context.Context, _ string, req container.ExecCreateRequest) (container.ExecCreateResponse, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := fmt.Sprintf("e%063d", len(e.execs)+1)
	e.execs[id] = &fakeExec{cmd: req.Cmd}
	return container.ExecCreateResponse{ID: id}, nil
}

func (e *engine) ExecStart(_ context.Context, id string, o api.ExecStartOptions) error {
	e.mu.Lock()
	x := e.execs[id]
	e.mu.Unlock()
	if x == nil {
		return errdefs.NotFound(errors.New("no such exec"))
	}
	st, err := o.Streams(o.Tty)
	if err != nil {
		return err
	}
	code := run(x.cmd, st)
	e.mu.Lock()
	x.code = &code
	e.mu.Unlock()
	return nil
}

func (e *engine) ExecInspect(_ context.Context, id string) (container.ExecInspectResponse, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.execs[id]
	if x == nil {
		return container.ExecInspectResponse{}, errdefs.NotFound(errors.New("no such exec"))
	}
	return container.ExecInspectResponse{ID: id, ExitCode: x.code, Running: x.code == nil}, nil
}

// docker runs the real docker CLI against sock and answers its stdout,
// stderr and exit code.
func docker(t *testing.T, sock, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "DOCKER_HOST=unix://" + sock,
		"DOCKER_CONFIG=" + t.TempDir(), "DOCKER_CLI_HINTS=false"}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("docker %q: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// TestDockerCLI drives the real docker CLI (28.x) against the server with
// a scripted engine: the protocol details it depends on (ping, version
// negotiation, 404 then pull then create, hijacked attach before start,
// wait flushed early, stdin half-close, exec) all have to be right.
func TestDockerCLI(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker CLI installed")
	}
	e := newEngine()
	sock := serve(t, e.config())
	steps := []struct {
		name, stdin string
		args        []string
		stdout      []string // substrings
		code        int
		call        string // the last backend call of the fake, if not ""
	}{
		{"version", "", []string{"version"}, []string{"Server:", "Version:          0.0.1-test", "API version:      1.47 (minimum version 1.24)"}, 0, ""},
		{"images", "", []string{"images"}, []string{"REPOSITORY", "busybox      latest    abababababab"}, 0, ""},
		{"run before pull", "", []string{"run", "--rm", "busybox", "echo", "hi"}, []string{"hi\n"}, 0, ""},
		{"pull", "", []string{"pull", "busybox"}, []string{"Status: Downloaded newer image for busybox:latest", "docker.io/library/busybox:latest"}, 0, ""},
		{"run", "", []string{"run", "--rm", "busybox", "echo", "hi"}, []string{"hi\n"}, 0, ""},
		{"run exit code", "", []string{"run", "--rm", "busybox", "sh", "-c", "exit 3"}, nil, 3, ""},
		{"run stdin", "data\nmore\n", []string{"run", "-i", "--rm", "busybox", "cat"}, []string{"data\nmore\n"}, 0, ""},
		{"run tty", "", []string{"run", "-t", "--rm", "busybox", "echo", "tty"}, []string{"tty\n"}, 0, ""},
		{"run detached", "", []string{"run", "-d", "busybox", "echo", "bg"}, []string{"0000"}, 0, ""},
		{"exec", "", []string{"exec", "0000000000000000000000000000000000000000000000000000000000000006", "echo", "hi", "there"}, []string{"hi there\n"}, 0, ""},
		{"exec exit code", "", []string{"exec", "0000000000000000000000000000000000000000000000000000000000000006", "sh", "-c", "exit 4"}, nil, 4, ""},
		{"exec stdin", "in\n", []string{"exec", "-i", "0000000000000000000000000000000000000000000000000000000000000006", "cat"}, []string{"in\n"}, 0, ""},
		{"ps", "", []string{"ps", "-a", "--filter", "label=a=b"}, []string{"CONTAINER ID"}, 0,
			`ContainerList all=true limit=-1 size=false filters={"label":{"a=b":true}}`},
		{"stop", "", []string{"stop", "-t", "5", "web"}, []string{"web"}, 0, "ContainerStop web signal= t=5"},
		{"kill", "", []string{"kill", "-s", "INT", "web"}, []string{"web"}, 0, "ContainerKill web INT"},
		{"rm", "", []string{"rm", "-f", "-v", "web"}, []string{"web"}, 0, "ContainerRemove web {Force:true RemoveVolumes:true RemoveLinks:false}"},
		{"logs", "", []string{"logs", "--tail", "5", "web"}, nil, 0, "ContainerLogs c1 follow=false out=true err=true ts=false tail=5 since=-62135596800"},
		{"tag", "", []string{"tag", "busybox", "localhost:5000/busybox:v1"}, nil, 0, "ImageTag busybox localhost:5000/busybox:v1"},
		{"push", "", []string{"push", "localhost:5000/busybox:v1"}, nil, 0, "ImagePush localhost:5000/busybox:v1 all=false auth=e30= platform=<nil>"},
		{"rmi", "", []string{"rmi", "localhost:5000/busybox:v1"}, []string{"Untagged: localhost:5000/busybox:v1"}, 0,
			"ImageRemove localhost:5000/busybox:v1 {Force:false PruneChildren:true}"},
		{"network create", "", []string{"network", "create", "--label", "a=b", "net1"}, []string{"n1"}, 0, "NetworkCreate net1 driver=bridge labels=map[a:b]"},
		{"volume create", "", []string{"volume", "create", "v1"}, []string{"v1"}, 0, "VolumeCreate v1 local"},
		{"info", "", []string{"info", "--format", "{{.Name}} {{.ServerVersion}}"}, []string{"host 1.2.3"}, 0, "Info"},
		{"system prune", "", []string{"system", "prune", "-f"}, []string{"Total reclaimed space"}, 0, ""},
		{"system df", "", []string{"system", "df"}, []string{"Images          1"}, 0, "DiskUsage"},
	}
	for _, st := range steps {
		out, errOut, code := docker(t, sock, st.stdin, st.args...)
		t.Logf("docker %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(st.args, " "), code, out, errOut)
		if code != st.code {
			t.Errorf("%s: exit code %d, want %d\nstdout: %s\nstderr: %s", st.name, code, st.code, out, errOut)
		}
		for _, want := range st.stdout {
			if !strings.Contains(out, want) {
				t.Errorf("%s: stdout %q lacks %q (stderr %q)", st.name, out, want, errOut)
			}
		}
		if st.call != "" {
			if got := e.last(t); got != st.call {
				t.Errorf("%s: backend call %q, want %q", st.name, got, st.call)
			}
		}
		if st.name == "run before pull" && !strings.Contains(errOut, "Unable to find image 'busybox:latest' locally") {
			t.Errorf("%s: stderr %q: the 404 did not make the CLI pull", st.name, errOut)
		}
	}
}
