package nsinit

import (
	"errors"
	"fmt"
	"os"
	"path"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// devNode is a device file to create in the container.
type devNode struct {
	path         string
	typ          uint32 // S_IFCHR, S_IFBLK or S_IFIFO
	major, minor uint32
	mode         uint32 // permission bits
	uid, gid     uint32
}

// defaultDevices are created in every container whose /dev is not bound
// from the host, unless linux.devices lists the same path.
var defaultDevices = []devNode{
	{path: "/dev/null", typ: unix.S_IFCHR, major: 1, minor: 3, mode: 0o666},
	{path: "/dev/zero", typ: unix.S_IFCHR, major: 1, minor: 5, mode: 0o666},
	{path: "/dev/full", typ: unix.S_IFCHR, major: 1, minor: 7, mode: 0o666},
	{path: "/dev/random", typ: unix.S_IFCHR, major: 1, minor: 8, mode: 0o666},
	{path: "/dev/urandom", typ: unix.S_IFCHR, major: 1, minor: 9, mode: 0o666},
	{path: "/dev/tty", typ: unix.S_IFCHR, major: 5, minor: 0, mode: 0o666},
}

// specDevice converts a linux.devices entry.
func specDevice(d *specs.LinuxDevice) (devNode, error) {
	n := devNode{major: uint32(d.Major), minor: uint32(d.Minor), mode: 0o666}
	switch d.Type {
	case "c", "u":
		n.typ = unix.S_IFCHR
	case "b":
		n.typ = unix.S_IFBLK
	case "p":
		n.typ = unix.S_IFIFO
	default:
		return n, fmt.Errorf("device %s: unknown type %q (want c, b, u or p)", d.Path, d.Type)
	}
	if d.Major < 0 || d.Minor < 0 || d.Major > 0xfff || d.Minor > 0xfffff {
		return n, fmt.Errorf("device %s: invalid number %d:%d", d.Path, d.Major, d.Minor)
	}
	p, err := cleanDest(d.Path)
	if err != nil {
		return n, fmt.Errorf("device: %w", err)
	}
	n.path = p
	if d.FileMode != nil {
		n.mode = uint32(*d.FileMode) & 0o7777
	}
	if d.UID != nil {
		n.uid = *d.UID
	}
	if d.GID != nil {
		n.gid = *d.GID
	}
	return n, nil
}

// deviceList merges the default devices with linux.devices; /dev/ptmx is
// left out, it becomes a symlink to the devpts instance.
func deviceList(spec *specs.Spec) ([]devNode, error) {
	var nodes []devNode
	listed := map[string]bool{}
	if spec.Linux != nil {
		for i := range spec.Linux.Devices {
			n, err := specDevice(&spec.Linux.Devices[i])
			if err != nil {
				return nil, err
			}
			if n.path != "/dev/ptmx" && !listed[n.path] {
				nodes = append(nodes, n)
				listed[n.path] = true
			}
		}
	}
	for _, n := range defaultDevices {
		if !listed[n.path] {
			nodes = append(nodes, n)
		}
	}
	return nodes, nil
}

// createDevices creates the device files. In a user namespace mknod is not
// allowed: the host's device at the same path is bound onto an empty file.
func (mt *mounter) createDevices(nodes []devNode) error {
	for _, n := range nodes {
		if err := mt.createDevice(n); err != nil {
			return fmt.Errorf("create device %s: %w", n.path, err)
		}
	}
	return nil
}

func (mt *mounter) createDevice(n devNode) error {
	dir, err := mkdirAllInRoot(mt.root, path.Dir(n.path), 0o755)
	if err != nil {
		return fmt.Errorf("create parent directory: %w", err)
	}
	defer dir.Close()
	name := path.Base(n.path)
	keep, err := clearDevicePath(dir, name, n, mt.userns)
	if err != nil || keep {
		return err
	}
	if mt.userns && n.typ != unix.S_IFIFO {
		return bindDevice(dir, name, n)
	}
	err = unix.Mknodat(int(dir.Fd()), name, n.typ|n.mode, int(unix.Mkdev(n.major, n.minor)))
	if errors.Is(err, unix.EPERM) && n.typ != unix.S_IFIFO {
		return bindDevice(dir, name, n)
	}
	if err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	return fixDevice(dir, name, n)
}

// clearDevicePath makes room for a device: whatever the image has at its
// path (a file, a symlink into /proc/sys...) is removed. It reports keep
// when the right node, or a mount point, is already there.
func clearDevicePath(dir *os.File, name string, n devNode, userns bool) (keep bool, err error) {
	var stx unix.Statx_t
	err = unix.Statx(int(dir.Fd()), name, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_TYPE|unix.STATX_MODE, &stx)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat existing entry: %w", err)
	}
	if stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0 {
		return true, nil
	}
	typ := uint32(stx.Mode) & unix.S_IFMT
	if typ == n.typ && stx.Rdev_major == n.major && stx.Rdev_minor == n.minor && !userns {
		return true, fixDevice(dir, name, n)
	}
	if typ == unix.S_IFDIR {
		return false, errors.New("a directory is in the way")
	}
	if err := unix.Unlinkat(int(dir.Fd()), name, 0); err != nil {
		return false, fmt.Errorf("remove the image's %s: %w", name, err)
	}
	return false, nil
}

