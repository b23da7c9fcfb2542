package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
	"unsafe"

	"github.com/corral-dev/corral/errdefs"
	"golang.org/x/sys/unix"
)

// replacing runs mk, which creates base in pfd, and when something is
// already there (EEXIST) removes it and runs mk again: an entry replaces
// whatever is at its path, and the new file is created, never opened
// through an existing one (a symlink above all).
func (a *applier) replacing(pfd int, base string, mk func() error) error {
	err := mk()
	if err != unix.EEXIST {
		return err
	}
	if err := a.drain(); err != nil {
		return err
	}
	if err := a.root.removeAll(pfd, base); err != nil {
		return err
	}
	return mk()
}

// file writes a regular file, replacing what is at its place, with its
// data from the tar.
func (a *applier) file(pfd int, base string, hdr *tar.Header) error {
	err := a.replacing(pfd, base, func() error {
		return a.newFile(pfd, base, hdr, func(fd int) error { return a.copyData(fd, hdr.Size) })
	})
	if err == unix.EEXIST {
		return fmt.Errorf("create file: %w", err)
	}
	return err
}

// newFile creates the regular file base in pfd (EEXIST if something is
// there), fills it with fill and sets its metadata.
func (a *applier) newFile(pfd int, base string, hdr *tar.Header, fill func(fd int) error) error {
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err == unix.EEXIST {
		return err // for replacing
	}
	if err != nil {
		return fmt.Errorf("create file: %w", err)
	}
	defer unix.Close(fd)
	if err := fill(fd); err != nil {
		return err
	}
	if err := a.fdMeta(fd, hdr); err != nil {
		return err
	}
	return futimens(fd, entryTimes(hdr))
}

