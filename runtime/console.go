package runtime

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// dialConsole connects to a console socket and returns the connection as a
// file that init inherits.
func dialConsole(path string) (*os.File, error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("connect to console socket: %w", err)
	}
	defer conn.Close()
	f, err := conn.(*net.UnixConn).File()
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	return f, nil
}

// consolePair makes the socket pair used when the runtime itself is the
// console socket's receiver (run or exec with a terminal, in the foreground).
func consolePair() (ours, theirs *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("create console socket: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "console"), os.NewFile(uintptr(fds[1]), "console-init"), nil
}

// recvConsole receives the pty master that init sent over sock.
func recvConsole(sock *os.File) (*os.File, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, 0)
	if err != nil {
		return nil, fmt.Errorf("receive pty master: %w", err)
	}
	fds, err := parseRights(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("receive pty master: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}

// proxyConsole copies between our stdio and the pty master until the
// container side closes; it puts our terminal in raw mode meanwhile and
// passes window size changes on. The returned func restores the terminal.
func proxyConsole(master *os.File, stdio Stdio) (restore func()) {
	restore = func() {}
	var in io.Reader = stdio.In
	if term.IsTerminal(int(stdio.In.Fd())) {
		in = io.MultiReader(bytes.NewReader(typedAhead(int(stdio.In.Fd()))), stdio.In)
		if st, err := term.MakeRaw(int(stdio.In.Fd())); err == nil {
			restore = func() { term.Restore(int(stdio.In.Fd()), st) }
		}
		pty.InheritSize(stdio.In, master)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		go func() {
			for range winch {
				pty.InheritSize(stdio.In, master)
			}
		}()
	}
	go io.Copy(master, in)
	return restore
}

// typedAhead takes from a terminal still in canonical mode the complete
// lines it holds, before it is made raw. Left there, they would be read raw
// as typed except that each end of file (a ^D typed, or the one script(1)
// sends when its own input ends) becomes a NUL byte, the kernel's marker
// for it, which the container's terminal echoes into the output as "^@".
// The lines go to the container; an end of file is dropped: typed before
// the container's terminal existed, it cannot mean the same there (runc
// passes the NUL on). Poll first: a canonical read would wait for a line.
func typedAhead(fd int) []byte {
	var typed []byte
	buf := make([]byte, 4096)
	for i := 0; i < 64; i++ { // it holds 4096 bytes; one hung up reads 0 forever
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 0)
		if err != nil || n != 1 || pfd[0].Revents&unix.POLLIN == 0 ||
			pfd[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
			break
		}
		if n, err = unix.Read(fd, buf); err != nil {
			break
		}
		typed = append(typed, buf[:n]...)
	}
	return typed
}
