package container

import (
	"errors"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/errdefs"
)

// State is where a container is in its life. As dockerd's, it is a set of
// flags from which Status derives: a restarting container is Running and
// Restarting (its process is gone, the policy will start a new one), a
// paused one Running and Paused.
type State struct {
	Running    bool
	Paused     bool
	Restarting bool
	OOMKilled  bool
	// Removing is set while the container is being removed; a record found
	// with it after a daemon restart is a removal to finish.
	Removing bool `json:",omitempty"`
	// Dead marks a container whose removal failed half-way; only rm is
	// left for it.
	Dead bool
	// Pid is the container's init process on the host, 0 when none.
	Pid int
	// ExitCode is the last process's exit code, or the code of a failed
	// start (126, 127, 128, as dockerd sets).
	ExitCode int
	// Error is the last error of start, stop or remove.
	Error string
	// StartedAt and FinishedAt are UTC; zero until the first start and
	// the first exit.
	StartedAt  time.Time
	FinishedAt time.Time
	// Health is the health check's state, nil without a health check.
	Health *container.Health `json:",omitempty"`
}

// Status is the state's name in the API ("created", "running", "paused",
// "restarting", "removing", "exited", "dead"), derived as dockerd does.
func (s *State) Status() container.ContainerState {
	switch {
	case s.Running && s.Paused:
		return container.StatePaused
	case s.Running && s.Restarting:
		return container.StateRestarting
	case s.Running:
		return container.StateRunning
	case s.Removing:
		return container.StateRemoving
	case s.Dead:
		return container.StateDead
	case s.StartedAt.IsZero():
		return container.StateCreated
	}
	return container.StateExited
}

// HealthStatus is the health check's status, "none" without one.
func (s *State) HealthStatus() container.HealthStatus {
	if s.Health == nil || s.Health.Status == "" {
		return container.NoHealthcheck
	}
	return s.Health.Status
}

// Exit is how a container's process ended, as its monitor reported.
type Exit struct {
	Code      int
	OOMKilled bool
	// At is when it exited; the zero time means now.
	At time.Time
}

func (e Exit) at() time.Time {
	if e.At.IsZero() {
		return time.Now().UTC()
	}
	return e.At.UTC()
}

// SetRunning records a started process: pid, started at now.
func (s *State) SetRunning(pid int, now time.Time) {
	s.Running, s.Paused, s.Restarting = true, false, false
	s.OOMKilled, s.Dead = false, false
	s.Pid, s.ExitCode, s.Error = pid, 0, ""
	s.StartedAt = now.UTC()
}

// SetStopped records the exit of the container's process.
func (s *State) SetStopped(e Exit) {
	s.Running, s.Paused, s.Restarting = false, false, false
	s.Pid = 0
	s.ExitCode, s.OOMKilled = e.Code, e.OOMKilled
	s.FinishedAt = e.at()
}

// SetRestarting records an exit after which the restart policy starts the
// container again: it stays Running, with Restarting set and no process.
func (s *State) SetRestarting(e Exit) {
	s.Running, s.Paused, s.Restarting = true, false, true
	s.Pid = 0
	s.ExitCode, s.OOMKilled = e.Code, e.OOMKilled
	s.FinishedAt = e.at()
}

// SetStartFailed records a start that failed before the process ran: the
// error, and dockerd's exit code for it (127 command not found, 126 not
// executable, 128 otherwise). A container that never ran stays "created".
func (s *State) SetStartFailed(code int, err error) {
	s.Running, s.Paused, s.Restarting = false, false, false
	s.Pid, s.ExitCode = 0, code
	if err != nil {
		s.Error = err.Error()
	}
}

// SetError records the last error of an operation.
func (s *State) SetError(err error) {
	s.Error = ""
	if err != nil {
		s.Error = err.Error()
	}
}

// SetPaused and SetUnpaused record a freeze and a thaw.
func (s *State) SetPaused()   { s.Paused = true }
func (s *State) SetUnpaused() { s.Paused = false }

// SetRemoving marks the start of a removal; a second one is refused
// (Conflict), as dockerd refuses two concurrent rm of one container.
func (s *State) SetRemoving(id string) error {
	if s.Removing {
		return errdefs.Conflict(fmt.Errorf("removal of container %s is already in progress", id))
	}
	s.Removing = true
	return nil
}

// ResetRemoving clears Removing after a removal that failed early.
func (s *State) ResetRemoving() { s.Removing = false }

// SetDead marks a container whose removal failed half-way.
func (s *State) SetDead() {
	s.Running, s.Paused, s.Restarting = false, false, false
	s.Removing, s.Dead = false, true
	s.Pid = 0
}

// IsRunning reports whether the container has (or, restarting, will have
// again) a process: dockerd's IsRunning.
func (s *State) IsRunning() bool { return s.Running }

// errNotRunning is dockerd's refusal of a verb that needs a process.
func errNotRunning(id string) error {
	return errdefs.Conflict(fmt.Errorf("Container %s is not running", id))
}

func errRestarting(id string) error {
	return errdefs.Conflict(fmt.Errorf("Container %s is restarting, wait until the container is running", id))
}

var errMarkedForRemoval = errors.New("container is marked for removal and cannot be started")

func notModified(msg string) error { return errdefs.Wrap(errdefs.ErrNotModified, errors.New(msg)) }
