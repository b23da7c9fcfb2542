package nsinit

// The lookups of the rootfs set-up, done with the same kernel guarantees as
// pathrs-lite's but without its per-call overhead: pathrs-lite opens and
// verifies a procfs handle and reads a /proc/self/fd link to name every
// handle it returns, about a dozen system calls per lookup, and init makes
// dozens of lookups for a default spec. Here openat2(RESOLVE_IN_ROOT) does
// the resolution, and the paths of init's descriptors are read from one
// private procfs instance that init mounts for itself and verifies once.

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"
)

// procRootIno is the inode number of a procfs root (PROC_ROOT_INO).
const procRootIno = 1

// procLinks reads the paths of init's own descriptors. Its procfs is a
// fresh instance mounted with fsmount(2) and attached nowhere, so nothing
// can be mounted over any of its files, and every lookup in it is also
// confined by RESOLVE_BENEATH|RESOLVE_NO_XDEV|RESOLVE_NO_MAGICLINKS. Where
// such an instance cannot be made, it falls back to pathrs-lite's procfs,
// which finds the safest one available on each call.
type procLinks struct {
	fd int // the procfs root, or -1 for the fallback
}

// openProcLinks mounts the private procfs.
func openProcLinks() *procLinks {
	fd, err := privateProcfs()
	if err != nil {
		return &procLinks{fd: -1}
	}
	return &procLinks{fd: fd}
}

// privateProcfs makes a detached procfs of init's pid namespace, limited to
// the processes (subset=pid) it may ptrace, and checks that it is a procfs
// root.
func privateProcfs() (int, error) {
	ctx, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, err
	}
	defer unix.Close(ctx)
	// Older kernels lack these options; the instance is private anyway.
	_ = unix.FsconfigSetString(ctx, "hidepid", "ptraceable")
	_ = unix.FsconfigSetString(ctx, "subset", "pid")
	if err := unix.FsconfigCreate(ctx); err != nil {
		return -1, err
	}
	fd, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return -1, err
	}
	var fs unix.Statfs_t
	var st unix.Stat_t
	if unix.Fstatfs(fd, &fs) != nil || fs.Type != unix.PROC_SUPER_MAGIC ||
		unix.Fstat(fd, &st) != nil || st.Ino != procRootIno {
		unix.Close(fd)
		return -1, errors.New("the new procfs is not a procfs root")
	}
	return fd, nil
}

// Close unmounts the private procfs (it goes with its last descriptor).
func (p *procLinks) Close() {
	if p.fd >= 0 {
		unix.Close(p.fd)
		p.fd = -1
	}
}

// readlink returns the path of f, as /proc/thread-self/fd/N shows it.
func (p *procLinks) readlink(f *os.File) (string, error) {
	if p == nil || p.fd < 0 {
		return procfs.ProcSelfFdReadlink(f)
	}
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_XDEV | unix.RESOLVE_NO_MAGICLINKS,
	}
	name := "thread-self/fd/" + strconv.Itoa(int(f.Fd()))
	link, err := openat2Retry(p.fd, name, &how)
	if err != nil {
		return "", &os.PathError{Op: "openat2", Path: "/proc/" + name, Err: err}
	}
	defer unix.Close(link)
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(link, "", buf)
	if err != nil {
		return "", &os.PathError{Op: "readlinkat", Path: "/proc/" + name, Err: err}
	}
	if n == len(buf) {
		return "", &os.PathError{Op: "readlinkat", Path: "/proc/" + name, Err: unix.ENAMETOOLONG}
	}
	return string(buf[:n]), nil
}

// openInRoot opens p (an O_PATH handle) inside root, symlinks resolved as
// if root were "/" and magic links refused: pathrs.OpenatInRoot's lookup,
// whose openat2 path this is, without the procfs read it makes only to name
// the handle. Kernels without openat2 get pathrs-lite's own resolver.
func openInRoot(root *os.File, p string) (*os.File, error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := openat2Retry(int(root.Fd()), p, &how)
	if errors.Is(err, unix.ENOSYS) {
		return pathrs.OpenatInRoot(root, p)
	}
	if err != nil {
		return nil, &os.PathError{Op: "openat2", Path: p, Err: err}
	}
	return os.NewFile(uintptr(fd), p), nil
}

// openat2Retry is openat2, retried (as pathrs-lite does) while a scoped
// lookup fails only because a rename or mount somewhere raced with it.
func openat2Retry(dir int, p string, how *unix.OpenHow) (int, error) {
	for tries := 0; ; tries++ {
		fd, err := unix.Openat2(dir, p, how)
		if err == nil {
			return fd, nil
		}
		scoped := how.Resolve&(unix.RESOLVE_IN_ROOT|unix.RESOLVE_BENEATH) != 0
		raced := errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EXDEV) && how.Resolve&unix.RESOLVE_NO_XDEV == 0
		if !scoped || !raced || tries >= 128 {
			return -1, err
		}
	}
}

// mkdirAllInRoot returns an O_PATH handle of directory p inside root,
// creating the missing directories with mode (less the umask), as
// pathrs.MkdirAllHandle does: the longest existing prefix of p is opened
// with openat2(RESOLVE_IN_ROOT), then each missing component is made with
// mkdirat in the handle of its parent and opened with
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_XDEV, so that nothing
// swapped in meanwhile (a symlink, a mount) is followed. Kernels without
// openat2 get pathrs-lite's own implementation.
func mkdirAllInRoot(root *os.File, p string, mode uint32) (*os.File, error) {
	dir, rest, err := openExistingDir(root, p)
	if errors.Is(err, unix.ENOSYS) {
		return pathrs.MkdirAllHandle(root, p, os.FileMode(mode))
	}
	if err != nil {
		return nil, &os.PathError{Op: "openat2", Path: p, Err: err}
	}
	parts := strings.Split(rest, "/")
	if slices.Contains(parts, "..") {
		unix.Close(dir)
		return nil, &os.PathError{Op: "mkdir", Path: p, Err: unix.ENOENT}
	}
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_XDEV,
	}
	for _, part := range parts {
		if part == "" || part == "." {
			continue
		}
		err := unix.Mkdirat(dir, part, mode)
		var next int
		if err == nil || errors.Is(err, unix.EEXIST) {
			next, err = openat2Retry(dir, part, &how)
		}
		unix.Close(dir)
		if err != nil {
			return nil, &os.PathError{Op: "mkdir", Path: p, Err: err}
		}
		dir = next
	}
	return os.NewFile(uintptr(dir), p), nil
}

// openExistingDir opens the longest prefix of p that exists inside root, a
// directory, and returns the rest of p.
func openExistingDir(root *os.File, p string) (fd int, rest string, err error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	end := len(p)
	for {
		prefix := p[:end]
		if prefix == "" {
			prefix = "/"
		}
		fd, err := openat2Retry(int(root.Fd()), prefix, &how)
		if err == nil {
			return fd, strings.TrimLeft(p[end:], "/"), nil
		}
		if !errors.Is(err, unix.ENOENT) || end == 0 {
			return -1, "", err
		}
		end = max(strings.LastIndexByte(p[:end], '/'), 0)
	}
}
