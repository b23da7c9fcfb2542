package testutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// cleanupTimeout bounds how long the sandbox parent tries to empty and remove
// the per-run cgroups.
const cleanupTimeout = 20 * time.Second

// hierarchy is one mounted cgroup hierarchy.
type hierarchy struct {
	mountpoint string
	root       string   // the mount's root inside the hierarchy
	fstype     string   // "cgroup" or "cgroup2"
	options    []string // superblock options: the v1 controllers, name=...
}

// hierarchies lists every cgroup and cgroup2 hierarchy mounted in this mount
// namespace, each once even when it is mounted twice.
func hierarchies() ([]hierarchy, error) {
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	seen := map[[2]int]bool{}
	var hs []hierarchy
	for _, m := range mounts {
		dev := [2]int{m.Major, m.Minor}
		if seen[dev] {
			continue
		}
		seen[dev] = true
		hs = append(hs, hierarchy{
			mountpoint: m.Mountpoint,
			root:       m.Root,
			fstype:     m.FSType,
			options:    strings.Split(m.VFSOptions, ","),
		})
	}
	return hs, nil
}

// has reports whether the hierarchy's superblock options name opt.
func (h hierarchy) has(opt string) bool {
	for _, o := range h.options {
		if o == opt {
			return true
		}
	}
	return false
}

// ownDir returns the directory of the calling process's cgroup in h, given
// the lines of /proc/self/cgroup; the mount point when it is not visible.
func (h hierarchy) ownDir(procCgroup []string) string {
	for _, line := range procCgroup {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || !h.matches(parts[1]) {
			continue
		}
		rel, err := filepath.Rel(h.root, parts[2])
		if err != nil || strings.HasPrefix(rel, "..") {
			break
		}
		return filepath.Join(h.mountpoint, rel)
	}
	return h.mountpoint
}

// matches reports whether the controller field of a /proc/self/cgroup line
// names this hierarchy.
func (h hierarchy) matches(controllers string) bool {
	if h.fstype == "cgroup2" {
		return controllers == ""
	}
	if controllers == "" {
		return false
	}
	for _, c := range strings.Split(controllers, ",") {
		if !h.has(c) {
			return false
		}
	}
	return true
}

// createRunCgroups makes a cgroup named name beneath the caller's own cgroup
// in every mounted hierarchy and returns their paths.
func createRunCgroups(name string) ([]string, error) {
	hs, err := hierarchies()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read own cgroups: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var dirs []string
	for _, h := range hs {
		dir := filepath.Join(h.ownDir(lines), name)
		if err := makeCgroup(h, dir); err != nil {
			_ = removeCgroups(dirs, time.Now().Add(time.Second))
			return nil, err
		}
		dirs = append(dirs, dir)
	}
	return dirs, nil
}

// sandboxLeaf is the child of a cgroup v2 per-run cgroup that the
// sandboxed tests join. On v2 a cgroup whose children get domain
// controllers may hold no process itself, and a runtime (runc, corral)
// places a container with a relative cgroups path beside its caller's own
// cgroup, not under it: containers then land in the per-run cgroup, which
// stays free of processes, and can get every controller.
const sandboxLeaf = "sandbox"

// joinDir returns the directory the sandboxed tests join for the per-run
// cgroup dir: its sandboxLeaf on cgroup v2, dir itself on v1.
func joinDir(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return filepath.Join(dir, sandboxLeaf)
	}
	return dir
}

// makeCgroup creates dir; on cgroup v2 also its sandboxLeaf; in a v1 cpuset
// hierarchy it copies the parent's cpus and mems, without which no process
// may join.
func makeCgroup(h hierarchy, dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("create cgroup: %w", err)
	}
	if h.fstype == "cgroup2" {
		if err := os.Mkdir(filepath.Join(dir, sandboxLeaf), 0o755); err != nil {
			_ = os.Remove(dir)
			return fmt.Errorf("create cgroup: %w", err)
		}
		return nil
	}
	if !h.has("cpuset") {
		return nil
	}
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		val, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, f), val, 0o644)
		}
		if err != nil {
			_ = os.Remove(dir)
			return fmt.Errorf("copy %s into %s: %w", f, dir, err)
		}
	}
	return nil
}

// joinCgroups moves the calling process, all its threads, into each
// per-run cgroup (its sandboxLeaf on v2).
func joinCgroups(dirs []string) error {
	pid := []byte(strconv.Itoa(os.Getpid()))
	for _, dir := range dirs {
		dir = joinDir(dir)
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), pid, 0o644); err != nil {
			return fmt.Errorf("join cgroup %s: %w", dir, err)
		}
	}
	return nil
}

// cleanupCgroups kills every process left in dirs or beneath them and then
// removes them, deepest first.
func cleanupCgroups(dirs []string) error {
	deadline := time.Now().Add(cleanupTimeout)
	if err := killAll(dirs, deadline); err != nil {
		return err
	}
	return removeCgroups(dirs, deadline)
}

// killAll thaws and SIGKILLs the processes in the cgroup trees until none
// is left or the deadline passes.
func killAll(dirs []string, deadline time.Time) error {
	for {
		trees := cgroupTrees(dirs)
		thaw(trees)
		pids := procs(trees)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kill processes left in test cgroups: still there: %v", pids)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cgroupTrees returns every directory in the trees rooted at dirs, parents
// before their children.
func cgroupTrees(dirs []string) []string {
	var all []string
	for _, dir := range dirs {
		_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				all = append(all, path)
			}
			return nil
		})
	}
	return all
}

// thaw unfreezes every cgroup: a frozen process cannot die.
func thaw(cgroups []string) {
	for _, cg := range cgroups {
		_ = os.WriteFile(filepath.Join(cg, "freezer.state"), []byte("THAWED"), 0o644)
		_ = os.WriteFile(filepath.Join(cg, "cgroup.freeze"), []byte("0"), 0o644)
	}
}

// procs lists the processes in the cgroups.
func procs(cgroups []string) []int {
	var pids []int
	for _, cg := range cgroups {
		data, err := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// removeCgroups removes the cgroup trees rooted at dirs, children first,
// retrying while the kernel still counts exiting processes.
func removeCgroups(dirs []string, deadline time.Time) error {
	all := cgroupTrees(dirs)
	sort.SliceStable(all, func(i, j int) bool {
		return strings.Count(all[i], "/") > strings.Count(all[j], "/")
	})
	var errs []error
	for _, cg := range all {
		if err := rmdirRetry(cg, deadline); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func rmdirRetry(dir string, deadline time.Time) error {
	for {
		err := syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
