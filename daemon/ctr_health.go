package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/api"
	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/health"
	cimage "github.com/corral-dev/corral/image"
	"github.com/corral-dev/corral/monitor"
)

// healthLoops are the running health check loops, one per running
// container with a health check.
type healthLoops struct {
	// mu guards cancel.
	mu     sync.Mutex
	cancel map[string]context.CancelFunc
}

// validateHealth refuses at create a bad health check or a bad
// io.corral.health-on-failure label.
func validateHealth(cfg *container.Config) error {
	if err := health.Validate(cfg.Healthcheck); err != nil {
		return errdefs.InvalidArgument(err)
	}
	if _, err := health.ActionOf(cfg.Labels); err != nil {
		return errdefs.InvalidArgument(err)
	}
	return nil
}

// inheritHealth is the check of a container whose request asks for req
// and whose image has img: as dockerd, what req leaves unset (a zero
// field, an empty test) comes from img, so --health-interval alone changes
// only the interval of the image's HEALTHCHECK.
func inheritHealth(req *container.HealthConfig, img *cimage.HealthConfig) *container.HealthConfig {
	if img == nil {
		return req
	}
	var merged cimage.ContainerConfig
	if req != nil {
		h := cimage.HealthConfig(*req)
		merged.Healthcheck = &h
	}
	mergeHealth(&merged, img)
	h := container.HealthConfig(*merged.Healthcheck)
	return &h
}

// resetHealth sets c's health to starting for a new start (in the update
// that records the start), if c has a health check.
func resetHealth(c *ccontainer.Container) {
	if _, ok := health.FromConfig(c.Config.Healthcheck, c.Config.Shell); ok {
		c.State.Health = health.Begin(c.State.Health)
	}
}

// startHealth runs the health checks of running container id until it
// exits (stopHealth), if it has a health check.
func (s *Containers) startHealth(id string) {
	c, err := s.store.Get(id)
	if err != nil || c.State.Health == nil || !c.State.Running || c.State.Restarting {
		return // no check, or it exited already
	}
	set, ok := health.FromConfig(c.Config.Healthcheck, c.Config.Shell)
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	s.health.mu.Lock()
	if s.health.cancel == nil {
		s.health.cancel = map[string]context.CancelFunc{}
	}
	if old := s.health.cancel[id]; old != nil {
		old()
	}
	s.health.cancel[id] = cancel
	s.health.mu.Unlock()
	p := &healthProbe{s: s, id: id, set: set, startedAt: c.State.StartedAt}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		health.Loop(ctx, set, c.State.StartedAt, c.State.Health.Status, p)
	}()
}

// stopHealth ends the health checks of container id (it exited); a
// check under way is killed and not recorded.
func (s *Containers) stopHealth(id string) {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	if cancel := s.health.cancel[id]; cancel != nil {
		cancel()
		delete(s.health.cancel, id)
	}
}

// healthProbe is the health.Probe of one run of a container: its checks
// are execs through the container's monitor, and its results go into the
// container's record as long as it is the run that started at startedAt.
type healthProbe struct {
	s         *Containers
	id        string
	set       health.Settings
	startedAt time.Time
}

// errStaleRun refuses a result of a run that is over.
var errStaleRun = errors.New("the container's run the check belongs to is over")

// errPaused refuses a result of a check that ran while the container was
// paused.
var errPaused = errors.New("the container is paused")

// Check runs argv as an exec in the container (its user, environment and
// working directory), as dockerd runs a check, with dockerd's
// exec_create, exec_start and exec_die events.
func (p *healthProbe) Check(ctx context.Context, argv []string, out io.Writer) (int, error) {
	s := p.s
	c, err := s.store.Get(p.id)
	if err != nil {
		return -1, err
	}
	if c.State.Paused {
		return -1, health.ErrSkip
	}
	m, err := s.monitorOf(ctx, c)
	if err != nil {
		return -1, err
	}
	proc, err := s.execProcess(c, container.ExecCreateRequest{Cmd: argv}, api.ExecStartOptions{})
	if err != nil {
		return -1, err
	}
	execID := ccontainer.NewID()
	cmdline := strings.Join(argv, " ")
	s.publish(c, events.Action(string(events.ActionExecCreate)+": "+cmdline), map[string]string{"execID": execID})
	stream, err := m.Exec(context.WithoutCancel(ctx), monitor.ExecOptions{ID: execID, Process: proc})
	if err != nil {
		return -1, fmt.Errorf("start health check: %w", err)
	}
	s.publish(c, events.Action(string(events.ActionExecStart)+": "+cmdline), map[string]string{"execID": execID})
	code, err := awaitCheck(ctx, m, execID, stream, out)
	s.publish(c, events.ActionExecDie, map[string]string{"execID": execID, "exitCode": strconv.Itoa(code)})
	return code, err
}

