package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/corral-dev/corral/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ErrMonitorDead is returned when no monitor answers for a container whose
// exit was never recorded: the monitor was killed. Recover cleans up.
var ErrMonitorDead = errors.New("the container's monitor died")

// Client talks to one monitor. It holds no connection: each call dials the
// monitor's socket, so a client made by Connect after a daemon restart is
// as good as the one Start returned. Once the monitor has exited, Status
// and Wait answer from the exit file it left.
type Client struct {
	ID      string
	dir     string
	pid     int
	initPid int // the created container's init, as Start learnt it
}

// Connect returns a client for the monitor of container id under stateDir
// after checking that it answers. When it has exited, the error is
// errdefs.ErrNotFound wrapping the cause and ReadExit has the exit; when it
// died without recording one, the error is ErrMonitorDead.
func Connect(ctx context.Context, stateDir, id string) (*Client, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	c := &Client{ID: id, dir: filepath.Join(stateDir, id)}
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	if st.State == StateExited && st.MonitorPid == 0 {
		return nil, errdefs.NotFound(fmt.Errorf("the monitor of %s has exited", id))
	}
	c.pid = st.MonitorPid
	return c, nil
}

// Dir is the monitor's directory.
func (c *Client) Dir() string { return c.dir }

// Pid is the monitor's pid (0 when unknown).
func (c *Client) Pid() int { return c.pid }

// InitPid is the pid of the container's init as the monitor reported it
// once it had created the container, so Start's caller needs no Status
// request for it; 0 for a client made by Connect.
func (c *Client) InitPid() int { return c.initPid }

// dial connects to the monitor's socket; ctx bounds the whole exchange.
func (c *Client) dial(ctx context.Context) (*net.UnixConn, error) {
	path := filepath.Join(c.dir, socketFile)
	if len(path) >= len(unix.RawSockaddrUnix{}.Path) {
		// Too long for sockaddr_un: go through the directory's descriptor.
		dir, err := os.Open(c.dir)
		if err != nil {
			return nil, err
		}
		defer dir.Close()
		path = "/proc/self/fd/" + strconv.Itoa(int(dir.Fd())) + "/" + socketFile
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	return conn.(*net.UnixConn), nil
}

// call sends req and reads the response; the connection stays open for a
// stream when the call succeeded and stream is set. A monitor that is not
// there (or goes away before answering) is reported by gone.
func (c *Client) call(ctx context.Context, req *request, stream bool) (*response, *net.UnixConn, *bufio.Reader, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, nil, nil, c.gone(err)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if err := writeLine(conn, req); err != nil {
		conn.Close()
		return nil, nil, nil, c.gone(err)
	}
	br := bufio.NewReader(conn)
	var resp response
	if err := readLine(br, &resp); err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, nil, nil, ctx.Err()
		}
		return nil, nil, nil, c.gone(err)
	}
	if err := resp.err(); err != nil || !stream {
		conn.Close()
		return &resp, nil, nil, err
	}
	return &resp, conn, br, nil
}

// goneError says why the monitor did not answer: it exited (the exit
// file is there) or died.
type goneError struct {
	exit  *ExitStatus
	cause error
}

func (e *goneError) Error() string {
	if e.exit != nil {
		return "the monitor has exited: " + e.cause.Error()
	}
	return ErrMonitorDead.Error() + ": " + e.cause.Error()
}

func (e *goneError) Unwrap() []error {
	if e.exit != nil {
		return []error{e.cause, errdefs.ErrNotFound}
	}
	return []error{e.cause, ErrMonitorDead}
}

func (c *Client) gone(cause error) error {
	ex, err := readExit(c.dir)
	if err != nil {
		return &goneError{cause: cause}
	}
	return &goneError{exit: ex, cause: cause}
}

// exitedStatus answers for a monitor that has exited, from its exit file.
func (c *Client) exitedStatus(err error) (*Status, error) {
	var g *goneError
	if errors.As(err, &g) && g.exit != nil {
		return &Status{ID: c.ID, State: StateExited, Pid: g.exit.Pid, Exit: g.exit}, nil
	}
	return nil, err
}

