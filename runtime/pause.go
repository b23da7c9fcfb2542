package runtime

import (
	"fmt"

	"github.com/corral-dev/corral/runtime/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Pause freezes every process of a running container.
func (r *Runtime) Pause(id string) error {
	rec, err := r.loadHead(id)
	if err != nil {
		return err
	}
	if st := r.status(rec); st != specs.StateRunning && st != specs.StateCreated {
		return fmt.Errorf("cannot pause container %s: it is %s: %w", id, st, ErrBadState)
	}
	if err := cgroups.Load(rec.Cgroups).Freeze(); err != nil {
		return fmt.Errorf("pause %s: %w", id, err)
	}
	return nil
}

// Resume thaws a paused container.
func (r *Runtime) Resume(id string) error {
	rec, err := r.loadHead(id)
	if err != nil {
		return err
	}
	if st := r.status(rec); st != statusPaused {
		return fmt.Errorf("cannot resume container %s: it is %s, not paused: %w", id, st, ErrBadState)
	}
	if err := cgroups.Load(rec.Cgroups).Thaw(); err != nil {
		return fmt.Errorf("resume %s: %w", id, err)
	}
	return nil
}

// Pids lists the host pids of every process in the container.
func (r *Runtime) Pids(id string) ([]int, error) {
	rec, err := r.loadHead(id)
	if err != nil {
		return nil, err
	}
	pids, err := cgroups.Load(rec.Cgroups).Pids()
	if err != nil {
		return nil, fmt.Errorf("list processes of %s: %w", id, err)
	}
	return pids, nil
}
