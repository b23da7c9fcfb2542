package nsinit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// prepareRootfs builds the container's filesystem under rootfs, before
// pivot_root: root propagation, the rootfs bind mount, the spec's mounts,
// the devices and the /dev symlinks. It must run in the container's own
// mount namespace.
//
// srcs are the bind sources the runtime opened (nil: none). A tmpfs /dev
// that asked for ro stays writable: the returned handle (nil if none) makes
// it read-only once the console is in place, and must be closed.
// cgroupMounts are the runtime's cgroup mountinfo lines ("": read them).
func prepareRootfs(spec *specs.Spec, rootfs string, srcs mountSources, cgroupMounts string) (*pendingRemount, error) {
	real, err := filepath.EvalSymlinks(rootfs)
	if err != nil {
		return nil, fmt.Errorf("resolve rootfs %s: %w", rootfs, err)
	}
	if err := prepareRoot(spec, real); err != nil {
		return nil, fmt.Errorf("prepare rootfs %s: %w", real, err)
	}
	root, err := os.OpenFile(real, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open rootfs: %w", err)
	}
	defer root.Close()
	mt := &mounter{root: root, rootfs: real, links: openProcLinks(), userns: inUserNS(spec),
		cgroupns: spec.Linux != nil && hasNamespace(spec, specs.CgroupNamespace), sources: srcs,
		cgroupMounts: cgroupMounts}
	defer mt.links.Close()
	defer mt.closePending()
	if err := mt.mountFilesystem(spec); err != nil {
		return nil, err
	}
	devRO := mt.devRO
	mt.devRO = nil
	return devRO, nil
}

// mountFilesystem makes the spec's mounts, the devices and the /dev
// symlinks, then the pending read-only remounts.
func (mt *mounter) mountFilesystem(spec *specs.Spec) error {
	if err := mt.mountAll(spec.Mounts); err != nil {
		return err
	}
	if needsDevices(spec) {
		nodes, err := deviceList(spec)
		if err != nil {
			return err
		}
		if err := mt.createDevices(nodes); err != nil {
			return err
		}
		if err := mt.devSymlinks(); err != nil {
			return err
		}
	}
	return mt.remountPending()
}

// prepareRoot makes the mount namespace's mounts stop propagating to the
// host (rslave unless rootfsPropagation says otherwise), makes the mount
// holding rootfs non-shared (pivot_root requires it) and binds rootfs onto
// itself so that it is a mount point.
func prepareRoot(spec *specs.Spec, rootfs string) error {
	prop, err := rootfsPropagation(spec)
	if err != nil {
		return err
	}
	flags := uintptr(unix.MS_SLAVE | unix.MS_REC)
	if prop != 0 {
		flags = prop
	}
	if err := unix.Mount("", "/", "", flags, ""); err != nil {
		return fmt.Errorf("set propagation of /: %w", err)
	}
	parentFlags := uintptr(unix.MS_PRIVATE)
	if prop&unix.MS_SLAVE != 0 {
		parentFlags = unix.MS_SLAVE
	}
	if err := makeParentMount(rootfs, parentFlags); err != nil {
		return err
	}
	if err := unix.Mount(rootfs, rootfs, "bind", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind rootfs onto itself: %w", err)
	}
	return nil
}

// makeParentMount sets the propagation of the mount that contains p:
// mount(2) answers EINVAL for a path that is not a mount point, so it walks
// up until one is.
func makeParentMount(p string, flags uintptr) error {
	for {
		err := unix.Mount("", p, "", flags, "")
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) || p == "/" {
			return fmt.Errorf("make the mount holding the rootfs private: %s: %w", p, err)
		}
		p = path.Dir(p)
	}
}

// needsDevices is false when the spec binds a /dev from the host: then
// nothing is created in it.
func needsDevices(spec *specs.Spec) bool {
	for i := range spec.Mounts {
		m := &spec.Mounts[i]
		o, err := parseMountOptions(m.Options)
		if err == nil && o.isBind(m) && path.Clean(m.Destination) == "/dev" {
			return false
		}
	}
	return true
}

// inUserNS reports whether init runs in a user namespace, by the spec or,
// for a runtime that is itself in one, by its uid map.
func inUserNS(spec *specs.Spec) bool {
	if spec.Linux != nil && hasNamespace(spec, specs.UserNamespace) {
		return true
	}
	data, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := bytes.Fields(data)
	return len(f) < 3 || !bytes.Equal(f[2], []byte("4294967295"))
}

// remountPending makes the tmpfs mounts that asked for ro read-only, now
// that everything under them exists.
func (mt *mounter) remountPending() error {
	for _, p := range mt.readonly {
		real, err := mt.realPath(p.mnt)
		if err != nil {
			return err
		}
		if err := p.remount(real); err != nil {
			return err
		}
	}
	return nil
}

// remount makes the pending mount read-only through its /proc/self/fd
// link, keeping its nosuid, nodev and noexec.
func (p *pendingRemount) remount(name string) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(p.mnt.Fd()), &st); err != nil {
		return fmt.Errorf("statfs %s: %w", name, err)
	}
	flags := p.flags&^(unix.MS_BIND|unix.MS_REC) | statfsMountFlags(&st)&(unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC)
	if err := unix.Mount("", procFD(p.mnt), "", flags|unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("remount %s read-only: %w", name, err)
	}
	return nil
}

