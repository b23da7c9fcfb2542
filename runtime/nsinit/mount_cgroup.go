package nsinit

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// hostCgroupRoot is where the host mounts its cgroups; init reads it before
// pivot_root, so it is the host's.
const hostCgroupRoot = "/sys/fs/cgroup"

// mountCgroup mounts the cgroups on dest: cgroup2 on a unified host, else a
// tmpfs with one directory per v1 hierarchy mounted on the host.
func (mt *mounter) mountCgroup(m *specs.Mount, dest string, o mountOpts) error {
	var st unix.Statfs_t
	if err := unix.Statfs(hostCgroupRoot, &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return mt.mountCgroup2(m, dest, o)
	}
	return mt.mountCgroup1(m, dest, o)
}

// mountCgroup2 mounts cgroup2. Without a cgroup namespace of its own user
// namespace, that fails with EPERM (or EBUSY): init's own cgroup directory
// is bound instead.
func (mt *mounter) mountCgroup2(m *specs.Mount, dest string, o mountOpts) error {
	c2 := *m
	c2.Type = "cgroup2"
	err := mt.mountNew(&c2, dest, o, false)
	if err == nil || !(errors.Is(err, unix.EPERM) || errors.Is(err, unix.EBUSY)) {
		return err
	}
	src := hostCgroupRoot
	if entries, rerr := readOwnCgroups(); rerr == nil {
		for _, e := range entries {
			if len(e.controllers) == 0 {
				src = path.Join(hostCgroupRoot, e.path)
			}
		}
	}
	bind := specs.Mount{Source: src, Destination: dest, Type: "bind",
		Options: append([]string{"rbind"}, m.Options...)}
	if berr := mt.mount(&bind, nil); berr != nil {
		return fmt.Errorf("bind %s after cgroup2 failed with %v: %w", src, err, berr)
	}
	return nil
}

// cgroupHierarchy is one v1 hierarchy mounted on the host.
type cgroupHierarchy struct {
	name   string // directory in the container: "cpu,cpuacct", "systemd"
	data   string // mount data: "cpu,cpuacct", "name=systemd"
	source string // host directory of init's own cgroup in it
}

// mountCgroup1 mounts a tmpfs on dest and, in it, every v1 hierarchy the
// host has mounted: a cgroup mount rooted at the namespace's cgroup with a
// cgroup namespace, else a bind mount of init's own cgroup directory. A
// co-mounted hierarchy gets one symlink per controller.
func (mt *mounter) mountCgroup1(m *specs.Mount, dest string, o mountOpts) error {
	hs, err := cgroupHierarchies(mt.cgroupns, mt.cgroupMounts)
	if err != nil {
		return err
	}
	tmpfs := specs.Mount{Source: "tmpfs", Destination: dest, Type: "tmpfs",
		Options: []string{"nosuid", "nodev", "noexec", "mode=755"}}
	for _, opt := range m.Options {
		if _, ok := propagationOpts[opt]; ok || opt == "ro" {
			tmpfs.Options = append(tmpfs.Options, opt)
		}
	}
	if err := mt.mount(&tmpfs, nil); err != nil {
		return fmt.Errorf("mount tmpfs for the hierarchies: %w", err)
	}
	dir, err := mt.hierarchyDirs(dest, hs)
	if err != nil {
		return err
	}
	defer dir.Close()
	for _, h := range hs {
		if err := mt.mountHierarchy(m, path.Join(dest, h.name), h, o); err != nil {
			return fmt.Errorf("cgroup hierarchy %s: %w", h.name, err)
		}
	}
	return cgroupSymlinks(dir, hs)
}

