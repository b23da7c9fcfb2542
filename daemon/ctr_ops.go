package daemon

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/api"
	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
)

// defaultStopTimeout is dockerd's grace period before SIGKILL.
const defaultStopTimeout = 10

// apiRemoveForce is the removal of an auto-removed container.
var apiRemoveForce = api.ContainerRemoveOptions{Force: true, RemoveVolumes: true}

// ContainerStop is POST /containers/{id}/stop: the stop signal, then
// SIGKILL after the grace period.
func (s *Containers) ContainerStop(ctx context.Context, name string, opts api.ContainerStopOptions) error {
	c, unlock, err := s.lock(name)
	if err != nil {
		return err
	}
	defer unlock()
	if err := c.State.Check(ccontainer.OpStop, c.ID); err != nil {
		return err
	}
	if err := s.stop(ctx, c, opts); err != nil {
		return err
	}
	s.publish(c, events.ActionStop, nil)
	return nil
}

// stop stops a running (or restarting) container; the caller holds its op
// lock. The user stopped it: its restart policy no longer applies.
func (s *Containers) stop(ctx context.Context, c *ccontainer.Container, opts api.ContainerStopOptions) error {
	c, err := s.update(c.ID, func(c *ccontainer.Container) error {
		c.HasBeenManuallyStopped = true
		if c.State.Restarting {
			c.State.SetStopped(ccontainer.Exit{Code: c.State.ExitCode, At: c.State.FinishedAt})
		}
		return nil
	})
	if err != nil || !c.State.Running {
		return err
	}
	sig, err := stopSignal(c, opts.Signal)
	if err != nil {
		return err
	}
	timeout := stopTimeout(c, opts.Timeout)
	w := s.addWaiter(c.ID, false)
	defer s.dropWaiter(c.ID, w)
	if err := s.stopSignal(ctx, c, sig, sig == unix.SIGKILL); err != nil {
		return err
	}
	if sig != unix.SIGKILL {
		if s.waitExit(ctx, w, timeout) {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := s.stopSignal(ctx, c, unix.SIGKILL, true); err != nil {
			return err
		}
	}
	if !s.waitExit(ctx, w, 30*time.Second) {
		return fmt.Errorf("cannot stop container %s: it did not exit after SIGKILL", c.ID)
	}
	return nil
}

// stopSignal sends a signal of stop and, as dockerd, publishes a kill
// event for it; a container that exited meanwhile is no error.
func (s *Containers) stopSignal(ctx context.Context, c *ccontainer.Container, sig syscall.Signal, all bool) error {
	err := s.signal(ctx, c, sig, all)
	switch {
	case err == nil:
		s.publish(c, events.ActionKill, map[string]string{"signal": strconv.Itoa(int(sig))})
	case !errdefs.IsConflict(err):
		return err
	}
	return nil
}

// signal sends sig to the container's init (all: every process), thawing
// a paused container so that it can act on it.
func (s *Containers) signal(ctx context.Context, c *ccontainer.Container, sig syscall.Signal, all bool) error {
	m, err := s.monitorOf(ctx, c)
	if err != nil {
		return err
	}
	if err := m.Signal(ctx, sig, all); err != nil {
		return err
	}
	if c.State.Paused && (sig == unix.SIGKILL || sig == unix.SIGTERM || all) {
		if err := m.Resume(ctx); err == nil {
			_, err = s.update(c.ID, func(c *ccontainer.Container) error { c.State.SetUnpaused(); return nil })
			return err
		}
	}
	return nil
}

// stopSignal is the signal stop sends: the request's, the container's, or
// SIGTERM.
func stopSignal(c *ccontainer.Container, req string) (syscall.Signal, error) {
	name := req
	if name == "" {
		name = c.Config.StopSignal
	}
	if name == "" {
		return unix.SIGTERM, nil
	}
	return parseSignal(name)
}

// stopTimeout is the grace period: the request's, the container's or 10 s;
// negative waits forever.
func stopTimeout(c *ccontainer.Container, req *int) time.Duration {
	t := defaultStopTimeout
	if c.Config.StopTimeout != nil {
		t = *c.Config.StopTimeout
	}
	if req != nil {
		t = *req
	}
	if t < 0 {
		return -1
	}
	return time.Duration(t) * time.Second
}

// parseSignal reads a signal as docker takes it: "9", "KILL", "SIGKILL",
// "SIGRTMIN+3".
func parseSignal(s string) (syscall.Signal, error) {
	//lint:ignore ST1005 dockerd's wording.
	bad := errdefs.InvalidArgument(fmt.Errorf("Invalid signal: %s", s))
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, bad
		}
		return syscall.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	for _, rt := range []struct {
		prefix string
		base   int
		sign   int
	}{{"RTMIN+", 34, 1}, {"RTMAX-", 64, -1}} {
		if rest, ok := strings.CutPrefix(name, rt.prefix); ok {
			n, err := strconv.Atoi(rest)
			if err != nil || n < 0 || n > 30 {
				return 0, bad
			}
			return syscall.Signal(rt.base + rt.sign*n), nil
		}
	}
	switch name {
	case "RTMIN":
		return 34, nil
	case "RTMAX":
		return 64, nil
	}
	if sig := unix.SignalNum("SIG" + name); sig != 0 {
		return sig, nil
	}
	return 0, bad
}

