package nsinit

import (
	"fmt"

	"github.com/creack/pty"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setupConsole opens a pty inside the container (on its own devpts), sends
// the master to the console socket, and makes the slave the process's stdio
// and controlling terminal.
func setupConsole(sockFD int, p *specs.Process) error {
	master, slave, err := pty.Open()
	if err != nil {
		return fmt.Errorf("open pty in container: %w", err)
	}
	defer master.Close()
	defer slave.Close()
	if p.ConsoleSize != nil {
		ws := &pty.Winsize{Rows: uint16(p.ConsoleSize.Height), Cols: uint16(p.ConsoleSize.Width)}
		if err := pty.Setsize(master, ws); err != nil {
			return fmt.Errorf("set console size: %w", err)
		}
	}
	if err := unix.Fchown(int(slave.Fd()), int(p.User.UID), -1); err != nil {
		return fmt.Errorf("chown console %s: %w", slave.Name(), err)
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