// hierarchyDirs makes the hierarchies' mount points in the tmpfs just
// mounted on dest, all through one handle of it (rather than looking each
// path up and creating it on its own), and returns that handle.
func (mt *mounter) hierarchyDirs(dest string, hs []cgroupHierarchy) (*os.File, error) {
	dir, err := openInRoot(mt.root, dest)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dest, err)
	}
	var fs unix.Statfs_t
	err = unix.Fstatfs(int(dir.Fd()), &fs)
	if err == nil && fs.Type != unix.TMPFS_MAGIC {
		err = fmt.Errorf("%s is not the tmpfs just mounted there", dest)
	}
	if err == nil {
		err = checkMountRoot(dir, dest)
	}
	for _, h := range hs {
		if err != nil {
			break
		}
		if err = unix.Mkdirat(int(dir.Fd()), h.name, 0o755); errors.Is(err, unix.EEXIST) {
			err = nil
		}
	}
	if err != nil {
		dir.Close()
		return nil, fmt.Errorf("make the hierarchies' directories in %s: %w", dest, err)
	}
	return dir, nil
}

// mountHierarchy mounts one v1 hierarchy on dest.
func (mt *mounter) mountHierarchy(m *specs.Mount, dest string, h cgroupHierarchy, o mountOpts) error {
	if !mt.cgroupns {
		bind := specs.Mount{Source: h.source, Destination: dest, Type: "bind",
			Options: append([]string{"rbind"}, m.Options...)}
		return mt.mount(&bind, nil)
	}
	dst, _, err := mt.mountpoint(dest, false, true)
	if err != nil {
		return err
	}
	defer dst.Close()
	if err := unix.Mount("cgroup", procFD(dst), "cgroup", o.flags, h.data); err != nil {
		return err
	}
	mnt, err := mt.reopenMount(dst, dest)
	if err != nil {
		return err
	}
	defer mnt.Close()
	return applyPropagation(mnt, o)
}

// cgroupSymlinks links, in dir, each controller of a co-mounted hierarchy
// to it: cpu -> cpu,cpuacct.
func cgroupSymlinks(dir *os.File, hs []cgroupHierarchy) error {
	for _, h := range hs {
		if !strings.Contains(h.name, ",") {
			continue
		}
		for _, c := range strings.Split(h.name, ",") {
			err := unix.Symlinkat(h.name, int(dir.Fd()), c)
			if err != nil && !errors.Is(err, unix.EEXIST) {
				return fmt.Errorf("symlink %s to %s: %w", c, h.name, err)
			}
		}
	}
	return nil
}

// cgroupHierarchies lists the v1 hierarchies mounted in init's mount
// namespace (a copy of the host's), each once: from mounts, the runtime's
// mountinfo lines of its cgroup mounts, or when that is empty from
// /proc/self/mountinfo.
func cgroupHierarchies(cgroupns bool, mounts string) ([]cgroupHierarchy, error) {
	var infos []mountInfo
	var err error
	if mounts != "" {
		infos, err = parseMountInfo(strings.NewReader(mounts))
	} else {
		infos, err = readMountInfo()
	}
	if err != nil {
		return nil, err
	}
	own, err := readOwnCgroups()
	if err != nil {
		return nil, err
	}
	var hs []cgroupHierarchy
	seen := map[string]bool{}
	for i := range infos {
		mi := &infos[i]
		e, ok := cgroupOf(own, mi)
		if mi.fstype != "cgroup" || !ok {
			continue
		}
		h := cgroupHierarchy{name: path.Base(mi.mountpoint), data: strings.Join(e.controllers, ",")}
		if seen[h.data] || seen[h.name] || h.name == "/" || h.name == "." {
			continue
		}
		seen[h.data], seen[h.name] = true, true
		if !cgroupns {
			rel, ok := cgroupRel(mi.root, e.path)
			if !ok {
				return nil, fmt.Errorf("own cgroup %s is outside the host's mount of %s (root %s)", e.path, mi.mountpoint, mi.root)
			}
			h.source = path.Join(mi.mountpoint, rel)
		}
		hs = append(hs, h)
	}
	return hs, nil
}

// cgroupRel returns p relative to the root of a cgroup mount.
func cgroupRel(root, p string) (string, bool) {
	if root == "/" || root == p {
		return strings.TrimPrefix(p, root), true
	}
	rel, ok := strings.CutPrefix(p, root+"/")
	return rel, ok
}
