package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/api"
	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/monitor"
)

// ContainerRemove is DELETE /containers/{id}: a running container only
// with Force (it is killed first).
func (s *Containers) ContainerRemove(ctx context.Context, name string, opts api.ContainerRemoveOptions) error {
	c, unlock, err := s.lock(name)
	if err != nil {
		return err
	}
	defer unlock()
	if c.State.Running && !opts.Force {
		return removeRunningError(c)
	}
	if err := c.State.Check(ccontainer.OpForceRemove, c.ID); err != nil {
		return err
	}
	if c.State.Running {
		if err := s.stop(ctx, c, api.ContainerStopOptions{Signal: "KILL", Timeout: new(int)}); err != nil {
			return fmt.Errorf("cannot remove container %s: could not kill: %w", c.Name[1:], err)
		}
	}
	if err := s.remove(context.WithoutCancel(ctx), c.ID); err != nil {
		return err
	}
	s.forgetVolumes(c, opts.RemoveVolumes)
	return nil
}

// removeRunningError is dockerd's (25 and later) refusal to remove a
// running container without force.
func removeRunningError(c *ccontainer.Container) error {
	if c.State.Paused {
		return errdefs.Conflict(fmt.Errorf("cannot remove container %q: container is paused: unpause the container before removing or force remove", c.Name))
	}
	return errdefs.Conflict(fmt.Errorf("cannot remove container %q: container is %s: stop the container before removing or force remove", c.Name, c.State.Status()))
}

// remove deletes a stopped container and everything it holds; the caller
// holds its op lock. A failure half-way marks it Dead, for rm to retry.
func (s *Containers) remove(ctx context.Context, id string) error {
	c, err := s.update(id, func(c *ccontainer.Container) error { return c.State.SetRemoving(c.ID) })
	if err != nil {
		return err
	}
	if err := s.release(ctx, c); err != nil {
		_, _ = s.update(id, func(c *ccontainer.Container) error {
			c.State.SetDead()
			c.State.SetError(err)
			return nil
		})
		return fmt.Errorf("cannot remove container %s: %w", c.Name[1:], err)
	}
	if err := s.store.Delete(ctx, id); err != nil {
		return err
	}
	s.forgetExecs(id)
	s.forgetVolumes(c, false)
	s.publish(c, events.ActionDestroy, nil)
	s.notify(id, true, container.WaitResponse{StatusCode: int64(c.State.ExitCode)})
	return nil
}

// release frees what a stopped container holds outside its record: its
// mount, monitor directory, bundle, runtime state and cgroup, and
// writable snapshot.
func (s *Containers) release(ctx context.Context, c *ccontainer.Container) error {
	s.unmountRootfs(c.ID)
	s.releaseSecrets(c.ID)
	if mounted(s.paths.rootfs(c.ID)) {
		return errdefs.Conflict(errors.New("its filesystem is still mounted"))
	}
	if err := removeMonitor(ctx, s.paths.monitors, c.ID); err != nil {
		return err
	}
	if err := os.RemoveAll(s.paths.bundle(c.ID)); err != nil {
		return fmt.Errorf("remove bundle: %w", err)
	}
	if err := monitor.DeleteFromRuntime(ctx, s.paths.runtime, c.ID); err != nil {
		return err
	}
	if c.SnapshotKey != "" {
		if err := s.snapshots().Remove(ctx, c.SnapshotKey); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("remove container filesystem: %w", err)
		}
	}
	return nil
}

// removeMonitor removes a monitor's directory, giving a monitor that has
// recorded the exit a moment to finish writing to its clients; one that
// lingers is killed.
func removeMonitor(ctx context.Context, stateDir, id string) error {
	var err error
	for i := 0; i < 50; i++ {
		if err = monitor.Remove(ctx, stateDir, id); !errdefs.IsConflict(err) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m, cerr := monitor.Connect(ctx, stateDir, id); cerr == nil && m.Pid() > 0 {
		_ = unix.Kill(m.Pid(), unix.SIGKILL)
		time.Sleep(50 * time.Millisecond)
		err = monitor.Remove(ctx, stateDir, id)
	}
	return err
}
