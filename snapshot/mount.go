package snapshot

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// flagOptions are the options that are mount flags rather than filesystem
// data.
var flagOptions = map[string]uintptr{
	"ro":     unix.MS_RDONLY,
	"rw":     0,
	"nosuid": unix.MS_NOSUID,
	"nodev":  unix.MS_NODEV,
	"noexec": unix.MS_NOEXEC,
	"bind":   unix.MS_BIND,
	"rbind":  unix.MS_BIND | unix.MS_REC,
}

// MountAll applies mounts in order at target, an existing directory. On
// failure it unmounts what it mounted. Overlay options longer than the one
// page mount(2) takes (many layers) are passed one lower layer at a time
// through fsconfig "lowerdir+" (Linux 6.8 and later).
func MountAll(mounts []Mount, target string) error {
	for i, m := range mounts {
		if err := mountOne(m, target); err != nil {
			for range i {
				_ = unix.Unmount(target, unix.MNT_DETACH)
			}
			return fmt.Errorf("mount %s at %s: %w", m.Type, target, err)
		}
	}
	return nil
}

// UnmountAll unmounts everything mounted at target (the mounts of MountAll,
// top first).
func UnmountAll(target string) error {
	for {
		err := unix.Unmount(target, 0)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return nil // not (or no longer) a mount point
		}
		if err != nil {
			return fmt.Errorf("unmount %s: %w", target, err)
		}
	}
}

// WritableDir returns the directory that holds what is written to an active
// snapshot's mounts: the overlay upperdir, or the source of a read-write bind
// mount. Unpacking a layer writes straight into it, without mounting.
func WritableDir(mounts []Mount) (string, error) {
	if len(mounts) != 1 {
		return "", fmt.Errorf("find writable dir: %d mounts, want 1", len(mounts))
	}
	m := mounts[0]
	_, data := splitOptions(m.Options)
	switch {
	case m.Type == "overlay":
		for _, o := range data {
			if dir, ok := strings.CutPrefix(o, "upperdir="); ok {
				return dir, nil
			}
		}
	case m.Type == "bind" && !hasOption(m.Options, "ro"):
		return m.Source, nil
	}
	return "", errors.New("find writable dir: the mount is read-only")
}

func hasOption(options []string, opt string) bool {
	for _, o := range options {
		if o == opt {
			return true
		}
	}
	return false
}

// splitOptions separates mount flags from filesystem data options.
func splitOptions(options []string) (uintptr, []string) {
	var flags uintptr
	var data []string
	for _, o := range options {
		if f, ok := flagOptions[o]; ok {
			flags |= f
		} else {
			data = append(data, o)
		}
	}
	return flags, data
}

func mountOne(m Mount, target string) error {
	flags, data := splitOptions(m.Options)
	if m.Type == "bind" {
		flags |= unix.MS_BIND
	}
	if flags&unix.MS_BIND != 0 {
		return bindMount(m.Source, target, flags)
	}
	joined := strings.Join(data, ",")
	if len(joined) < os.Getpagesize() {
		return unix.Mount(m.Source, target, m.Type, flags, joined)
	}
	return fsconfigMount(m, target, flags, data)
}

// bindMount binds source at target; read-only and the other flags take a
// remount, which a first bind ignores.
func bindMount(source, target string, flags uintptr) error {
	if err := unix.Mount(source, target, "", flags&(unix.MS_BIND|unix.MS_REC), ""); err != nil {
		return err
	}
	extra := flags &^ (unix.MS_BIND | unix.MS_REC)
	if extra == 0 {
		return nil
	}
	err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|extra, "")
	if err != nil {
		_ = unix.Unmount(target, unix.MNT_DETACH)
		return fmt.Errorf("remount %s: %w", target, err)
	}
	return nil
}