// Status reports the container's state; after the monitor exited, from
// its exit file (MonitorPid is then 0).
func (c *Client) Status(ctx context.Context) (*Status, error) {
	resp, _, _, err := c.call(ctx, &request{Op: opStatus}, false)
	if err != nil {
		return c.exitedStatus(err)
	}
	return resp.Status, nil
}

// Wait blocks until the container has exited and returns how. If the
// monitor dies meanwhile, the error is ErrMonitorDead.
func (c *Client) Wait(ctx context.Context) (*ExitStatus, error) {
	resp, _, _, err := c.call(ctx, &request{Op: opWait}, false)
	if err != nil {
		st, err := c.exitedStatus(err)
		if err != nil {
			return nil, err
		}
		return st.Exit, nil
	}
	if resp.Status == nil || resp.Status.Exit == nil {
		return nil, errors.New("monitor: wait answered without an exit")
	}
	return resp.Status.Exit, nil
}

// Start lets the created container run its process.
func (c *Client) Start(ctx context.Context) error {
	_, _, _, err := c.call(ctx, &request{Op: opStart}, false)
	return err
}

// Signal sends sig to the container's init, or to all its processes.
func (c *Client) Signal(ctx context.Context, sig syscall.Signal, all bool) error {
	_, _, _, err := c.call(ctx, &request{Op: opSignal, Signal: int(sig), All: all}, false)
	return err
}

// Resize sets the container's terminal size.
func (c *Client) Resize(ctx context.Context, height, width uint16) error {
	_, _, _, err := c.call(ctx, &request{Op: opResize, Height: height, Width: width}, false)
	return err
}

// Stats returns one of the runtime's stats events (runc's JSON format).
func (c *Client) Stats(ctx context.Context) (json.RawMessage, error) {
	resp, _, _, err := c.call(ctx, &request{Op: opStats}, false)
	if err != nil {
		return nil, err
	}
	return resp.Data, nil
}

// Pause freezes every process of the container.
func (c *Client) Pause(ctx context.Context) error {
	_, _, _, err := c.call(ctx, &request{Op: opPause}, false)
	return err
}

// Resume thaws a paused container.
func (c *Client) Resume(ctx context.Context) error {
	_, _, _, err := c.call(ctx, &request{Op: opResume}, false)
	return err
}

// Pids lists the host pids of the container's processes (for top).
func (c *Client) Pids(ctx context.Context) ([]int, error) {
	resp, _, _, err := c.call(ctx, &request{Op: opPids}, false)
	if err != nil {
		return nil, err
	}
	var pids []int
	if err := json.Unmarshal(resp.Data, &pids); err != nil {
		return nil, fmt.Errorf("monitor: pids: %w", err)
	}
	return pids, nil
}

// Update changes the container's resource limits.
func (c *Client) Update(ctx context.Context, r *specs.LinuxResources) error {
	req := &request{Op: opUpdate}
	if r != nil {
		data, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("monitor: update: %w", err)
		}
		req.Resources = data
	}
	_, _, _, err := c.call(ctx, req, false)
	return err
}

// AttachOptions choose the streams of an attach.
type AttachOptions struct {
	Stdin, Stdout, Stderr bool
}

// Attach connects to the container's stdio. Output comes from Read: raw
// bytes with a terminal, Docker's multiplexed frames otherwise, ready to
// copy to an HTTP hijacked connection; it ends (io.EOF) when the
// container's output ended. Stdin (when the container has OpenStdin) goes
// through Write; CloseStdin ends it (Docker's half-close), Close detaches.
func (c *Client) Attach(ctx context.Context, o AttachOptions) (*Stream, error) {
	_, conn, br, err := c.call(ctx, &request{Op: opAttach, Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr}, true)
	if err != nil {
		return nil, err
	}
	return &Stream{conn: conn, r: br}, nil
}

// ExecOptions describe a process to start in the running container.
type ExecOptions struct {
	// ID names the exec for ExecWait, ExecResize and ExecSignal; empty
	// lets the monitor choose one (Stream.ExecID).
	ID string
	// Process is the process to run; Terminal gives it a pty, and
	// ConsoleSize its initial size.
	Process *specs.Process
	// Stdin attaches its stdin; Detach runs it without a stream.
	Stdin, Detach bool
}

