package nsinit

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mounter performs the spec's mounts inside one rootfs, before pivot_root.
// Every destination is resolved inside root with openat2(RESOLVE_IN_ROOT)
// and mounted through the /proc/self/fd magic link of its O_PATH handle, so
// that neither a symlink in the image nor a rename racing with us can move a
// mount out of the rootfs.
type mounter struct {
	root     *os.File     // O_PATH handle of the rootfs
	rootfs   string       // the real host path of root
	links    *procLinks   // reads the paths of handles
	userns   bool         // init runs in a user namespace: mknod fails, flags are locked
	cgroupns bool         // init has its own cgroup namespace
	sources  mountSources // bind sources the runtime opened, by spec index
	// cgroupMounts are mountinfo lines of the cgroup mounts from the
	// runtime; "" to read them from /proc/self/mountinfo.
	cgroupMounts string
	// readonly are tmpfs mounts that are remounted read-only once
	// everything under them exists.
	readonly []pendingRemount
	// devRO is a tmpfs /dev that asked for ro: it is remounted read-only
	// only after the console is bound into it (see runCreate).
	devRO *pendingRemount
}

// pendingRemount is a mount made read-write for now.
type pendingRemount struct {
	mnt   *os.File // O_PATH handle of the mount's root
	flags uintptr
}

// procFD names the magic link of an open file, to mount on or from it.
func procFD(f *os.File) string {
	return "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
}

// mountErr names the spec mount in an error.
func mountErr(m *specs.Mount, err error) error {
	typ := m.Type
	if typ == "" {
		typ = "none"
	}
	return fmt.Errorf("mount %s on %s (type %s): %w", m.Source, m.Destination, typ, err)
}

// mountAll performs every mount of the spec, in order.
func (mt *mounter) mountAll(mounts []specs.Mount) error {
	for i := range mounts {
		if err := mt.mount(&mounts[i], mt.sources[i]); err != nil {
			return mountErr(&mounts[i], err)
		}
	}
	return nil
}

// mount performs one spec mount; src, when not nil, is the bind source
// the runtime opened.
func (mt *mounter) mount(m *specs.Mount, src *os.File) error {
	if len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 {
		return errors.New("id-mapped mounts are not supported")
	}
	dest, err := cleanDest(m.Destination)
	if err != nil {
		return err
	}
	o, err := parseMountOptions(m.Options)
	if err != nil {
		return err
	}
	switch {
	case o.isBind(m):
		return mt.mountBind(m, src, dest, o)
	case m.Type == "proc" || m.Type == "sysfs":
		return mt.mountKernelFS(m, dest, o)
	case m.Type == "cgroup":
		return mt.mountCgroup(m, dest, o)
	case m.Type == "mqueue":
		return mt.mountMqueue(m, dest, o)
	default:
		return mt.mountNew(m, dest, o, false)
	}
}

// mountNew mounts a new filesystem (tmpfs, devpts...) on dest.
func (mt *mounter) mountNew(m *specs.Mount, dest string, o mountOpts, plainDir bool) error {
	dst, real, err := mt.mountpoint(dest, false, plainDir)
	if err != nil {
		return err
	}
	defer dst.Close()
	if err := mt.checkProcDest(dst, real, m, m.Source); err != nil {
		return err
	}
	flags, data := o.flags, o.data
	delayRO := flags&unix.MS_RDONLY != 0 && (m.Type == "tmpfs" || dest == "/dev")
	if delayRO {
		flags &^= unix.MS_RDONLY
	}
	if m.Type == "tmpfs" {
		data = tmpfsData(dst, data)
	}
	if err := unix.Mount(m.Source, procFD(dst), m.Type, flags, data); err != nil {
		return err
	}
	mnt, err := mt.reopenMount(dst, dest)
	if err != nil {
		return err
	}
	if delayRO {
		mt.delayReadonly(pendingRemount{mnt: mnt, flags: o.flags}, dest == "/dev")
		return applyPropagation(mnt, o)
	}
	defer mnt.Close()
	return applyPropagation(mnt, o)
}

