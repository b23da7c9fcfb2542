package nsinit

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// These run after pivot_root: "/" is the container's root. Every mount
// goes from descriptor to descriptor with the new mount API (open_tree,
// fsmount, mount_setattr, move_mount): no path is resolved at mount time,
// not even a /proc/self/fd magic link, so neither a symlink swapped in
// after the checks (CVE-2025-31133) nor a mount racing in over /proc
// (CVE-2025-52881) can move a mask or a read-only bind elsewhere.

// maskPaths hides each path: the container's /dev/null, checked to be the
// null device on the handle that is then bound, goes over a file; an empty
// read-only tmpfs over a directory. Missing paths are skipped; any other
// failure refuses the container.
func maskPaths(paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	root, err := openRoot()
	if err != nil {
		return err
	}
	defer root.Close()
	var devNull *os.File
	defer func() {
		if devNull != nil {
			devNull.Close()
		}
	}()
	for _, p := range paths {
		err := onExisting(root, p, func(dst *os.File) error {
			var st unix.Stat_t
			if err := unix.Fstat(int(dst.Fd()), &st); err != nil {
				return err
			}
			if st.Mode&unix.S_IFMT == unix.S_IFDIR {
				return maskDir(dst)
			}
			if devNull == nil {
				var err error
				if devNull, err = openDevNull(); err != nil {
					return err
				}
			}
			return bindFD(devNull, dst, false)
		})
		if err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	}
	return nil
}

// maskDir mounts an empty read-only tmpfs on dst.
func maskDir(dst *os.File) error {
	mnt, err := newTmpfs("nr_blocks=1", "nr_inodes=1")
	if errors.Is(err, unix.EINVAL) {
		// Some distribution kernels want at least two inodes.
		mnt, err = newTmpfs("nr_blocks=1", "nr_inodes=2")
	}
	if err != nil {
		return err
	}
	defer mnt.Close()
	return moveMount(mnt, dst)
}

// newTmpfs creates a detached read-only tmpfs of mode 0555 with options
// given as key=value.
func newTmpfs(opts ...string) (*os.File, error) {
	ctx, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fsopen tmpfs: %w", err)
	}
	defer unix.Close(ctx)
	for _, o := range append(opts, "mode=0555") {
		k, v, _ := strings.Cut(o, "=")
		if err := unix.FsconfigSetString(ctx, k, v); err != nil {
			return nil, fmt.Errorf("tmpfs option %s: %w", o, err)
		}
	}
	if err := unix.FsconfigCreate(ctx); err != nil {
		return nil, fmt.Errorf("create tmpfs: %w", err)
	}
	attrs := unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC
	fd, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return nil, fmt.Errorf("fsmount tmpfs: %w", err)
	}
	return os.NewFile(uintptr(fd), "tmpfs"), nil
}

// openDevNull opens the container's /dev/null, refusing anything but the
// null device: the image could make it a symlink into /proc/sys, a regular
// file or another device, and a mask must never bind that.
func openDevNull() (*os.File, error) {
	f, err := os.OpenFile("/dev/null", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/null: %w", err)
	}
	if err := checkDevNull(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// checkDevNull fails unless f is the character device 1:3.
func checkDevNull(f *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("stat /dev/null: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		return fmt.Errorf("the container's /dev/null is not the null device (mode %#o, device %d:%d): refusing to mask with it",
			st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	return nil
}

// readonlyPaths makes each path read-only: a recursive clone of it, made
// read-only (with its submounts) while detached, is moved back on top.
// Missing paths are skipped.
func readonlyPaths(paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	root, err := openRoot()
	if err != nil {
		return err
	}
	defer root.Close()
	for _, p := range paths {
		err := onExisting(root, p, func(dst *os.File) error {
			return bindFD(dst, dst, true)
		})
		if err != nil {
			return fmt.Errorf("make %s read-only: %w", p, err)
		}
	}
	return nil
}

// bindFD bind-mounts src (its whole mount tree, read-only, with rro) onto
// dst, both given as open handles.
func bindFD(src, dst *os.File, rro bool) error {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_EMPTY_PATH)
	if rro {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(int(src.Fd()), "", flags)
	if err != nil {
		return fmt.Errorf("clone mount: %w", err)
	}
	tree := os.NewFile(uintptr(fd), "tree")
	defer tree.Close()
	if rro {
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
			return fmt.Errorf("make read-only: %w", err)
		}
	}
	return moveMount(tree, dst)
}

// moveMount attaches the detached mount tree onto dst.
func moveMount(tree, dst *os.File) error {
	err := unix.MoveMount(int(tree.Fd()), "", int(dst.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	return wrapErr("attach mount", err)
}

// openRoot opens the container's root, "/" after pivot_root.
func openRoot() (*os.File, error) {
	root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the container's root: %w", err)
	}
	return root, nil
}

// onExisting opens p inside the container's root (symlinks of the image
// resolved as if root were /) and runs fn on its O_PATH handle; a missing
// p is skipped.
func onExisting(root *os.File, p string, fn func(dst *os.File) error) error {
	dst, err := openInRoot(root, p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer dst.Close()
	return fn(dst)
}
