package monitor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// consoleSocket is the socket a process's init connects to (the runtime's
// console socket) to send the pty master. It lives in the monitor's
// directory, which is the monitor's working directory, under a short
// relative name, so the path length limit of unix sockets never bites.
type consoleSocket struct {
	ln   *net.UnixListener
	name string
}

func listenConsole(name string) (*consoleSocket, error) {
	ln, err := listenUnix(name)
	if err != nil {
		return nil, fmt.Errorf("listen on console socket: %w", err)
	}
	return &consoleSocket{ln: ln, name: name}, nil
}

// listenUnix listens on a unix socket at name (replacing a stale one),
// removed when the listener closes. It makes the socket itself rather than
// through net.Listen, whose first call reads the kernel's listen backlog
// into a 64 KiB buffer: garbage that an idle monitor, which does not
// collect, would hold for good.
func listenUnix(name string) (*net.UnixListener, error) {
	os.Remove(name)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close() // FileListener has its own descriptor
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: name}); err != nil {
		return nil, err
	}
	if err := unix.Listen(fd, 128); err != nil {
		os.Remove(name)
		return nil, err
	}
	ln, err := net.FileListener(f)
	if err != nil {
		os.Remove(name)
		return nil, err
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(true)
	return ul, nil
}

// receive takes the pty master init sent. Init connects and sends during
// the runtime's create or exec, before it is ready, so the connection is
// already queued when this runs.
func (c *consoleSocket) receive(timeout time.Duration) (*os.File, error) {
	c.ln.SetDeadline(time.Now().Add(timeout))
	conn, err := c.ln.AcceptUnix()
	if err != nil {
		return nil, fmt.Errorf("receive pty master: %w", err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 256)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("receive pty master: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, errors.New("receive pty master: no descriptor sent")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, errors.New("receive pty master: bad descriptor message")
	}
	// Non-blocking, so that the Go runtime's poller waits on it rather
	// than a thread.
	unix.CloseOnExec(fds[0])
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		return nil, fmt.Errorf("receive pty master: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}

func (c *consoleSocket) close() { c.ln.Close() }
