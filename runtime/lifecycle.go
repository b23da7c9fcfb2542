package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/corral-dev/corral/runtime/cgroups"
	"github.com/corral-dev/corral/runtime/nsinit"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Start lets a created container run its process.
func (r *Runtime) Start(ctx context.Context, id string) error {
	rec, err := r.loadHooks(id)
	if err != nil {
		return err
	}
	return r.start(rec)
}

// start is Start on a loaded record; of its spec it uses only the hooks.
func (r *Runtime) start(rec *record) error {
	id := rec.ID
	if st := r.status(rec); st != specs.StateCreated {
		return fmt.Errorf("cannot start container %s: it is %s, not created: %w", id, st, ErrBadState)
	}
	if err := r.release(id); err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	if h := rec.Spec.Hooks; h != nil {
		if err := nsinit.RunAllHooks(h.Poststart, rec.ociState(specs.StateRunning)); err != nil {
			slog.Warn("poststart hook failed", "id", id, "err", err)
		}
	}
	return nil
}

// release wakes init through the exec fifo and waits on the done fifo
// until init has run the startContainer hooks and called execve.
func (r *Runtime) release(id string) error {
	done, err := os.OpenFile(filepath.Join(r.dir(id), doneFile), os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("open done fifo: %w", err)
	}
	defer done.Close()
	path := filepath.Join(r.dir(id), fifoFile)
	f, err := os.OpenFile(path, os.O_WRONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("init is not waiting: %w", err)
	}
	_, err = f.Write([]byte{0})
	f.Close()
	if err != nil {
		return fmt.Errorf("wake init: %w", err)
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	if err := unix.SetNonblock(int(done.Fd()), false); err != nil {
		return fmt.Errorf("done fifo: %w", err)
	}
	msg, err := io.ReadAll(done)
	if err != nil {
		return fmt.Errorf("wait for the process to start: %w", err)
	}
	os.Remove(filepath.Join(r.dir(id), doneFile))
	slog.Debug("init: closing the pipe to signal completion: the process was executed", "id", id)
	if len(msg) > 0 {
		return fmt.Errorf("container process failed to start: %s", msg)
	}
	return nil
}

// State reports a container's state.
func (r *Runtime) State(id string) (*State, error) {
	rec, err := r.loadHead(id)
	if err != nil {
		return nil, err
	}
	return r.stateOf(rec), nil
}

// List reports every container under the root, sorted by id.
func (r *Runtime) List() ([]*State, error) {
	entries, err := os.ReadDir(r.Root)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var out []*State
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		rec, err := r.loadHead(e.Name())
		if err != nil {
			continue // being created or deleted right now
		}
		out = append(out, r.stateOf(rec))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Kill sends sig to the container's init, or with all to every process in
// its cgroup.
func (r *Runtime) Kill(id string, sig unix.Signal, all bool) error {
	rec, err := r.loadHead(id)
	if err != nil {
		return err
	}
	if r.status(rec) == specs.StateStopped && !all {
		return fmt.Errorf("container %s is not running: %w", id, ErrBadState)
	}
	if all { // as runc: every process left in the cgroup, even once init is gone
		if err := cgroups.Load(rec.Cgroups).Signal(sig); err != nil {
			return fmt.Errorf("signal processes of %s: %w", id, err)
		}
		return nil
	}
	if err := unix.Kill(rec.Pid, sig); err != nil {
		return fmt.Errorf("signal container %s: %w", id, err)
	}
	return nil
}

// Delete removes a stopped (or, with force, any) container and everything
// the runtime made for it, then runs the poststop hooks.
func (r *Runtime) Delete(ctx context.Context, id string, force bool) error {
	rec, err := r.loadHooks(id)
	if errors.Is(err, ErrNotExist) {
		return r.deleteRemnant(id, force, err)
	}
	if err != nil {
		return err
	}
	return r.delete(ctx, rec, force)
}

// delete is Delete on a loaded record; of its spec it uses only the hooks.
func (r *Runtime) delete(ctx context.Context, rec *record, force bool) error {
	id := rec.ID
	st := r.status(rec)
	if (st == specs.StateRunning || st == statusPaused) && !force {
		return fmt.Errorf("cannot delete container %s that is %s (use --force): %w", id, st, ErrBadState)
	}
	cg := cgroups.Load(rec.Cgroups)
	if st != specs.StateStopped {
		unix.Kill(rec.Pid, unix.SIGKILL)
		if st == statusPaused {
			cg.Thaw()
		}
		waitGone(ctx, rec)
	}
	kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := cg.KillAll(kctx); err != nil {
		return fmt.Errorf("delete %s: kill remaining processes: %w", id, err)
	}
	if err := cg.Destroy(); err != nil {
		return fmt.Errorf("delete %s: remove cgroup: %w", id, err)
	}
	if err := os.RemoveAll(r.dir(id)); err != nil {
		return fmt.Errorf("delete %s: remove state: %w", id, err)
	}
	if h := rec.Spec.Hooks; h != nil {
		if err := nsinit.RunAllHooks(h.Poststop, rec.ociState(specs.StateStopped)); err != nil {
			slog.Warn("poststop hook failed", "id", id, "err", err)
		}
	}
	return nil
}

// deleteRemnant removes the directory of a create that died before it
// wrote its state; with force a missing container is not an error.
func (r *Runtime) deleteRemnant(id string, force bool, notExist error) error {
	if _, err := os.Stat(r.dir(id)); err == nil {
		if err := os.RemoveAll(r.dir(id)); err != nil {
			return fmt.Errorf("delete %s: %w", id, err)
		}
		return nil
	}
	if force {
		return nil
	}
	return notExist
}

// Spec returns the configuration a container was created with.
func (r *Runtime) Spec(id string) (*specs.Spec, error) {
	rec, err := r.load(id)
	if err != nil {
		return nil, err
	}
	return rec.Spec, nil
}

// waitGone waits (bounded) until the container's init is no longer running.
func waitGone(ctx context.Context, rec *record) {
	deadline := time.Now().Add(10 * time.Second)
	for processAlive(rec.Pid, rec.PidStart) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
}
