package testutil

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// setupChild turns the freshly re-executed test process into the sandbox:
// it is already in new mount and network namespaces.
func setupChild(cgroups []string) error {
	if err := joinCgroups(cgroups); err != nil {
		return err
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	for _, m := range sandboxTmpfs {
		if err := mountTmpfs(m.path, m.mode); err != nil {
			return err
		}
	}
	return bringUpLoopback()
}

// mountTmpfs mounts a fresh tmpfs on dir, creating dir (in the host's file
// system, where it stays as an empty directory) when it is missing.
func mountTmpfs(dir, mode string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create mount point %s: %w", dir, err)
	}
	err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode="+mode)
	if err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	return nil
}

// bringUpLoopback sets IFF_UP on lo, the only device of a new network
// namespace.
func bringUpLoopback() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open socket for lo: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("read flags of lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	return nil
}