// delayReadonly records a mount to make read-only later: at the end of
// prepareRootfs, or for /dev once the console is bound into it.
func (mt *mounter) delayReadonly(p pendingRemount, dev bool) {
	if !dev {
		mt.readonly = append(mt.readonly, p)
		return
	}
	mt.devRO.Close()
	mt.devRO = &p
}

func (mt *mounter) closePending() {
	for _, p := range mt.readonly {
		p.mnt.Close()
	}
	mt.readonly = nil
	mt.devRO.Close()
	mt.devRO = nil
}

// finishReadonly makes /dev read-only, as its mount asked, after init
// bound /dev/console into it (runc does the same, in finalizeRootfs). It
// runs after pivot_root, so it acts on the mount's handle with
// mount_setattr rather than on a path. A nil p does nothing.
func (p *pendingRemount) finishReadonly() error {
	if p == nil {
		return nil
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	err := unix.MountSetattr(int(p.mnt.Fd()), "", unix.AT_EMPTY_PATH, &attr)
	if errors.Is(err, unix.ENOSYS) {
		return p.remount("/dev")
	}
	if err != nil {
		return fmt.Errorf("remount /dev read-only: %w", err)
	}
	return nil
}

// Close releases the handle of the pending mount; nil is allowed.
func (p *pendingRemount) Close() {
	if p != nil {
		p.mnt.Close()
	}
}

// enterRootfs makes rootfs the root: pivot_root, or with noPivot a move of
// the rootfs mount onto / and chroot. The working directory ends at "/".
func enterRootfs(rootfs string, noPivot bool) error {
	real, err := filepath.EvalSymlinks(rootfs)
	if err != nil {
		return fmt.Errorf("resolve rootfs %s: %w", rootfs, err)
	}
	if noPivot {
		err = moveRoot(real)
	} else {
		err = pivotRoot(real)
	}
	if err != nil {
		return fmt.Errorf("enter rootfs %s: %w", real, err)
	}
	return nil
}

// pivotRoot uses pivot_root(".", "."): the old root ends stacked under the
// new one, and is detached at once, without a directory in the rootfs.
func pivotRoot(rootfs string) error {
	oldRoot, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open old root: %w", err)
	}
	defer unix.Close(oldRoot)
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("chdir: %w", err)
	}
	// pivot_root refuses a shared current root; it is detached below anyway.
	if err := unix.Mount("", "/", "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make old root private: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Fchdir(oldRoot); err != nil {
		return fmt.Errorf("chdir to old root: %w", err)
	}
	// rslave, so that the detach below cannot propagate to the host.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return chdirRoot()
}

// moveRoot is the no-pivot way: the host's proc and sysfs mounts are hidden
// first (else a proc mount would be allowed through them, and they stay in
// the namespace), then the rootfs is moved onto / and chrooted into.
func moveRoot(rootfs string) error {
	if err := hideHostKernelFS(rootfs); err != nil {
		return err
	}
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("chdir: %w", err)
	}
	if err := unix.Mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move rootfs onto /: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	return chdirRoot()
}

// hideHostKernelFS unmounts (or covers with a tmpfs) every full proc and
// sysfs mount outside the rootfs.
func hideHostKernelFS(rootfs string) error {
	infos, err := readMountInfo()
	if err != nil {
		return err
	}
	for _, mi := range infos {
		p := mi.mountpoint
		if mi.root != "/" || (mi.fstype != "proc" && mi.fstype != "sysfs") ||
			p == rootfs || len(p) > len(rootfs) && p[:len(rootfs)+1] == rootfs+"/" {
			continue
		}
		if err := unix.Mount("", p, "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // under a mount already gone
			}
			return fmt.Errorf("make %s rslave: %w", p, err)
		}
		err := unix.Unmount(p, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM) {
			err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0")
		}
		if err != nil {
			return fmt.Errorf("hide host %s at %s: %w", mi.fstype, p, err)
		}
	}
	return nil
}

func chdirRoot() error {
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir to new root: %w", err)
	}
	return nil
}

// finishRootfs runs inside the new root: sysctls, masked and read-only
// paths, a read-only root and the root's propagation.
func finishRootfs(spec *specs.Spec) error {
	if spec.Linux != nil {
		if err := writeSysctls(spec); err != nil {
			return err
		}
		if err := maskPaths(spec.Linux.MaskedPaths); err != nil {
			return err
		}
		if err := readonlyPaths(spec.Linux.ReadonlyPaths); err != nil {
			return err
		}
	}
	if spec.Root != nil && spec.Root.Readonly {
		if err := remountRootReadonly(); err != nil {
			return err
		}
	}
	prop, err := rootfsPropagation(spec)
	if err != nil || prop == 0 || prop&(unix.MS_PRIVATE|unix.MS_SLAVE) != 0 {
		// private and slave were set on the rootfs's parent before pivot.
		return err
	}
	if err := unix.Mount("", "/", "", prop, ""); err != nil {
		return fmt.Errorf("set rootfs propagation %s: %w", spec.Linux.RootfsPropagation, err)
	}
	return nil
}

// remountRootReadonly makes / read-only, keeping its locked flags.
func remountRootReadonly() error {
	var st unix.Statfs_t
	if err := unix.Statfs("/", &st); err != nil {
		return fmt.Errorf("statfs /: %w", err)
	}
	flags := statfsMountFlags(&st)&lockableFlags | unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY
	if err := unix.Mount("", "/", "", flags, ""); err != nil {
		return fmt.Errorf("remount / read-only: %w", err)
	}
	return nil
}
