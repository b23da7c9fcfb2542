package nsinit

import (
	"errors"
	"fmt"
	"os"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"
)

// These run after pivot_root: "/" is the container's root, and the
// /proc/self/fd links used to mount are those of the container's procfs,
// checked before use.

// maskPaths hides each path: /dev/null is bound over a file, an empty
// read-only tmpfs mounted over a directory. Missing paths are skipped.
func maskPaths(paths []string) error {
	var devNull *os.File
	defer func() {
		if devNull != nil {
			devNull.Close()
		}
	}()
	for _, p := range paths {
		err := onExisting(p, func(dst *os.File) error {
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
			return unix.Mount(procFD(devNull), procFD(dst), "", unix.MS_BIND, "")
		})
		if err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	}
	return nil
}

// maskDir mounts an empty read-only tmpfs on dst.
func maskDir(dst *os.File) error {
	const flags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	err := unix.Mount("tmpfs", procFD(dst), "tmpfs", flags, "nr_blocks=1,nr_inodes=1,mode=0555")
	if errors.Is(err, unix.EINVAL) {
		// Some distribution kernels want at least two inodes.
		err = unix.Mount("tmpfs", procFD(dst), "tmpfs", flags, "nr_blocks=1,nr_inodes=2,mode=0555")
	}
	return err
}

// openDevNull opens the container's /dev/null, refusing anything but the
// null device (an image could make it a symlink into /proc/sys).
func openDevNull() (*os.File, error) {
	f, err := os.OpenFile("/dev/null", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/null: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("stat /dev/null: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		f.Close()
		return nil, errors.New("the container's /dev/null is not the null device")
	}
	return f, nil
}

// readonlyPaths makes each path read-only: bound onto itself, then
// remounted read-only keeping its nosuid, nodev, noexec and atime flags.
// Missing paths are skipped.
func readonlyPaths(paths []string) error {
	for _, p := range paths {
		err := onExisting(p, func(dst *os.File) error {
			if err := unix.Mount(procFD(dst), procFD(dst), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return fmt.Errorf("bind onto itself: %w", err)
			}
			mnt, err := reopenInRoot(p, dst)
			if err != nil {
				return err
			}
			defer mnt.Close()
			var st unix.Statfs_t
			if err := unix.Fstatfs(int(mnt.Fd()), &st); err != nil {
				return fmt.Errorf("statfs: %w", err)
			}
			flags := statfsMountFlags(&st)&lockableFlags | unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY
			return wrapErr("remount read-only", unix.Mount("", procFD(mnt), "", flags, ""))
		})
		if err != nil {
			return fmt.Errorf("make %s read-only: %w", p, err)
		}
	}
	return nil
}

// onExisting opens p inside the container's root and runs fn on its O_PATH
// handle; a missing p is skipped.
func onExisting(p string, fn func(dst *os.File) error) error {
	dst, err := pathrs.OpenInRoot("/", p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer dst.Close()
	if err := checkProcSelfFD(); err != nil {
		return err
	}
	return fn(dst)
}

// reopenInRoot opens p again after a mount on it, to get the new mount, and
// checks that it is the same place and a mount root.
func reopenInRoot(p string, before *os.File) (*os.File, error) {
	mnt, err := pathrs.OpenInRoot("/", p)
	if err != nil {
		return nil, fmt.Errorf("reopen after mounting: %w", err)
	}
	want, err1 := procfs.ProcSelfFdReadlink(before)
	got, err2 := procfs.ProcSelfFdReadlink(mnt)
	err = errors.Join(err1, err2)
	if err == nil && got != want {
		err = fmt.Errorf("%s moved to %s while mounting", want, got)
	}
	if err == nil {
		err = checkMountRoot(mnt, p)
	}
	if err != nil {
		mnt.Close()
		return nil, err
	}
	return mnt, nil
}

// checkProcSelfFD checks that /proc is the root of a procfs, so that the
// /proc/self/fd links mounts go through are the kernel's.
func checkProcSelfFD() error {
	f, err := os.OpenFile("/proc", unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("need /proc to mount: %w", err)
	}
	defer f.Close()
	var fs unix.Statfs_t
	var st unix.Stat_t
	if unix.Fstatfs(int(f.Fd()), &fs) != nil || fs.Type != unix.PROC_SUPER_MAGIC ||
		unix.Fstat(int(f.Fd()), &st) != nil || st.Ino != 1 {
		return errors.New("the container's /proc is not a procfs: cannot mount through /proc/self/fd")
	}
	return nil
}
