package daemon

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/monitor"
	"github.com/corral-dev/corral/snapshot"
)

// restore brings the service back in line with the containers' records
// after a start of the daemon: running containers whose monitor lives are
// watched again (live restore), those whose monitor died or was lost with
// a reboot are marked exited, interrupted removals are finished, restart
// policies apply, and what no record owns (mounts, monitor directories,
// bundles, snapshots) is removed.
func (s *Containers) restore(ctx context.Context) {
	for _, c := range s.store.All() {
		switch {
		case c.State.Removing:
			s.restoreRemoval(ctx, c)
		case c.State.Running && !c.State.Restarting:
			s.restoreRunning(ctx, c)
		case c.State.Restarting:
			// The restart timer died with the old daemon; start again.
			s.scheduleRestart(c.ID, 0)
		case ccontainer.RestartOnDaemonStart(c):
			s.startWithDaemon(c.ID)
		}
	}
	s.removeOrphans(ctx)
}

// startWithDaemon starts, in the background, a stopped container whose
// restart policy asks for it when the daemon starts: always (even after a
// manual stop, which this start forgets, as dockerd's), unless-stopped,
// on-failure with retries left.
func (s *Containers) startWithDaemon(id string) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		unlock := s.ops.lock(id)
		defer unlock()
		c, err := s.store.Get(id)
		if err != nil || c.State.Running || !ccontainer.RestartOnDaemonStart(c) {
			return
		}
		if c, err = s.update(id, func(c *ccontainer.Container) error { c.HasBeenManuallyStopped = false; return nil }); err != nil {
			s.log.Warn("start container with the daemon", "container", id, "err", err)
			return
		}
		if err := s.start(s.ctx, c); err != nil {
			s.log.Warn("start container with the daemon", "container", id, "err", err)
		}
	}()
}

// restoreRunning reconnects to the monitor of a container that was running.
func (s *Containers) restoreRunning(ctx context.Context, c *ccontainer.Container) {
	m, err := monitor.Connect(ctx, s.paths.monitors, c.ID)
	if errdefs.IsNotFound(err) {
		// The container exited, and its monitor with it, while the daemon
		// was away: its exit is recorded.
		if exit, rerr := monitor.ReadExit(s.paths.monitors, c.ID); rerr == nil {
			s.handleExit(c.ID, exit)
			return
		}
	}
	if err == nil {
		st, serr := m.Status(ctx)
		switch {
		case serr == nil && st.Exit != nil:
			s.handleExit(c.ID, st.Exit)
		case serr == nil:
			s.syncPaused(c, st.Paused)
			s.watch(c.ID, m)
			s.startHealth(c.ID)
			if err := s.startDNS(c, st.Pid); err != nil {
				s.log.Warn("restore the embedded DNS", "container", c.ID, "err", err)
			}
		default:
			err = serr
		}
		if err == nil {
			return
		}
	}
	var exit *monitor.ExitStatus
	if errors.Is(err, monitor.ErrMonitorDead) {
		exit, err = monitor.Recover(ctx, s.paths.monitors, c.ID)
	}
	if exit == nil {
		// No monitor at all: the exec root was lost (a reboot).
		exit = &monitor.ExitStatus{ExitCode: monitor.DeadMonitorExitCode, ExitedAt: time.Now()}
		if err != nil {
			exit.Error = err.Error()
		}
	}
	s.handleExit(c.ID, exit)
}

// syncPaused records a pause or resume that happened while the daemon was
// away (through the runtime, say).
func (s *Containers) syncPaused(c *ccontainer.Container, paused bool) {
	if c.State.Paused == paused {
		return
	}
	_, _ = s.update(c.ID, func(c *ccontainer.Container) error {
		if paused {
			c.State.SetPaused()
		} else {
			c.State.SetUnpaused()
		}
		return nil
	})
}

// restoreRemoval finishes a removal a previous daemon began.
func (s *Containers) restoreRemoval(ctx context.Context, c *ccontainer.Container) {
	unlock := s.ops.lock(c.ID)
	defer unlock()
	if err := s.release(ctx, c); err != nil {
		s.log.Warn("finish removal", "container", c.ID, "err", err)
		return
	}
	if err := s.store.Delete(ctx, c.ID); err != nil {
		s.log.Warn("finish removal", "container", c.ID, "err", err)
	}
}

// removeOrphans removes bundles, monitors, snapshots and record
// directories that belong to no container.
func (s *Containers) removeOrphans(ctx context.Context) {
	known := map[string]bool{}
	for _, c := range s.store.All() {
		known[c.ID] = true
	}
	for _, dir := range []string{s.paths.bundles, s.paths.monitors, s.paths.secrets()} {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if !known[e.Name()] && ccontainer.ValidateID(e.Name()) == nil {
				s.removeOrphan(ctx, e.Name())
			}
		}
	}
	_ = s.snapshots().Walk(ctx, func(info snapshot.Info) error {
		if id, ok := strings.CutPrefix(info.Key, "container-"); ok && !known[id] {
			if err := s.snapshots().Remove(ctx, info.Key); err != nil {
				s.log.Warn("remove orphan snapshot", "snapshot", info.Key, "err", err)
			}
		}
		return nil
	})
	for _, id := range s.store.Recovered().Orphans {
		s.removeOrphan(ctx, id)
		if err := s.store.RemoveOrphan(ctx, id); err != nil && !errdefs.IsNotFound(err) {
			s.log.Warn("remove orphan container directory", "container", id, "err", err)
		}
	}
}

// removeOrphan stops and removes what container id left without a record.
func (s *Containers) removeOrphan(ctx context.Context, id string) {
	if m, err := monitor.Connect(ctx, s.paths.monitors, id); err == nil {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_ = m.Signal(wctx, 9, true)
		_, _ = m.Wait(wctx)
		cancel()
	}
	c := &ccontainer.Container{ID: id}
	if err := s.release(ctx, c); err != nil {
		s.log.Warn("remove orphan container", "container", id, "err", err)
	}
}