// ContainerKill is POST /containers/{id}/kill.
func (s *Containers) ContainerKill(ctx context.Context, name, signal string) error {
	sig := unix.SIGKILL
	if signal != "" {
		var err error
		if sig, err = parseSignal(signal); err != nil {
			return err
		}
	}
	c, unlock, err := s.lock(name)
	if err != nil {
		return err
	}
	defer unlock()
	if err := c.State.Check(ccontainer.OpKill, c.ID); err != nil {
		return err
	}
	if c, err = s.update(c.ID, func(c *ccontainer.Container) error { c.HasBeenManuallyStopped = true; return nil }); err != nil {
		return err
	}
	if c.State.Restarting {
		return s.stop(ctx, c, api.ContainerStopOptions{})
	}
	w := s.addWaiter(c.ID, false)
	defer s.dropWaiter(c.ID, w)
	if err := s.signal(ctx, c, sig, sig == unix.SIGKILL); err != nil {
		return err
	}
	s.publish(c, events.ActionKill, map[string]string{"signal": strconv.Itoa(int(sig))})
	if sig == unix.SIGKILL {
		// As dockerd, a SIGKILL returns once the container is gone.
		s.waitExit(ctx, w, 30*time.Second)
	}
	return nil
}

// ContainerRestart is POST /containers/{id}/restart: stop (if running),
// then start.
func (s *Containers) ContainerRestart(ctx context.Context, name string, opts api.ContainerStopOptions) error {
	c, unlock, err := s.lock(name)
	if err != nil {
		return err
	}
	defer unlock()
	if err := c.State.Check(ccontainer.OpRestart, c.ID); err != nil {
		return err
	}
	if c.State.Running {
		if err := s.stop(ctx, c, opts); err != nil {
			return err
		}
		s.publish(c, events.ActionStop, nil) // as dockerd: kill, die, stop, start, restart
	}
	if c, err = s.update(c.ID, func(c *ccontainer.Container) error { c.UserStarted(); return nil }); err != nil {
		return err
	}
	if err := s.start(ctx, c); err != nil {
		return err
	}
	s.publish(c, events.ActionRestart, nil)
	return nil
}

// ContainerWait is POST /containers/{id}/wait.
func (s *Containers) ContainerWait(ctx context.Context, name string, cond container.WaitCondition) (<-chan container.WaitResponse, error) {
	c, err := s.get(name)
	if err != nil {
		return nil, err
	}
	switch cond {
	case "", container.WaitConditionNotRunning, container.WaitConditionNextExit, container.WaitConditionRemoved:
	default:
		return nil, errdefs.InvalidArgument(fmt.Errorf("invalid condition: %q", cond))
	}
	// Register before looking at the state, so an exit in between is seen.
	w := s.addWaiter(c.ID, cond == container.WaitConditionRemoved)
	if c, err = s.get(c.ID); err != nil {
		s.dropWaiter(c.ID, w)
		return nil, err
	}
	out := make(chan container.WaitResponse, 1)
	if (cond == "" || cond == container.WaitConditionNotRunning) && !c.State.Running {
		s.dropWaiter(c.ID, w)
		out <- container.WaitResponse{StatusCode: int64(c.State.ExitCode)}
		return out, nil
	}
	go func() {
		if r, ok := s.await(ctx, c.ID, w); ok {
			out <- r
		}
		close(out)
	}()
	return out, nil
}

// ContainerPause is POST /containers/{id}/pause.
func (s *Containers) ContainerPause(ctx context.Context, name string) error {
	return s.freeze(ctx, name, true)
}

// ContainerUnpause is POST /containers/{id}/unpause.
func (s *Containers) ContainerUnpause(ctx context.Context, name string) error {
	return s.freeze(ctx, name, false)
}

func (s *Containers) freeze(ctx context.Context, name string, pause bool) error {
	c, unlock, err := s.lock(name)
	if err != nil {
		return err
	}
	defer unlock()
	op, action := ccontainer.OpUnpause, events.ActionUnPause
	if pause {
		op, action = ccontainer.OpPause, events.ActionPause
	}
	if err := c.State.Check(op, c.ID); err != nil {
		return err
	}
	m, err := s.monitorOf(ctx, c)
	if err != nil {
		return err
	}
	if pause {
		err = m.Pause(ctx)
	} else {
		err = m.Resume(ctx)
	}
	if err != nil {
		return err
	}
	if c, err = s.update(c.ID, func(c *ccontainer.Container) error {
		if pause {
			c.State.SetPaused()
		} else {
			c.State.SetUnpaused()
		}
		return nil
	}); err != nil {
		return err
	}
	s.publish(c, action, nil)
	return nil
}
