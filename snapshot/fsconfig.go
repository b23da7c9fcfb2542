package snapshot

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// fsconfigMount mounts with the new mount API (fsopen, fsconfig, fsmount,
// move_mount), which takes options one by one instead of in one page: an
// overlay's lowerdir becomes one "lowerdir+" per layer, so the number of
// layers is bounded by overlayfs (500) rather than by the length of their
// paths. Each path must be shorter than 256 bytes, fsconfig's limit.
func fsconfigMount(m Mount, target string, flags uintptr, data []string) error {
	fd, err := unix.Fsopen(m.Type, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen %s: %w", m.Type, err)
	}
	defer unix.Close(fd)
	if err := configure(fd, m.Source, data); err != nil {
		return err
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, mountAttrs(flags))
	if err != nil {
		return fmt.Errorf("fsmount: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move mount to %s: %w", target, err)
	}
	return nil
}

// configure sets the source and options of filesystem context fd and
// creates its superblock; errors carry the kernel's messages.
func configure(fd int, source string, data []string) error {
	err := unix.FsconfigSetString(fd, "source", source)
	for _, o := range data {
		if err != nil {
			break
		}
		err = setOption(fd, o)
	}
	if err == nil {
		err = unix.FsconfigCreate(fd)
	}
	if err != nil {
		if msg := kernelMessages(fd); msg != "" {
			return fmt.Errorf("configure filesystem: %w (%s)", err, msg)
		}
		return fmt.Errorf("configure filesystem: %w", err)
	}
	return nil
}

func setOption(fd int, o string) error {
	key, value, ok := strings.Cut(o, "=")
	switch {
	case !ok:
		return unix.FsconfigSetFlag(fd, key)
	case key == "lowerdir":
		for _, dir := range strings.Split(value, ":") {
			if err := unix.FsconfigSetString(fd, "lowerdir+", dir); err != nil {
				return fmt.Errorf("add lower dir %s: %w", dir, err)
			}
		}
		return nil
	}
	if err := unix.FsconfigSetString(fd, key, value); err != nil {
		return fmt.Errorf("set %s: %w", key, err)
	}
	return nil
}

// kernelMessages reads the messages the kernel left on a filesystem context.
func kernelMessages(fd int) string {
	var msgs []string
	buf := make([]byte, 1024)
	for {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	return strings.Join(msgs, "; ")
}

// mountAttrs translates mount flags into fsmount attributes.
func mountAttrs(flags uintptr) int {
	attrs := 0
	for flag, attr := range map[uintptr]int{
		unix.MS_RDONLY: unix.MOUNT_ATTR_RDONLY,
		unix.MS_NOSUID: unix.MOUNT_ATTR_NOSUID,
		unix.MS_NODEV:  unix.MOUNT_ATTR_NODEV,
		unix.MS_NOEXEC: unix.MOUNT_ATTR_NOEXEC,
	} {
		if flags&flag != 0 {
			attrs |= attr
		}
	}
	return attrs
}
