package runcli

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/corral-dev/corral/runtime"
	"github.com/corral-dev/corral/runtime/nsinit"
	"golang.org/x/sys/unix"
)

// StandbyFD is the descriptor of a standby's socket: a SOCK_SEQPACKET
// socket whose other end the spare monitor that started it holds.
const StandbyFD = 3

// maxStandbyRequest bounds the request: the working directory and the
// arguments of one create (paths and an ID) fit many times over.
const maxStandbyRequest = 64 << 10

// Standby is `corral-runc standby`, which a spare monitor starts before it
// knows its container (cmd/corral-monitor/standby.c), so that the Go
// start-up of the runtime, the building of its JSON codecs and the sealing
// of init's binary are done before the create that needs them. It then
// says 'R' on its socket and waits for one request: the working directory
// and the arguments of a runtime command line, each ended by a NUL, with
// the command's stdin, stdout and stderr attached (SCM_RIGHTS). Once it has
// taken them it says 'A', and from then on the command is its: it runs it
// as Main would and returns its exit code. Until 'A' the monitor can still
// spawn a runtime instead, if the standby dies or fails. End of file on
// the socket means the monitor let it go: it exits 0, having done nothing.
func Standby() int {
	if t, err := unix.GetsockoptInt(StandbyFD, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || t != unix.SOCK_SEQPACKET {
		fmt.Fprintln(os.Stderr, "corral-runc standby: descriptor 3 is not a monitor's SOCK_SEQPACKET socket (a spare monitor runs it)")
		return 2
	}
	sock := os.NewFile(StandbyFD, "standby")
	runtime.PrepareCreate()
	if _, err := sock.Write([]byte{'R'}); errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
		return 0 // the monitor is gone already
	} else if err != nil {
		fmt.Fprintf(os.Stderr, "corral-runc standby: %v\n", err)
		return 1
	}
	req, err := receiveRequest(int(sock.Fd()))
	if errors.Is(err, errLetGo) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "corral-runc standby: %v\n", err)
		return 1
	}
	if err := req.install(); err != nil {
		// In the command's --log too; the monitor, told nothing, spawns a
		// runtime for the command instead.
		return (&globals{}).finish(fmt.Errorf("standby runtime: %w", err), req.args)
	}
	_, err = sock.Write([]byte{'A'})
	sock.Close()
	if err != nil {
		return 1 // the monitor is gone or gave up: the command is not ours
	}
	return Main(req.args)
}

var errLetGo = errors.New("the monitor let the standby go")

// standbyRequest is a command a standby runs.
type standbyRequest struct {
	dir   string
	args  []string
	stdio [3]int
}

// receiveRequest reads the one request; errLetGo at end of file.
func receiveRequest(sock int) (*standbyRequest, error) {
	buf := make([]byte, maxStandbyRequest)
	oob := make([]byte, unix.CmsgSpace(3*4))
	n, oobn, flags, err := recvmsgRetry(sock, buf, oob)
	if err != nil {
		return nil, fmt.Errorf("read request: %w", err)
	}
	fds, ferr := nsinit.Rights(oob[:oobn])
	req, perr := parseRequest(buf[:n], flags, fds)
	if err := errors.Join(ferr, perr); err != nil {
		closeAll(fds)
		return nil, err
	}
	return req, nil
}

func recvmsgRetry(sock int, buf, oob []byte) (n, oobn, flags int, err error) {
	for {
		n, oobn, flags, _, err = unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			return n, oobn, flags, err
		}
	}
}

// parseRequest checks a request's shape: "DIR\x00ARG\x00...", whole, with
// exactly the three stdio descriptors.
func parseRequest(msg []byte, flags int, fds []int) (*standbyRequest, error) {
	switch {
	case len(msg) == 0 && len(fds) == 0:
		return nil, errLetGo
	case flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0:
		return nil, errors.New("request truncated")
	case len(fds) != 3:
		return nil, fmt.Errorf("request carries %d descriptors, want 3 (stdin, stdout, stderr)", len(fds))
	case !bytes.HasSuffix(msg, []byte{0}):
		return nil, errors.New("request does not end with a NUL")
	}
	parts := bytes.Split(msg[:len(msg)-1], []byte{0})
	if len(parts) < 2 || len(parts[0]) == 0 {
		return nil, errors.New("request names no directory or no command")
	}
	req := &standbyRequest{dir: string(parts[0]), stdio: [3]int{fds[0], fds[1], fds[2]}}
	for _, a := range parts[1:] {
		req.args = append(req.args, string(a))
	}
	return req, nil
}

// install makes the request's descriptors this process's stdio and its
// directory the working one, as a runtime spawned for the command has.
func (r *standbyRequest) install() error {
	defer closeAll(r.stdio[:])
	if err := os.Chdir(r.dir); err != nil {
		return fmt.Errorf("change to the monitor's directory: %w", err)
	}
	for i, fd := range r.stdio {
		if err := unix.Dup3(fd, i, 0); err != nil {
			return fmt.Errorf("install stdio %d: %w", i, err)
		}
	}
	return nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		_ = unix.Close(fd)
	}
}
