package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/corral-dev/corral/api"
	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/monitor"
	"github.com/corral-dev/corral/spec"
)

// execRecord is one exec instance: created, then started once.
type execRecord struct {
	id, containerID string
	req             container.ExecCreateRequest

	// mu guards the fields below.
	mu       sync.Mutex
	started  bool
	running  bool
	pid      int
	exitCode *int
}

// ExecCreate is POST /containers/{id}/exec.
func (s *Containers) ExecCreate(ctx context.Context, name string, req container.ExecCreateRequest) (container.ExecCreateResponse, error) {
	c, err := s.get(name)
	if err != nil {
		return container.ExecCreateResponse{}, err
	}
	if err := c.State.Check(ccontainer.OpExec, c.ID); err != nil {
		return container.ExecCreateResponse{}, err
	}
	if len(req.Cmd) == 0 {
		//lint:ignore ST1005 dockerd's wording.
		return container.ExecCreateResponse{}, errdefs.InvalidArgument(errors.New("No exec command specified"))
	}
	if _, err := parseDetachKeys(req.DetachKeys); err != nil {
		return container.ExecCreateResponse{}, err
	}
	rec := &execRecord{id: ccontainer.NewID(), containerID: c.ID, req: req}
	s.mu.Lock()
	s.execs[rec.id] = rec
	s.mu.Unlock()
	s.publish(c, events.Action("exec_create: "+strings.Join(req.Cmd, " ")), map[string]string{"execID": rec.id})
	return container.ExecCreateResponse{ID: rec.id}, nil
}

// exec finds an exec instance.
func (s *Containers) exec(id string) (*execRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.execs[id]; ok {
		return rec, nil
	}
	//lint:ignore ST1005 dockerd's wording.
	return nil, errdefs.NotFound(fmt.Errorf("No such exec instance: %s", id))
}

// forgetExecs drops the exec instances of a removed container.
func (s *Containers) forgetExecs(containerID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, rec := range s.execs {
		if rec.containerID == containerID {
			delete(s.execs, id)
		}
	}
}

// ExecStart is POST /exec/{id}/start.
func (s *Containers) ExecStart(ctx context.Context, id string, opts api.ExecStartOptions) error {
	rec, c, m, err := s.execTarget(ctx, id)
	if err != nil {
		return err
	}
	proc, err := s.execProcess(c, rec.req, opts)
	if err != nil {
		rec.finish(126)
		return err
	}
	var streams api.Streams
	if !opts.Detach {
		if streams, err = opts.Streams(rec.req.Tty); err != nil {
			rec.finish(126)
			return err
		}
	}
	stdin := rec.req.AttachStdin && !opts.Detach && streams.Stdin != nil
	stream, err := m.Exec(ctx, monitor.ExecOptions{ID: rec.id, Process: proc, Stdin: stdin, Detach: opts.Detach})
	if err != nil {
		rec.finish(startFailureCode(err))
		return fmt.Errorf("exec failed: %w", err)
	}
	rec.mu.Lock()
	rec.running, rec.pid = true, stream.Pid
	rec.mu.Unlock()
	s.publish(c, events.Action("exec_start: "+strings.Join(rec.req.Cmd, " ")), map[string]string{"execID": rec.id})
	if opts.Detach {
		stream.Close()
		go s.execWait(c, m, rec)
		return nil
	}
	defer stream.Close()
	if stdin {
		keys, _ := parseDetachKeys(rec.req.DetachKeys)
		go copyStdin(stream, streams.Stdin, ttyKeys(keys, rec.req.Tty))
	}
	cerr := copyOutput(streams, stream, rec.req.Tty)
	s.execWait(c, m, rec)
	return cerr
}

// execTarget checks that exec id can start and marks it started.
func (s *Containers) execTarget(ctx context.Context, id string) (*execRecord, *ccontainer.Container, *monitor.Client, error) {
	rec, err := s.exec(id)
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := s.get(rec.containerID)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := c.State.Check(ccontainer.OpExec, c.ID); err != nil {
		return nil, nil, nil, err
	}
	rec.mu.Lock()
	if rec.started {
		rec.mu.Unlock()
		return nil, nil, nil, errdefs.Conflict(fmt.Errorf("Error: Exec command %s is already running", id))
	}
	rec.started = true
	rec.mu.Unlock()
	m, err := s.monitorOf(ctx, c)
	if err != nil {
		return nil, nil, nil, err
	}
	return rec, c, m, nil
}