// Exec starts a process in the container. Unless detached, the returned
// stream carries its stdio (as Attach's) and ends when it exited; its exit
// code comes from ExecWait.
func (c *Client) Exec(ctx context.Context, o ExecOptions) (*Stream, error) {
	req := &request{Op: opExec, ExecID: o.ID, Stdin: o.Stdin, Detach: o.Detach}
	if o.Process != nil {
		data, err := json.Marshal(o.Process)
		if err != nil {
			return nil, fmt.Errorf("monitor: exec: %w", err)
		}
		req.Process = data
	}
	resp, conn, br, err := c.call(ctx, req, !o.Detach)
	if err != nil {
		return nil, err
	}
	return &Stream{conn: conn, r: br, Pid: resp.Pid}, nil
}

// ExecWait waits for an exec to exit and returns its exit code.
func (c *Client) ExecWait(ctx context.Context, id string) (int, error) {
	resp, _, _, err := c.call(ctx, &request{Op: opExecWait, ExecID: id}, false)
	if err != nil {
		return -1, err
	}
	if resp.ExitCode == nil {
		return -1, errors.New("monitor: exec-wait answered without an exit code")
	}
	return *resp.ExitCode, nil
}

// ExecResize sets an exec's terminal size.
func (c *Client) ExecResize(ctx context.Context, id string, height, width uint16) error {
	_, _, _, err := c.call(ctx, &request{Op: opResize, ExecID: id, Height: height, Width: width}, false)
	return err
}

// ExecSignal sends sig to an exec process.
func (c *Client) ExecSignal(ctx context.Context, id string, sig syscall.Signal) error {
	_, _, _, err := c.call(ctx, &request{Op: opSignal, ExecID: id, Signal: int(sig)}, false)
	return err
}

// Stream is an attached connection: Read gets output, Write sends stdin.
// Read and Write may be used from different goroutines.
type Stream struct {
	// Pid is an exec's process id (0 for attach).
	Pid  int
	conn *net.UnixConn
	r    *bufio.Reader
	wmu  sync.Mutex
	hdr  [FrameHeaderLen]byte
}

// Read reads output.
func (s *Stream) Read(p []byte) (int, error) {
	if s.conn == nil {
		return 0, io.EOF
	}
	return s.r.Read(p)
}

// Write sends p to the process's stdin.
func (s *Stream) Write(p []byte) (int, error) {
	if s.conn == nil {
		return 0, net.ErrClosed
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	n := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), 32<<10)]
		putHeader(s.hdr[:], StreamStdin, len(chunk))
		bufs := net.Buffers{s.hdr[:], chunk}
		if _, err := bufs.WriteTo(s.conn); err != nil {
			return n, err
		}
		n += len(chunk)
		p = p[len(chunk):]
	}
	return n, nil
}

// CloseStdin ends the process's input; output goes on.
func (s *Stream) CloseStdin() error {
	if s.conn == nil {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	putHeader(s.hdr[:], StreamStdin, 0)
	_, err := s.conn.Write(s.hdr[:])
	return err
}

// Close ends the stream. For an attach whose stdin is still open this is
// a detach: with StdinOnce the container's stdin closes, otherwise the
// container does not notice.
func (s *Stream) Close() error {
	if s.conn == nil {
		return nil
	}
	return s.conn.Close()
}

// readExit reads the exit file in dir.
func readExit(dir string) (*ExitStatus, error) {
	data, err := os.ReadFile(filepath.Join(dir, exitFile))
	if err != nil {
		return nil, err
	}
	var ex ExitStatus
	if err := json.Unmarshal(data, &ex); err != nil {
		return nil, fmt.Errorf("read exit file: %w", err)
	}
	return &ex, nil
}

// ReadExit returns the exit the monitor of container id recorded
// (errdefs.ErrNotFound while there is none).
func ReadExit(stateDir, id string) (*ExitStatus, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	ex, err := readExit(filepath.Join(stateDir, id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errdefs.NotFound(fmt.Errorf("no exit recorded for %s", id))
	}
	return ex, err
}
