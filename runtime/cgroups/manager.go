package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Manager is one container's cgroup across every mounted hierarchy. It holds
// only paths, so it is cheap to rebuild from saved state with Load; methods
// read and write cgroupfs directly and keep no other state.
type Manager struct {
	// paths maps a hierarchy key (a v1 controller such as "cpu", a named
	// hierarchy such as "name=systemd", or UnifiedKey) to the container's
	// directory on that hierarchy. Co-mounted controllers share a directory.
	paths map[string]string
	// mounts are the cgroup lines of the mountinfo New read, and hs the
	// hierarchies they describe; both empty for a Manager from Load.
	mounts string
	hs     []hierarchy
	// writeHook, when set by a test, replaces every write of Set.
	writeHook func(path, data string) error
}

// New resolves cgroupsPath for container id on every mounted hierarchy:
// "" means "<own cgroup>/<id>", a relative path is relative to the calling
// process's own cgroup on each hierarchy (from /proc/self/cgroup), and an
// absolute path is taken from each hierarchy's root. It creates nothing.
// Paths containing "..", the hierarchy root and the systemd driver's
// "slice:prefix:name" form are refused with an *InvalidPathError.
func New(cgroupsPath, id string) (*Manager, error) {
	p, err := target(cgroupsPath, id)
	if err != nil {
		return nil, err
	}
	mounts, err := readCgroupMounts()
	if err != nil {
		return nil, err
	}
	hs, err := parseMountinfo(strings.NewReader(mounts))
	if err != nil {
		return nil, err
	}
	own, err := readOwnCgroups()
	if err != nil {
		return nil, err
	}
	paths, err := resolve(hs, own, p)
	if err != nil {
		return nil, err
	}
	return &Manager{paths: paths, mounts: mounts, hs: hs}, nil
}

// MountInfo returns the lines of /proc/self/mountinfo that New found
// cgroup hierarchies on, so that a process started in a copy of this mount
// namespace need not read the whole table again (on a host with many
// mounts, each read costs about a millisecond). "" for a Manager from Load.
func (m *Manager) MountInfo() string {
	return m.mounts
}

// Load rebuilds a Manager from Paths() saved in the container's state.
func Load(paths map[string]string) *Manager {
	return &Manager{paths: maps.Clone(paths)}
}

// Paths returns hierarchy key → absolute directory of the container's
// cgroup: one key per v1 controller ("cpu", "memory", ..., "name=systemd";
// co-mounted controllers point to the same directory) and UnifiedKey ("")
// for the v2 hierarchy. The map is a copy.
func (m *Manager) Paths() map[string]string {
	return maps.Clone(m.paths)
}

// dirs returns the distinct directories of m, sorted.
func (m *Manager) dirs() []string {
	var ds []string
	for _, d := range m.paths {
		if !slices.Contains(ds, d) {
			ds = append(ds, d)
		}
	}
	slices.Sort(ds)
	return ds
}

// Create makes the container's directory on every hierarchy, with any
// missing parents. On the v1 cpuset hierarchy each new directory inherits
// cpuset.cpus and cpuset.mems from its parent, without which no task could
// join it. On a pure cgroup v2 host it also enables the hierarchy's
// controllers down to the new directory, where the parents allow it.
func (m *Manager) Create() error {
	cpuset, hasCpuset := m.paths["cpuset"]
	for _, dir := range m.dirs() {
		var err error
		if hasCpuset && dir == cpuset {
			err = createCpuset(dir)
		} else {
			err = os.MkdirAll(dir, 0o755)
		}
		if err != nil {
			return fmt.Errorf("create cgroup: %w", err)
		}
	}
	if dir, ok := m.v2Dir(); ok {
		enableControllers(mountRoot(dir), dir, writeFile)
	}
	return nil
}

// createCpuset creates dir and its missing parents one level at a time,
// and fills cpuset.cpus and cpuset.mems from the parent on every level from
// the nearest one that has both: a directory someone else made (mkdir -p of
// a pod cgroup) starts empty too, and no task can join below it until
// filled.
func createCpuset(dir string) error {
	var todo []string
	for d := dir; d != "/"; d = filepath.Dir(d) {
		ready, err := cpusetReady(d)
		if err != nil {
			return err
		}
		if ready {
			break
		}
		todo = append(todo, d)
	}
	for i := len(todo) - 1; i >= 0; i-- {
		if err := os.Mkdir(todo[i], 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := inheritCpuset(todo[i]); err != nil {
			return err
		}
	}
	return nil
}

// cpusetReady reports whether the cpuset directory dir exists with its
// cpus and mems set.
func cpusetReady(dir string) (bool, error) {
	for _, name := range []string{"cpuset.cpus", "cpuset.mems"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if strings.TrimSpace(string(data)) == "" {
			return false, nil
		}
	}
	return true, nil
}

// inheritCpuset copies cpuset.cpus and cpuset.mems from dir's parent into
// dir where dir's own are empty.
func inheritCpuset(dir string) error {
	for _, name := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(cur)) != "" {
			continue
		}
		val, err := os.ReadFile(filepath.Join(filepath.Dir(dir), name))
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dir, name), strings.TrimSpace(string(val))); err != nil {
			return err
		}
	}
	return nil
}

// Join moves process pid (with all its threads) into the container's cgroup
// on every hierarchy.
func (m *Manager) Join(pid int) error {
	for _, dir := range m.dirs() {
		if err := writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("adding pid %d to cgroups: %w", pid, err)
		}
	}
	return nil
}

// Destroy removes the container's directory and every directory below it on
// every hierarchy, deepest first, retrying briefly while exiting tasks still
// keep a directory busy. Directories that are already gone are fine. It never
// removes a parent of the container's directory nor a hierarchy's root.
func (m *Manager) Destroy() error {
	var errs []error
	for _, dir := range m.dirs() {
		if err := removeTree(dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("destroy cgroup: %w", err)
	}
	return nil
}

// removeTree removes the cgroup dir and its descendants. cgroupfs refuses
// unlink of its files, so only directories are rmdir'ed.
func removeTree(dir string) error {
	root, err := isMountRoot(dir)
	if err != nil {
		return err
	}
	if root {
		return fmt.Errorf("refuse to remove %s: it is a hierarchy root", dir)
	}
	// Usually there is nothing below it and nothing left in it: one rmdir.
	if err := unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return removeDirs(dir)
}

func removeDirs(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeDirs(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return rmdirRetry(dir)
}

// rmdirRetry removes an empty cgroup, waiting up to about two seconds while
// the kernel reports it busy (tasks that were killed but have not left yet).
func rmdirRetry(dir string) error {
	delay := 5 * time.Millisecond
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return &fs.PathError{Op: "rmdir", Path: dir, Err: err}
		}
		time.Sleep(delay)
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// isMountRoot reports whether dir is the root of a mount (its device differs
// from its parent's). A missing dir is not.
func isMountRoot(dir string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		return false, &fs.PathError{Op: "lstat", Path: dir, Err: err}
	}
	if err := unix.Lstat(filepath.Dir(dir), &parent); err != nil {
		return false, &fs.PathError{Op: "lstat", Path: filepath.Dir(dir), Err: err}
	}
	return st.Dev != parent.Dev || dir == "/", nil
}

// writeFile writes data to an existing cgroupfs file in one write(2). It
// truncates, as runc does: cgroupfs ignores that, a regular file (in tests)
// then holds exactly data.
func writeFile(path, data string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