// copyData copies the current entry's size bytes of data into fd, through
// the applier's buffer filled as far as it goes, so that writes are large.
func (a *applier) copyData(fd int, size int64) error {
	buf := *a.buf
	for size > 0 {
		n := int64(len(buf))
		if size < n {
			n = size
		}
		if _, err := io.ReadFull(a.tr, buf[:n]); err != nil {
			return tarError(err)
		}
		if err := writeAll(fd, buf[:n]); err != nil {
			return fmt.Errorf("write file: %w", err)
		}
		size -= n
		if err := a.ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// mkdir creates a directory, or takes the new metadata when one is there
// already (its content is kept). A directory replacing an overlay whiteout
// is made opaque: the layer deleted the lower directory and made a new one.
func (a *applier) mkdir(pfd int, name, base string, hdr *tar.Header) error {
	opaque := false
	err := unix.Mkdirat(pfd, base, 0o700)
	if err == unix.EEXIST {
		var st unix.Stat_t
		if err = unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && !isDir(&st) {
			opaque = a.opts.Whiteouts == OverlayWhiteouts && isWhiteout(&st)
			if err = a.root.removeAll(pfd, base); err == nil {
				err = unix.Mkdirat(pfd, base, 0o700)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	a.root.remember(name, fd)
	if err := a.fdMeta(fd, hdr); err != nil {
		return err
	}
	if opaque {
		if err := unix.Fsetxattr(fd, opaqueXattr, []byte("y"), 0); err != nil {
			return fmt.Errorf("set %s: %w", opaqueXattr, err)
		}
	}
	a.dirs = append(a.dirs, dirTime{rel: name, ts: entryTimes(hdr)})
	return nil
}

// symlink creates a symlink. Its target is stored as is: it is only ever
// resolved inside the root (here) or inside the container.
func (a *applier) symlink(pfd int, base string, hdr *tar.Header) error {
	err := a.replacing(pfd, base, func() error { return unix.Symlinkat(hdr.Linkname, pfd, base) })
	if err != nil {
		return fmt.Errorf("symlink: %w", err)
	}
	return a.nameMeta(pfd, base, hdr)
}

// node creates a character or block device or a fifo. Without the right to
// mknod devices (an unprivileged user), device entries are skipped.
func (a *applier) node(pfd int, base string, hdr *tar.Header) error {
	mode := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	default:
		mode |= unix.S_IFIFO
	}
	dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
	err := a.replacing(pfd, base, func() error { return unix.Mknodat(pfd, base, mode, dev) })
	if err == unix.EPERM && hdr.Typeflag != tar.TypeFifo {
		slog.Warn("archive: device node skipped: no permission to create it", "path", hdr.Name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	if err := a.nameMeta(pfd, base, hdr); err != nil {
		return err
	}
	err = unix.Fchmodat(pfd, base, mode&0o7777, unix.AT_SYMLINK_NOFOLLOW)
	if err == unix.EOPNOTSUPP || err == unix.ENOSYS {
		// No fchmodat2: base is the node just made, not a symlink.
		err = unix.Fchmodat(pfd, base, mode&0o7777, 0)
	}
	if err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return nil
}

// hardlink links base to the entry's target, which must be in the root
// (this layer, or the layers below when applying into one directory), or,
// with Parents, in a lower layer, of which it then gets a copy.
func (a *applier) hardlink(pfd int, name, base string, hdr *tar.Header) error {
	target := cleanName(hdr.Linkname)
	if target == "" {
		return errdefs.InvalidArgument(errors.New("hardlink to the root directory"))
	}
	if target == name {
		return nil
	}
	tparent, tbase := splitPath(target)
	tpfd, err := a.root.dir(tparent)
	if err == nil {
		err = a.replacing(pfd, base, func() error { return unix.Linkat(tpfd, tbase, pfd, base, 0) })
	}
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		if len(a.parents) > 0 {
			return a.copyUp(pfd, base, target)
		}
		return errdefs.InvalidArgument(fmt.Errorf("hardlink target %s: not in the layer", hdr.Linkname))
	}
	if err != nil {
		return fmt.Errorf("hardlink to %s: %w", hdr.Linkname, err)
	}
	return nil
}

// fdMeta sets owner, mode and xattrs through fd. The mode is set after the
// owner (chown clears setuid bits) and file capabilities after both (chown
// clears them too).
func (a *applier) fdMeta(fd int, hdr *tar.Header) error {
	if !a.opts.NoLchown {
		if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("chown %d:%d: %w", hdr.Uid, hdr.Gid, err)
		}
	}
	if err := unix.Fchmod(fd, uint32(hdr.Mode)&0o7777); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	if !hasXattrs(hdr) {
		return nil
	}
	return applyXattrs(hdr, fdXattrs(fd))
}

// nameMeta sets owner, xattrs and times of base in pfd without following
// it (a symlink, a device or a fifo: nothing that can be opened safely).
func (a *applier) nameMeta(pfd int, base string, hdr *tar.Header) error {
	if !a.opts.NoLchown {
		if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("lchown %d:%d: %w", hdr.Uid, hdr.Gid, err)
		}
	}
	if hasXattrs(hdr) {
		fd, err := unix.Openat(pfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open: %w", err)
		}
		err = applyXattrs(hdr, pathXattrs(fd))
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	ts := entryTimes(hdr)
	if err := unix.UtimesNanoAt(pfd, base, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// entryTimes returns the access and modification times of hdr; like Docker,
// the access time is never before the modification time.
func entryTimes(hdr *tar.Header) [2]unix.Timespec {
	at := hdr.AccessTime
	if at.Before(hdr.ModTime) {
		at = hdr.ModTime
	}
	return [2]unix.Timespec{timespec(at), timespec(hdr.ModTime)}
}

func timespec(t time.Time) unix.Timespec {
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// futimens sets the times of the file fd refers to (utimensat with a NULL
// path, which x/sys/unix does not offer).
func futimens(fd int, ts [2]unix.Timespec) error {
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if e != 0 {
		return fmt.Errorf("set times: %w", e)
	}
	return nil
}

func isDir(st *unix.Stat_t) bool { return st.Mode&unix.S_IFMT == unix.S_IFDIR }

// isWhiteout reports whether st is an overlay whiteout: a 0:0 char device.
func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}
