package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"strings"

	"github.com/corral-dev/corral/errdefs"
	"golang.org/x/sys/unix"
)

// whiteout applies the whiteout entry base in the directory parent.
func (a *applier) whiteout(parent, base string, hdr *tar.Header) error {
	if base == opaqueMarker {
		return a.opaque(parent)
	}
	if strings.HasPrefix(base, whiteoutMeta) {
		return nil // other AUFS metadata (.wh..wh.plnk, ...): not part of the tree
	}
	target := base[len(whiteoutPrefix):]
	if target == "." || target == ".." || target == "" {
		return errdefs.InvalidArgument(fmt.Errorf("invalid whiteout %q", base))
	}
	rel := joinPath(parent, target)
	if _, ok := a.unpacked[rel]; ok {
		return nil // a whiteout never hides what its own layer added
	}
	if a.opts.Whiteouts == RemoveWhiteouts {
		pfd, err := a.root.dir(parent)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return nil // nothing there to delete
		}
		if err != nil {
			return err
		}
		return a.root.removeAll(pfd, target)
	}
	pfd, err := a.root.mkdirAll(parent, a.parentCreated)
	if err != nil {
		return err
	}
	err = a.replacing(pfd, target, func() error { return unix.Mknodat(pfd, target, unix.S_IFCHR, 0) })
	if err != nil {
		return fmt.Errorf("make whiteout %s: %w", rel, err)
	}
	ts := entryTimes(hdr)
	if err := unix.UtimesNanoAt(pfd, target, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times of whiteout %s: %w", rel, err)
	}
	return nil
}

// opaque applies an opaque-directory marker in dir: the directory hides
// everything lower layers hold in it.
func (a *applier) opaque(dir string) error {
	if a.opts.Whiteouts == RemoveWhiteouts {
		fd, err := a.root.dir(dir)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return nil
		}
		if err != nil {
			return err
		}
		return a.prune(fd, dir)
	}
	pfd, err := a.root.mkdirAll(dir, a.parentCreated)
	if err != nil {
		return err
	}
	fd, err := unix.Openat(pfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Fsetxattr(fd, opaqueXattr, []byte("y"), 0); err != nil {
		return fmt.Errorf("set %s on %s: %w", opaqueXattr, dir, err)
	}
	a.markUnpacked(dir)
	return nil
}

// prune removes from the directory dirfd (the path rel) everything this
// layer did not add, recursively.
func (a *applier) prune(dirfd int, rel string) error {
	fd, err := unix.Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", rel, err)
	}
	defer unix.Close(fd)
	names, err := readDirNames(fd)
	if err != nil {
		return fmt.Errorf("list %s: %w", rel, err)
	}
	for _, n := range names {
		child := joinPath(rel, n)
		if _, ok := a.unpacked[child]; !ok {
			if err := a.root.removeAll(fd, n); err != nil {
				return err
			}
			continue
		}
		cfd, err := unix.Openat(fd, n, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // not a directory: kept as is
		}
		err = a.prune(cfd, child)
		unix.Close(cfd)
		if err != nil {
			return err
		}
	}
	return nil
}