// tmpfsData gives a tmpfs the mode of the directory it covers, unless the
// options set one.
func tmpfsData(dst *os.File, data string) string {
	var st unix.Stat_t
	if unix.Fstat(int(dst.Fd()), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return data
	}
	mode := fmt.Sprintf("mode=%04o", st.Mode&07777)
	if data == "" {
		return mode
	}
	return mode + "," + data
}

// mountKernelFS mounts proc or sysfs. They must land on a plain directory of
// the image, not through a symlink. In a user namespace that does not own
// the network namespace, sysfs cannot be mounted: the host's /sys is bound
// instead.
func (mt *mounter) mountKernelFS(m *specs.Mount, dest string, o mountOpts) error {
	err := mt.mountNew(m, dest, o, true)
	if err == nil || m.Type != "sysfs" || !errors.Is(err, unix.EPERM) || !mt.userns {
		return err
	}
	// The host's submounts of /sys come along; "ro" is made recursive so
	// that none of them stays writable.
	opts := append([]string{"rbind"}, m.Options...)
	if o.flags&unix.MS_RDONLY != 0 {
		opts = append(opts, "rro")
	}
	bind := specs.Mount{Source: "/sys", Destination: dest, Type: "bind", Options: opts}
	if err := mt.mount(&bind, nil); err != nil {
		return fmt.Errorf("bind the host's /sys after sysfs failed with EPERM: %w", err)
	}
	return nil
}

// mountMqueue mounts an mqueue; in a user namespace that does not own the
// IPC namespace this fails with EPERM and the host's /dev/mqueue is bound.
func (mt *mounter) mountMqueue(m *specs.Mount, dest string, o mountOpts) error {
	err := mt.mountNew(m, dest, o, false)
	if err == nil || !errors.Is(err, unix.EPERM) || !mt.userns {
		return err
	}
	bind := specs.Mount{Source: "/dev/mqueue", Destination: dest, Type: "bind",
		Options: append([]string{"bind"}, m.Options...)}
	if err := mt.mount(&bind, nil); err != nil {
		return fmt.Errorf("bind the host's /dev/mqueue after mqueue failed with EPERM: %w", err)
	}
	return nil
}

// mountBind bind-mounts a host path (or the handle of it the runtime
// opened), then applies the flags with a MS_REMOUNT|MS_BIND (the first
// MS_BIND ignores them).
func (mt *mounter) mountBind(m *specs.Mount, srcFile *os.File, dest string, o mountOpts) error {
	source := bindSource(m.Source, srcFile)
	src, err := os.Stat(source)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("bind source %s does not exist", m.Source)
		}
		return fmt.Errorf("bind source: %w", err)
	}
	dst, real, err := mt.mountpoint(dest, !src.IsDir(), false)
	if err != nil {
		return err
	}
	defer dst.Close()
	if err := mt.checkProcDest(dst, real, m, source); err != nil {
		return err
	}
	if err := unix.Mount(source, procFD(dst), "", unix.MS_BIND|o.flags&unix.MS_REC, ""); err != nil {
		return err
	}
	mnt, err := mt.reopenMount(dst, dest)
	if err != nil {
		return err
	}
	defer mnt.Close()
	if o.flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) != 0 || o.cleared != 0 {
		if err := remountBind(mnt, o); err != nil {
			return err
		}
	}
	return applyPropagation(mnt, o)
}

// remountBind sets the flags of a fresh bind mount. If the source carries
// flags locked by a user namespace (nosuid, nodev, noexec, ro, atime), the
// kernel refuses to drop them: they are read from the mount and kept, unless
// the options explicitly clear one, which is then an error.
func remountBind(mnt *os.File, o mountOpts) error {
	flags := o.flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) | unix.MS_BIND | unix.MS_REMOUNT
	err := unix.Mount("", procFD(mnt), "", flags, "")
	if !errors.Is(err, unix.EPERM) {
		return wrapErr("remount with options", err)
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(mnt.Fd()), &st); err != nil {
		return fmt.Errorf("read flags of the bind source: %w", err)
	}
	locked := statfsMountFlags(&st) & lockableFlags
	if bad := locked & o.cleared; bad != 0 {
		return fmt.Errorf("cannot clear flags %#x locked on the source: %w", bad, err)
	}
	if want := o.flags & atimeFlags; want != 0 && want != locked&atimeFlags {
		return fmt.Errorf("cannot change the atime flags locked on the source: %w", err)
	}
	if flags&atimeFlags != 0 {
		locked &^= atimeFlags
	}
	if err := unix.Mount("", procFD(mnt), "", flags|locked, ""); err != nil {
		return fmt.Errorf("remount keeping the source's locked flags %#x: %w", locked, err)
	}
	return nil
}

