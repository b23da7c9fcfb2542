package nsinit

import (
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setupConsole opens a pty inside the container (on its own devpts), sends
// the master to the console socket, and makes the slave the process's stdio
// and controlling terminal.
func setupConsole(sockFD int, p *specs.Process, devConsole bool) error {
	master, slave, err := openPty()
	if err != nil {
		return fmt.Errorf("open pty in container: %w", err)
	}
	defer master.Close()
	defer slave.Close()
	if p.ConsoleSize != nil {
		ws := &unix.Winsize{Row: uint16(p.ConsoleSize.Height), Col: uint16(p.ConsoleSize.Width)}
		if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("set console size: %w", err)
		}
	}
	if err := unix.Fchown(int(slave.Fd()), int(p.User.UID), -1); err != nil {
		return fmt.Errorf("chown console %s: %w", slave.Name(), err)
	}
	if devConsole {
		if err := bindConsole(slave); err != nil {
			return err
		}
	}
	rights := unix.UnixRights(int(master.Fd()))
	if err := unix.Sendmsg(sockFD, []byte(master.Name()), rights, nil, 0); err != nil {
		return fmt.Errorf("send pty master to console socket: %w", err)
	}
	unix.Close(sockFD)
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if err := unix.IoctlSetInt(int(slave.Fd()), unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(int(slave.Fd()), fd, 0); err != nil {
			return fmt.Errorf("dup console to fd %d: %w", fd, err)
		}
	}
	return nil
}

// openPty opens a new pty pair on the container's /dev/ptmx.
func openPty() (master, slave *os.File, err error) {
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	master = os.NewFile(uintptr(m), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	if slave, err = openPtySlave(master); err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}
