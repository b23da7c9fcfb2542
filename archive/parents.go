package archive

import (
	"errors"
	"fmt"
	"os"

	"github.com/corral-dev/corral/errdefs"
	"golang.org/x/sys/unix"
)

// parentCreated gives a directory that Apply had to create as a parent the
// mode, owner, xattrs and times of the same directory in the topmost lower
// layer that has it, as overlayfs does when it copies a directory up;
// without one it keeps 0755 and the caller as owner.
func (a *applier) parentCreated(rel string, pfd int) error {
	if len(a.parents) == 0 {
		return nil
	}
	src, st, err := a.lowerDir(rel)
	if err != nil || src < 0 {
		return err
	}
	defer unix.Close(src)
	_, base := splitPath(rel)
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", rel, err)
	}
	defer unix.Close(fd)
	if err := a.copyMeta(src, fd, st); err != nil {
		return fmt.Errorf("copy attributes of %s: %w", rel, err)
	}
	a.dirs = append(a.dirs, dirTime{rel: rel, ts: [2]unix.Timespec{st.Atim, st.Mtim}})
	return nil
}

// lowerDir opens the directory rel in the topmost lower layer that has
// anything at rel; it returns -1 when none has, or when the topmost one has
// something else there (a file, a symlink or a whiteout).
func (a *applier) lowerDir(rel string) (int, *unix.Stat_t, error) {
	for _, p := range a.parents {
		fd, err := p.open(rel, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return -1, nil, nil
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, nil, fmt.Errorf("stat lower %s: %w", rel, err)
		}
		return fd, &st, nil
	}
	return -1, nil, nil
}

// copyMeta copies owner, mode and xattrs (but overlayfs's own) from the
// file src, whose status is st, to dst.
func (a *applier) copyMeta(src, dst int, st *unix.Stat_t) error {
	if !a.opts.NoLchown {
		if err := unix.Fchown(dst, int(st.Uid), int(st.Gid)); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	if err := unix.Fchmod(dst, st.Mode&0o7777); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	xattrs, err := readXattrs(fdLister(src))
	if err != nil {
		return err
	}
	for name, value := range xattrs {
		if privateXattr(name) {
			continue
		}
		if err := unix.Fsetxattr(dst, name, []byte(value), 0); err != nil && err != unix.ENOTSUP {
			return fmt.Errorf("set xattr %s: %w", name, err)
		}
	}
	return nil
}

// copyUp makes base in pfd a copy of the regular file target of the topmost
// lower layer that has it: a hardlink cannot reach into another layer's
// directory, and overlayfs would have copied the file up to link it.
func (a *applier) copyUp(pfd int, base, target string) error {
	for _, p := range a.parents {
		src, err := p.open(target, unix.O_PATH|unix.O_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			break
		}
		err = a.copyFile(src, pfd, base)
		unix.Close(src)
		return err
	}
	return errdefs.InvalidArgument(fmt.Errorf("hardlink target %s: not in the layer nor below", target))
}

// copyFile copies the regular file that the O_PATH descriptor src refers
// to into a new file base in pfd, with its owner, mode, xattrs and times.
func (a *applier) copyFile(src, pfd int, base string) error {
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return fmt.Errorf("stat hardlink target: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return errdefs.InvalidArgument(fmt.Errorf("hardlink target in a lower layer is not a regular file"))
	}
	in, err := os.OpenFile(procPath(src), os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("open hardlink target: %w", err)
	}
	defer in.Close()
	fd := -1
	err = a.replacing(pfd, base, func() (err error) {
		fd, err = unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		return err
	})
	if err != nil {
		return fmt.Errorf("create file: %w", err)
	}
	out := os.NewFile(uintptr(fd), base)
	defer out.Close()
	if _, err := out.ReadFrom(in); err != nil {
		return fmt.Errorf("copy hardlink target: %w", err)
	}
	if err := a.copyMeta(int(in.Fd()), fd, &st); err != nil {
		return err
	}
	return futimens(fd, [2]unix.Timespec{st.Atim, st.Mtim})
}