// applyPropagation applies the propagation options, then the recursive
// attributes, to a new mount.
func applyPropagation(mnt *os.File, o mountOpts) error {
	for _, p := range o.propagation {
		if err := unix.Mount("", procFD(mnt), "", p, ""); err != nil {
			return fmt.Errorf("set propagation %#x: %w", p, err)
		}
	}
	if !o.hasRecAttr() {
		return nil
	}
	attr := o.rec
	err := unix.MountSetattr(int(mnt.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr)
	return wrapErr("set recursive mount attributes", err)
}

// wrapErr is fmt.Errorf("what: %w") that keeps nil nil.
func wrapErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// mountpoint opens (creating if missing) the destination inside the rootfs:
// a directory, or an empty file for a file bind mount. With plainDir the
// path must not go through a symlink (checked before anything is created,
// and again on the handle). The handle is checked to lie inside the rootfs.
func (mt *mounter) mountpoint(dest string, isFile, plainDir bool) (*os.File, string, error) {
	if plainDir {
		if err := mt.checkOrdinaryDir(dest); err != nil {
			return nil, "", err
		}
	}
	f, err := openInRoot(mt.root, dest)
	if errors.Is(err, os.ErrNotExist) {
		f, err = mt.createMountpoint(dest, isFile)
	}
	if err != nil {
		return nil, "", fmt.Errorf("open mountpoint: %w", err)
	}
	real, err := mt.realPath(f)
	if err != nil {
		f.Close()
		return nil, "", err
	}
	if plainDir && real != dest {
		f.Close()
		return nil, "", fmt.Errorf("%s resolves to %s through a symlink: %w", dest, real, errNotOrdinaryDir)
	}
	return f, real, nil
}

// errNotOrdinaryDir refuses a proc or sysfs mountpoint that is not a plain
// directory of the image; its wording is runc's, which its callers and
// tests look for.
var errNotOrdinaryDir = errors.New("must be mounted on ordinary directory")

// checkOrdinaryDir fails with errNotOrdinaryDir if dest, inside the rootfs,
// is a symlink, is reached through one or is not a directory, before
// anything is created. A missing dest is no error here.
func (mt *mounter) checkOrdinaryDir(dest string) error {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS,
	}
	fd, err := openat2Retry(int(mt.root.Fd()), dest, &how)
	if errors.Is(err, unix.ELOOP) {
		return fmt.Errorf("%s is a symlink or goes through one: %w", dest, errNotOrdinaryDir)
	}
	if err != nil {
		return nil // missing, or no openat2: the lookup after this decides
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat mountpoint %s: %w", dest, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return nil
	case unix.S_IFLNK:
		return fmt.Errorf("%s is a symlink: %w", dest, errNotOrdinaryDir)
	}
	return fmt.Errorf("%s is not a directory: %w", dest, errNotOrdinaryDir)
}

// createMountpoint creates a missing destination: a directory, or an empty
// file (its parents as directories). A symlink of the image on the way, even
// dangling, is followed as if the rootfs were the root: SecureJoin computes
// the symlink-free path, and the creation itself stays confined to root
// whatever happens meanwhile (MkdirAllHandle, openat in a handle).
func (mt *mounter) createMountpoint(dest string, isFile bool) (*os.File, error) {
	joined, err := securejoin.SecureJoin(mt.rootfs, dest)
	if err != nil {
		return nil, err
	}
	rel := strings.TrimPrefix(joined, mt.rootfs)
	if !isFile {
		return mkdirAllInRoot(mt.root, rel, 0o755)
	}
	dir, err := mkdirAllInRoot(mt.root, path.Dir(rel), 0o755)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	name := path.Base(rel)
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", rel, err)
	}
	unix.Close(fd)
	return openNoFollow(dir, name, unix.S_IFREG)
}