// awaitCheck copies the output of exec execID to out until it ends, or
// kills the exec when ctx ends first, and returns its exit code.
func awaitCheck(ctx context.Context, m *monitor.Client, execID string, stream *monitor.Stream, out io.Writer) (int, error) {
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_ = copyOutput(api.Streams{Stdout: out, Stderr: out}, stream, false)
	}()
	select {
	case <-copied:
	case <-ctx.Done():
		// Timed out (or the container stopped): kill the check. Its
		// children may hold its output open; the stream is closed
		// rather than drained.
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = m.ExecSignal(kctx, execID, unix.SIGKILL)
		cancel()
	}
	stream.Close()
	<-copied
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	code, werr := m.ExecWait(wctx, execID)
	switch {
	case ctx.Err() != nil:
		return code, ctx.Err()
	case werr != nil:
		return 126, fmt.Errorf("wait for health check: %w", werr)
	}
	return code, nil
}

// Record stores a result in the container's health, publishes
// health_status events on a change, and acts on a turn to unhealthy.
func (p *healthProbe) Record(r container.HealthcheckResult) (container.HealthStatus, bool) {
	s := p.s
	var changed bool
	var status container.HealthStatus
	c, err := s.update(p.id, func(c *ccontainer.Container) error {
		st := &c.State
		if !st.Running || st.Restarting || st.Health == nil || !st.StartedAt.Equal(p.startedAt) {
			return errStaleRun
		}
		status = st.Health.Status
		if st.Paused {
			// Paused while the check ran (which then timed out): the
			// result says nothing of the container's health.
			return errPaused
		}
		changed = health.Record(st.Health, p.set, st.StartedAt, r)
		return nil
	})
	switch {
	case errors.Is(err, errStaleRun), errdefs.IsNotFound(err):
		return "", false
	case errors.Is(err, errPaused):
		return status, true
	case err != nil:
		s.log.Warn("record health check", "container", p.id, "err", err)
		return status, s.ctx.Err() == nil
	}
	status = c.State.Health.Status
	if changed {
		s.publish(c, events.Action(string(events.ActionHealthStatus)+": "+string(status)), nil)
		if status == container.Unhealthy {
			s.onUnhealthy(c)
		}
	}
	return status, true
}

// onUnhealthy applies the io.corral.health-on-failure action of c, which
// just turned unhealthy, in the background (it stops the checks).
func (s *Containers) onUnhealthy(c *ccontainer.Container) {
	act, err := health.ActionOf(c.Labels())
	if err != nil || act == health.ActionNone {
		return
	}
	startedAt := c.State.StartedAt
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		unlock := s.ops.lock(c.ID)
		defer unlock()
		c, err := s.store.Get(c.ID)
		if err != nil || !c.State.Running || c.State.Restarting || !c.State.StartedAt.Equal(startedAt) {
			return // it stopped or started again meanwhile
		}
		s.log.Info("container is unhealthy", "container", c.ID, "action", act)
		if err := s.healthAction(c, act); err != nil {
			s.log.Warn("health-on-failure "+string(act), "container", c.ID, "err", err)
		}
	}()
}

// healthAction kills, stops or restarts c; the caller holds its op lock.
// The checks end first: a check that passes while the container goes down
// would only confuse. A kill leaves the restart policy to apply; a stop is
// the user's stop; a restart counts in RestartCount.
func (s *Containers) healthAction(c *ccontainer.Container, act health.Action) error {
	s.stopHealth(c.ID)
	if act == health.ActionKill {
		w := s.addWaiter(c.ID, false)
		defer s.dropWaiter(c.ID, w)
		if err := s.stopSignal(s.ctx, c, unix.SIGKILL, true); err != nil {
			return err
		}
		s.waitExit(s.ctx, w, 30*time.Second)
		return nil
	}
	if err := s.stop(s.ctx, c, api.ContainerStopOptions{}); err != nil {
		return err
	}
	s.publish(c, events.ActionStop, nil)
	if act != health.ActionRestart {
		return nil
	}
	c, err := s.update(c.ID, func(c *ccontainer.Container) error {
		c.HasBeenManuallyStopped = false
		c.RestartCount++
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.start(s.ctx, c); err != nil {
		return err
	}
	s.publish(c, events.ActionRestart, nil)
	return nil
}
