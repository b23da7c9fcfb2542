package daemon

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/monitor"
)

// watch waits, in the background, for the exit of container id under
// monitor m, then records it (handleExit). One watcher per container.
func (s *Containers) watch(id string, m *monitor.Client) {
	s.mu.Lock()
	if s.watching[id] {
		s.mu.Unlock()
		return
	}
	s.watching[id] = true
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		st, err := m.Wait(s.ctx)
		if s.ctx.Err() != nil {
			return // the daemon is closing; the container goes on
		}
		if errors.Is(err, monitor.ErrMonitorDead) {
			st, err = monitor.Recover(s.ctx, s.paths.monitors, id)
		}
		if err != nil {
			s.log.Warn("container's monitor lost", "container", id, "err", err)
			st = &monitor.ExitStatus{ExitCode: monitor.DeadMonitorExitCode, ExitedAt: time.Now(), Error: err.Error()}
		}
		s.mu.Lock()
		delete(s.watching, id)
		s.mu.Unlock()
		s.handleExit(id, st)
	}()
}

// handleExit records the exit of container id: its state, the die event,
// the waiters; then its restart policy or auto-removal applies.
func (s *Containers) handleExit(id string, st *monitor.ExitStatus) {
	s.stopHealth(id)
	s.dns.Stop(id)
	s.releaseExited(id)
	exit := ccontainer.Exit{Code: st.ExitCode, OOMKilled: st.OOMKilled, At: st.ExitedAt}
	var restart bool
	var delay time.Duration
	// The record says stopped before the endpoints go, both under netMu,
	// so a connect sees either a running container whose endpoints this
	// releases or a stopped one it allocates nothing for.
	s.netMu.Lock()
	c, err := s.update(id, func(c *ccontainer.Container) error {
		clearEndpoints(c)
		probe := c.State
		probe.SetStopped(exit)
		var b ccontainer.Backoff
		restart, b = ccontainer.ShouldRestart(probe, c.RestartPolicy(), c.HasBeenManuallyStopped, c.Backoff())
		if restart {
			c.State.SetRestarting(exit)
			c.SetBackoff(b)
			delay = b.Delay
		} else {
			c.State.SetStopped(exit)
		}
		if st.Error != "" && st.ExitCode == monitor.DeadMonitorExitCode {
			c.State.Error = st.Error
		}
		return nil
	})
	s.releaseEndpointsLater(id)
	s.netMu.Unlock()
	if ferr := s.applyFirewallFor(c); ferr != nil {
		s.log.Warn("remove a stopped container's firewall rules", "container", id, "err", ferr)
	}
	if err != nil {
		s.log.Warn("record container exit", "container", id, "err", err)
		return
	}
	if st.LogDropped > 0 {
		s.log.Warn("the log driver dropped messages rather than hold the container up", "container", id,
			"driver", c.HostConfig.LogConfig.Type, "dropped", st.LogDropped)
	}
	if st.OOMKilled {
		s.publish(c, events.ActionOOM, nil)
	}
	s.publish(c, events.ActionDie, map[string]string{"exitCode": strconv.Itoa(st.ExitCode)})
	s.notify(id, false, container.WaitResponse{StatusCode: int64(st.ExitCode)})
	switch {
	case restart:
		s.scheduleRestart(id, delay)
	case c.HostConfig.AutoRemove:
		s.autoRemove(id)
	}
}

// releaseExited frees what exited container id holds outside its record.
// The monitor left it in the runtime (NoDelete); it goes before the record
// says exited, so a restart or start finds its ID free. The delete (its
// cgroups: a dozen rmdirs on cgroup v1, 0.7 ms) and the unmounts touch
// different things, so they run side by side.
func (s *Containers) releaseExited(id string) {
	deleted := make(chan struct{})
	go func() {
		defer close(deleted)
		if err := monitor.DeleteFromRuntime(s.ctx, s.paths.runtime, id); err != nil {
			s.log.Warn("delete exited container from the runtime", "container", id, "err", err)
		}
	}()
	s.unmountRootfs(id)
	s.releaseSecrets(id)
	<-deleted
}

// autoRemove removes container id in the background (--rm), once the verb
// that holds its op lock is done.
func (s *Containers) autoRemove(id string) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := s.ContainerRemove(s.ctx, id, apiRemoveForce)
		if err != nil && s.ctx.Err() == nil && !errdefs.IsNotFound(err) {
			s.log.Warn("auto-remove container", "container", id, "err", err)
		}
	}()
}

// scheduleRestart starts container id again after delay, unless the user
// stopped or removed it in between.
func (s *Containers) scheduleRestart(id string, delay time.Duration) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.ctx.Done():
			return
		}
		unlock := s.ops.lock(id)
		defer unlock()
		c, err := s.store.Get(id)
		if err != nil || !c.State.Restarting || c.HasBeenManuallyStopped {
			return
		}
		if err := s.start(s.ctx, c); err != nil {
			s.log.Warn("restart container", "container", id, "err", err)
		}
	}()
}

// handOver gives the monitor to the attaches made before start and waits
// until each has attached, so they see the output from the first byte.
func (s *Containers) handOver(id string, m *monitor.Client) {
	s.mu.Lock()
	pending := s.attaches[id]
	delete(s.attaches, id)
	s.mu.Unlock()
	for _, p := range pending {
		p.ready <- m
		select {
		case <-p.attached:
		case <-time.After(5 * time.Second):
		}
	}
}

// pendingAttach is an attach to a container that has not started yet.
type pendingAttach struct {
	ready    chan *monitor.Client
	attached chan struct{}
}

// addPendingAttach registers an attach to wait for container id's start.
func (s *Containers) addPendingAttach(id string) *pendingAttach {
	p := &pendingAttach{ready: make(chan *monitor.Client, 1), attached: make(chan struct{})}
	s.mu.Lock()
	s.attaches[id] = append(s.attaches[id], p)
	s.mu.Unlock()
	return p
}

// dropPendingAttach forgets p (its client left before the start).
func (s *Containers) dropPendingAttach(id string, p *pendingAttach) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.attaches[id]
	for i, x := range ps {
		if x == p {
			s.attaches[id] = append(ps[:i:i], ps[i+1:]...)
		}
	}
	if len(s.attaches[id]) == 0 {
		delete(s.attaches, id)
	}
}

// waitExit waits until container id has exited (w, registered before
// the signal, gets it), for at most timeout (negative: no limit) or until
// ctx ends. w stays registered, so it can be waited on again.
func (s *Containers) waitExit(ctx context.Context, w *waiter, timeout time.Duration) bool {
	var expire <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expire = t.C
	}
	select {
	case r := <-w.ch:
		w.ch <- r // keep it for a later wait on w
		return true
	case <-expire:
	case <-ctx.Done():
	}
	return false
}