// openNoFollow opens name in dir with O_PATH|O_NOFOLLOW and checks its type.
func openNoFollow(dir *os.File, name string, typ uint32) (*os.File, error) {
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", name, err)
	}
	if st.Mode&unix.S_IFMT != typ {
		f.Close()
		return nil, fmt.Errorf("%s changed type while being set up (mode %#o)", name, st.Mode)
	}
	return f, nil
}

// realPath returns where a handle lies inside the rootfs ("/dev/pts"),
// failing if it is outside or the rootfs itself.
func (mt *mounter) realPath(f *os.File) (string, error) {
	p, err := mt.links.readlink(f)
	if err != nil {
		return "", fmt.Errorf("read path of mountpoint: %w", err)
	}
	rel, ok := strings.CutPrefix(p, mt.rootfs)
	if !ok || !strings.HasPrefix(rel, "/") || rel == "/" {
		return "", fmt.Errorf("mountpoint %s is not inside the rootfs %s", p, mt.rootfs)
	}
	return rel, nil
}

// reopenMount opens the mount just made on dst (a handle of dst itself
// still refers to the covered directory) and checks that it landed there.
func (mt *mounter) reopenMount(dst *os.File, dest string) (*os.File, error) {
	want, err := mt.realPath(dst)
	if err != nil {
		return nil, err
	}
	mnt, err := openInRoot(mt.root, want)
	if err != nil {
		return nil, fmt.Errorf("reopen %s after mounting: %w", want, err)
	}
	got, err := mt.realPath(mnt)
	if err == nil && got != want {
		err = fmt.Errorf("%s moved to %s while mounting", want, got)
	}
	if err == nil {
		err = checkMountRoot(mnt, want)
	}
	if err != nil {
		mnt.Close()
		return nil, err
	}
	return mnt, nil
}

// checkMountRoot fails unless f is the root of a mount.
func checkMountRoot(f *os.File, name string) error {
	var stx unix.Statx_t
	if err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_BASIC_STATS, &stx); err != nil {
		return fmt.Errorf("statx %s: %w", name, err)
	}
	if stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return fmt.Errorf("%s is not a mount point after mounting on it", name)
	}
	return nil
}

// allowedProcMounts are the files under /proc that may be covered (by lxcfs
// for instance); nothing else under /proc may be, or a container could hide
// the files the runtime itself relies on (CVE-2019-16884).
var allowedProcMounts = map[string]bool{
	"/proc/cpuinfo": true, "/proc/diskstats": true, "/proc/meminfo": true,
	"/proc/stat": true, "/proc/swaps": true, "/proc/uptime": true,
	"/proc/loadavg": true, "/proc/slabinfo": true,
	"/proc/sys/kernel/ns_last_pid": true, "/proc/sys/crypto/fips_enabled": true,
}

// checkProcDest refuses mounts inside /proc (or on any procfs), and on /proc
// itself anything but a procfs. real is where dst lies in the rootfs,
// source what is mounted.
func (mt *mounter) checkProcDest(dst *os.File, real string, m *specs.Mount, source string) error {
	if real == "/proc" {
		if m.Type == "proc" || isProcfsRoot(source) {
			return nil
		}
		return errors.New("only a procfs may be mounted on /proc")
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(dst.Fd()), &st); err != nil {
		return fmt.Errorf("statfs mountpoint: %w", err)
	}
	onProc := st.Type == unix.PROC_SUPER_MAGIC || strings.HasPrefix(real, "/proc/")
	if onProc && !allowedProcMounts[real] {
		return fmt.Errorf("%s is inside /proc: mounting there is not allowed", real)
	}
	return nil
}

// isProcfsRoot reports whether p is the root directory of a procfs.
func isProcfsRoot(p string) bool {
	var fs unix.Statfs_t
	var st unix.Stat_t
	return unix.Statfs(p, &fs) == nil && fs.Type == unix.PROC_SUPER_MAGIC &&
		unix.Stat(p, &st) == nil && st.Ino == 1
}
