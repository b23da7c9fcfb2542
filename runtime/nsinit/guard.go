package nsinit

// Guards for init's own steps, against the known escapes through a
// runtime: helpers that init.go, process.go and console.go call.

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"
)

// EnvExeFD names the environment variable that carries the descriptor of
// the sealed binary init was executed from (see runtime's exeguard.go).
const EnvExeFD = "_CORRAL_EXEFD"

// CloseExeFD closes the descriptor of the sealed binary init runs from: the
// kernel holds the executable itself, init has no use for the descriptor,
// and nothing of the runtime's should stay reachable from the container.
func CloseExeFD() {
	fd, err := strconv.Atoi(os.Getenv(EnvExeFD))
	os.Unsetenv(EnvExeFD)
	if err == nil && fd > 2 {
		unix.Close(fd)
	}
}

// verifyCwd fails unless the working directory lies inside the process's
// root (CVE-2024-21626): a process.cwd of /proc/self/fd/N, N a directory
// descriptor init still holds, would otherwise start the program in a
// directory outside the container. The kernel's getcwd prefixes such a
// directory with "(unreachable)", never with "/".
func verifyCwd() error {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Getcwd(buf)
	if err != nil {
		return fmt.Errorf("check working directory: %w", err)
	}
	cwd := string(buf[:max(n-1, 0)])
	if n < 2 || cwd[0] != '/' {
		return fmt.Errorf("working directory %q is outside the container's root: refusing to run the process", cwd)
	}
	return nil
}

// writeThreadSelf writes name under /proc/thread-self (oom_score_adj,
// attr/current...) through a procfs instance of init's own,
// never through the container's /proc: a bind mount racing in over the
// file there (CVE-2025-52881) cannot redirect the write. The file is
// checked to be on a procfs before writing. Init's goroutine is locked to
// its thread, so thread-self is the process.
func writeThreadSelf(name, value string) error {
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return fmt.Errorf("open a private procfs: %w", err)
	}
	defer proc.Close()
	h, closer, err := proc.OpenThreadSelf(name)
	if err != nil {
		return fmt.Errorf("open /proc/thread-self/%s: %w", name, err)
	}
	defer closer()
	defer h.Close()
	f, err := pathrs.Reopen(h, unix.O_WRONLY|unix.O_CLOEXEC)
	if err != nil {
		return fmt.Errorf("open /proc/thread-self/%s for writing: %w", name, err)
	}
	defer f.Close()
	if err := checkOnProcfs(f); err != nil {
		return fmt.Errorf("/proc/thread-self/%s: %w", name, err)
	}
	if _, err := f.WriteString(value); err != nil {
		return fmt.Errorf("write /proc/thread-self/%s: %w", name, err)
	}
	return nil
}

// openPtySlave opens the slave of a pty master with TIOCGPTPEER: no path is
// looked up, so nothing at /dev/pts/N of the image's making can stand in for
// it; it is checked to be a pty slave on a devpts.
func openPtySlave(master *os.File) (*os.File, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, master.Fd(), unix.TIOCGPTPEER,
		uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		return nil, fmt.Errorf("open pty slave (TIOCGPTPEER): %w", errno)
	}
	name := "pty-slave"
	if n, err := unix.IoctlGetUint32(int(master.Fd()), unix.TIOCGPTN); err == nil {
		name = fmt.Sprintf("/dev/pts/%d", n)
	}
	slave := os.NewFile(r, name)
	if err := checkPtySlave(slave); err != nil {
		slave.Close()
		return nil, err
	}
	return slave, nil
}

// checkPtySlave fails unless f is a character device of the pty slave
// majors (136-143) on a devpts.
func checkPtySlave(f *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("stat pty slave: %w", err)
	}
	major := unix.Major(st.Rdev)
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || major < 136 || major > 143 {
		return fmt.Errorf("pty slave is not a pty (mode %#o, device %d:%d)", st.Mode, major, unix.Minor(st.Rdev))
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &fs); err != nil {
		return fmt.Errorf("statfs pty slave: %w", err)
	}
	if fs.Type != unix.DEVPTS_SUPER_MAGIC {
		return fmt.Errorf("pty slave is not on a devpts (filesystem %#x)", fs.Type)
	}
	return nil
}

// bindConsole makes /dev/console the container's pty (CVE-2025-52565): the
// pty is cloned from its open descriptor, never from a path, and moved onto
// a regular file init created itself in /dev and opened without following
// symlinks, so neither end of the bind can be redirected by the image or by
// a rename racing with us.
func bindConsole(slave *os.File) error {
	if err := checkPtySlave(slave); err != nil {
		return err
	}
	dev, err := openDevDir()
	if err != nil {
		return err
	}
	defer dev.Close()
	target, err := newConsoleFile(dev)
	if err != nil {
		return err
	}
	defer target.Close()
	tree, err := unix.OpenTree(int(slave.Fd()), "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return fmt.Errorf("clone the pty for /dev/console: %w", err)
	}
	defer unix.Close(tree)
	err = unix.MoveMount(tree, "", int(target.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	if err != nil {
		return fmt.Errorf("bind the pty onto /dev/console: %w", err)
	}
	return nil
}

// openDevDir opens the container's /dev, which must be a directory reached
// without a symlink.
func openDevDir() (*os.File, error) {
	fd, err := unix.Open("/dev", unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev for the console: %w", err)
	}
	return os.NewFile(uintptr(fd), "/dev"), nil
}

// newConsoleFile replaces whatever the image has at /dev/console (a
// symlink into /proc/sys, a device...) with an empty regular file of init's
// own, created without following anything, and returns it open.
func newConsoleFile(dev *os.File) (*os.File, error) {
	err := unix.Unlinkat(int(dev.Fd()), "console", 0)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return nil, fmt.Errorf("remove the image's /dev/console: %w", err)
	}
	fd, err := unix.Openat(int(dev.Fd()), "console", unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create /dev/console: %w", err)
	}
	return os.NewFile(uintptr(fd), "/dev/console"), nil
}