// fixDevice checks the new node and sets its mode (mknod applies the
// umask) and owner.
func fixDevice(dir *os.File, name string, n devNode) error {
	f, err := openNoFollow(dir, name, n.typ)
	if err != nil {
		return err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	if n.typ != unix.S_IFIFO && st.Rdev != unix.Mkdev(n.major, n.minor) {
		return fmt.Errorf("node has number %d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	// chmod and chown through the magic link act on the node itself.
	if err := unix.Chmod(procFD(f), n.mode); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	if err := unix.Chown(procFD(f), int(n.uid), int(n.gid)); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	return nil
}

// bindDevice binds the host's device at the same path onto an empty file.
func bindDevice(dir *os.File, name string, n devNode) error {
	var st unix.Stat_t
	if err := unix.Stat(n.path, &st); err != nil {
		return fmt.Errorf("host device to bind: %w", err)
	}
	if st.Mode&unix.S_IFMT != n.typ || st.Rdev != unix.Mkdev(n.major, n.minor) {
		return fmt.Errorf("host's %s is not device %d:%d: cannot bind it", n.path, n.major, n.minor)
	}
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("create mountpoint: %w", err)
	}
	unix.Close(fd)
	f, err := openNoFollow(dir, name, unix.S_IFREG)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Mount(n.path, procFD(f), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s: %w", n.path, err)
	}
	return nil
}

// devSymlinks creates /dev/fd, stdin, stdout, stderr, core (when /proc is a
// procfs with kcore) and ptmx (when /dev/pts is a devpts).
func (mt *mounter) devSymlinks() error {
	links := [][2]string{
		{"fd", "/proc/self/fd"},
		{"stdin", "/proc/self/fd/0"},
		{"stdout", "/proc/self/fd/1"},
		{"stderr", "/proc/self/fd/2"},
	}
	if mt.hasFS("/proc/kcore", unix.PROC_SUPER_MAGIC) {
		links = append(links, [2]string{"core", "/proc/kcore"})
	}
	if mt.hasFS("/dev/pts", unix.DEVPTS_SUPER_MAGIC) {
		links = append(links, [2]string{"ptmx", "pts/ptmx"})
	}
	dir, err := mkdirAllInRoot(mt.root, "/dev", 0o755)
	if err != nil {
		return fmt.Errorf("open /dev: %w", err)
	}
	defer dir.Close()
	for _, l := range links {
		if err := replaceSymlink(dir, l[0], l[1]); err != nil {
			return fmt.Errorf("symlink /dev/%s: %w", l[0], err)
		}
	}
	return nil
}

// hasFS reports whether p exists in the rootfs on a filesystem of type magic.
func (mt *mounter) hasFS(p string, magic int64) bool {
	f, err := openInRoot(mt.root, p)
	if err != nil {
		return false
	}
	defer f.Close()
	var st unix.Statfs_t
	return unix.Fstatfs(int(f.Fd()), &st) == nil && st.Type == magic
}

// replaceSymlink makes name in dir a symlink to target, replacing what the
// image has there, except a directory or a mount point, which are left.
func replaceSymlink(dir *os.File, name, target string) error {
	err := unix.Symlinkat(target, int(dir.Fd()), name)
	if !errors.Is(err, unix.EEXIST) {
		return err
	}
	var stx unix.Statx_t
	if err := unix.Statx(int(dir.Fd()), name, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_TYPE, &stx); err != nil {
		return err
	}
	if stx.Mode&unix.S_IFMT == unix.S_IFDIR || stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0 {
		return nil
	}
	if err := unix.Unlinkat(int(dir.Fd()), name, 0); err != nil {
		return err
	}
	return unix.Symlinkat(target, int(dir.Fd()), name)
}