// execWait records the exit code of a started exec.
func (s *Containers) execWait(c *ccontainer.Container, m *monitor.Client, rec *execRecord) {
	code, err := m.ExecWait(s.ctx, rec.id)
	if err != nil {
		code = 126
	}
	rec.finish(code)
	s.publish(c, events.ActionExecDie, map[string]string{"execID": rec.id, "exitCode": fmt.Sprint(code)})
}

func (r *execRecord) finish(code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running, r.started = false, true
	r.exitCode = &code
}

// execProcess is the process of an exec: the container's process (its
// environment, user, capabilities, limits) with the exec's command and
// overrides.
func (s *Containers) execProcess(c *ccontainer.Container, req container.ExecCreateRequest, opts api.ExecStartOptions) (*specs.Process, error) {
	data, err := os.ReadFile(filepath.Join(c.BundlePath, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read container config: %w", err)
	}
	var sp specs.Spec
	if err := json.Unmarshal(data, &sp); err != nil || sp.Process == nil {
		return nil, fmt.Errorf("read container config: %v", err)
	}
	p := *sp.Process
	p.Args, p.Terminal, p.ConsoleSize = req.Cmd, req.Tty, nil
	p.Env = mergeExecEnv(p.Env, req.Env)
	if req.WorkingDir != "" {
		p.Cwd = req.WorkingDir
	}
	if req.User != "" {
		root := s.paths.rootfs(c.ID)
		passwd, _ := readInRoot(root, "/etc/passwd")
		group, _ := readInRoot(root, "/etc/group")
		u, err := spec.ResolveUser(req.User, c.HostConfig.GroupAdd, passwd, group)
		if err != nil {
			return nil, errdefs.InvalidArgument(err)
		}
		p.User = u
		if !hasEnv(c.Config.Env, "HOME") && !hasEnv(req.Env, "HOME") {
			p.Env = mergeExecEnv(p.Env, []string{"HOME=" + homeOf(u.UID, passwd)})
		}
	}
	if req.Privileged {
		all := s.host.Caps
		if all == nil {
			all = spec.KnownCaps()
		}
		p.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
	}
	cs := req.ConsoleSize
	if opts.ConsoleSize != nil {
		cs = opts.ConsoleSize
	}
	if req.Tty && cs != nil && cs[0] > 0 && cs[1] > 0 {
		p.ConsoleSize = &specs.Box{Height: cs[0], Width: cs[1]}
	}
	return &p, nil
}

// mergeExecEnv sets the exec's variables over the container's.
func mergeExecEnv(base, over []string) []string {
	out := append([]string{}, base...)
	for _, kv := range over {
		name, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range out {
			if n, _, _ := strings.Cut(old, "="); n == name {
				out[i], replaced = kv, true
				break
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// ExecResize is POST /exec/{id}/resize.
func (s *Containers) ExecResize(ctx context.Context, id string, height, width int) error {
	rec, err := s.exec(id)
	if err != nil {
		return err
	}
	c, err := s.get(rec.containerID)
	if err != nil {
		return err
	}
	m, err := s.monitorOf(ctx, c)
	if err != nil {
		return err
	}
	return m.ExecResize(ctx, id, uint16(height), uint16(width))
}

// ExecInspect is GET /exec/{id}/json.
func (s *Containers) ExecInspect(ctx context.Context, id string) (container.ExecInspectResponse, error) {
	rec, err := s.exec(id)
	if err != nil {
		return container.ExecInspectResponse{}, err
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	r := rec.req
	out := container.ExecInspectResponse{ID: rec.id, Running: rec.running, ExitCode: rec.exitCode,
		OpenStdin: r.AttachStdin, OpenStdout: r.AttachStdout, OpenStderr: r.AttachStderr,
		CanRemove: false, ContainerID: rec.containerID, DetachKeys: []byte(r.DetachKeys), Pid: rec.pid,
		ProcessConfig: &container.ExecProcessConfig{Tty: r.Tty, Entrypoint: r.Cmd[0], Arguments: r.Cmd[1:],
			Privileged: &r.Privileged, User: r.User}}
	return out, nil
}
