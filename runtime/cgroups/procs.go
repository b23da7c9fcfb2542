package cgroups

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// procsKeys are the hierarchies Pids prefers to list, in order. One
// hierarchy suffices because Join places a process on all of them; these are
// the ones no later limit-setting code will ever need to leave out.
var procsKeys = []string{UnifiedKey, "pids", "devices", "name=systemd", "freezer"}

// procsDir returns the directory whose tree Pids reads.
func (m *Manager) procsDir() (string, bool) {
	for _, k := range procsKeys {
		if dir, ok := m.paths[k]; ok {
			return dir, true
		}
	}
	ds := m.dirs()
	if len(ds) == 0 {
		return "", false
	}
	return ds[0], true
}

// Pids returns every process in the container's cgroup and its descendants.
// A cgroup that does not exist holds no processes.
func (m *Manager) Pids() ([]int, error) {
	dir, ok := m.procsDir()
	if !ok {
		return nil, nil
	}
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walk
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		ps, err := readProcs(filepath.Join(p, "cgroup.procs"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		pids = append(pids, ps...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list cgroup processes: %w", err)
	}
	// A thread of ours may be passing through (see EnterThread): the
	// runtime is never one of the container's processes.
	return slices.DeleteFunc(pids, func(pid int) bool { return pid == os.Getpid() }), nil
}

// readProcs parses a cgroup.procs file.
func readProcs(path string) ([]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseProcs(string(data))
}

// parseProcs parses cgroup.procs content: one pid per line.
func parseProcs(data string) ([]int, error) {
	var pids []int
	for _, f := range strings.Fields(data) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("parse cgroup.procs: %w", err)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// Signal sends sig to every process in the container's cgroup. Processes
// that exit meanwhile are not an error.
func (m *Manager) Signal(sig unix.Signal) error {
	pids, err := m.Pids()
	if err != nil {
		return err
	}
	var errs []error
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("signal pid %d: %w", pid, err))
		}
	}
	return errors.Join(errs...)
}

// KillAll sends SIGKILL to every process in the container's cgroup until
// none is left, or ctx is done. It uses cgroup.kill where the kernel has it;
// otherwise it freezes the cgroup (when a freezer is mounted) so no process
// can fork or exit between being listed and being signalled.
func (m *Manager) KillAll(ctx context.Context) error {
	delay := 2 * time.Millisecond
	for {
		pids, err := m.Pids()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if err := m.killOnce(); err != nil {
			return fmt.Errorf("kill cgroup processes: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kill cgroup processes: %d left: %w", len(pids), ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// killOnce sends SIGKILL to every process of the cgroup once.
func (m *Manager) killOnce() error {
	if dir, ok := m.paths[UnifiedKey]; ok {
		err := writeFile(filepath.Join(dir, "cgroup.kill"), "1")
		if !errors.Is(err, fs.ErrNotExist) {
			return err // nil, or a real failure
		}
	}
	frozen := m.Freeze() == nil
	err := m.Signal(unix.SIGKILL)
	if frozen {
		if terr := m.Thaw(); terr != nil {
			err = errors.Join(err, terr)
		}
	}
	return err
}
