package monitor

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/corral-dev/corral/errdefs"
)

// Operations of the control protocol (see the package comment).
const (
	opStatus   = "status"
	opWait     = "wait"
	opStart    = "start"
	opAttach   = "attach"
	opResize   = "resize"
	opSignal   = "signal"
	opExec     = "exec"
	opExecWait = "exec-wait"
	opStats    = "stats"
	opPause    = "pause"
	opResume   = "resume"
	opPids     = "pids"
	opUpdate   = "update"
	// opLogFollow streams the log's files (LogFiles).
	opLogFollow = "logfollow"
)

// Stream numbers in frame headers, as Docker's stdcopy.
const (
	StreamStdin  = 0
	StreamStdout = 1
	StreamStderr = 2
)

// FrameHeaderLen is the size of a frame header: [stream, 0, 0, 0, size
// uint32 big-endian], Docker's multiplexed-stream framing.
const FrameHeaderLen = 8

// maxRequest bounds one request line (an exec's process with its
// environment fits well within it).
const maxRequest = 1 << 20

// States of a container as Status reports them.
const (
	StateCreated = "created"
	StateRunning = "running"
	StateExited  = "exited"
)

// request is the one line a client sends first on each connection.
type request struct {
	Op     string `json:"op"`
	Stdin  bool   `json:"stdin,omitempty"`
	Stdout bool   `json:"stdout,omitempty"`
	Stderr bool   `json:"stderr,omitempty"`
	Height uint16 `json:"h,omitempty"`
	Width  uint16 `json:"w,omitempty"`
	Signal int    `json:"signal,omitempty"`
	All    bool   `json:"all,omitempty"`
	ExecID string `json:"exec,omitempty"`
	// Process (an OCI process) and Detach are exec's. The monitor hands
	// the process to the runtime as it came, reading only what it needs.
	Process json.RawMessage `json:"process,omitempty"`
	Detach  bool            `json:"detach,omitempty"`
	// Resources is update's: linux.resources of the OCI spec.
	Resources json.RawMessage `json:"resources,omitempty"`
}

// response is the one line the monitor answers with. For attach and an
// attached exec, the stream follows it on the same connection.
type response struct {
	Error    string          `json:"error,omitempty"`
	Class    string          `json:"class,omitempty"`
	Status   *Status         `json:"status,omitempty"`
	Pid      int             `json:"pid,omitempty"`
	ExitCode *int            `json:"exitCode,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
}

// Status is what the monitor reports about its container.
type Status struct {
	ID string `json:"id"`
	// State is StateCreated, StateRunning or StateExited.
	State      string    `json:"state"`
	Pid        int       `json:"pid"` // the container's init, as the host sees it
	MonitorPid int       `json:"monitorPid"`
	Tty        bool      `json:"tty"`
	Paused     bool      `json:"paused,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	// LogDropped counts the log messages the syslog driver dropped
	// rather than wait for its receiver.
	LogDropped uint64 `json:"logDropped,omitempty"`
	// Exit is set once the container exited.
	Exit *ExitStatus `json:"exit,omitempty"`
}

// ExitStatus is how the container ended, as recorded in exit.json.
type ExitStatus struct {
	// ExitCode is the process's status, or 128+signal when it was killed;
	// 255 when the monitor died and the daemon recovered the container.
	ExitCode  int       `json:"exitCode"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	ExitedAt  time.Time `json:"exitedAt"`
	OOMKilled bool      `json:"oomKilled,omitempty"`
	Pid       int       `json:"pid,omitempty"`
	// LogDropped is Status.LogDropped at the exit.
	LogDropped uint64 `json:"logDropped,omitempty"`
	// Error says why the process did not start, or that the monitor died.
	Error string `json:"error,omitempty"`
}

// Error classes on the wire, mapped to and from errdefs.
var classes = []struct {
	name  string
	class error
}{
	{"notfound", errdefs.ErrNotFound},
	{"conflict", errdefs.ErrConflict},
	{"invalid", errdefs.ErrInvalidArgument},
	{"unavailable", errdefs.ErrUnavailable},
	{"notimplemented", errdefs.ErrNotImplemented},
}

// err turns a response's error back into one, with its class.
func (r *response) err() error {
	if r.Error == "" {
		return nil
	}
	err := errors.New(r.Error)
	for _, c := range classes {
		if c.name == r.Class {
			return errdefs.Wrap(c.class, err)
		}
	}
	return err
}

// readLine reads one JSON line into v.
func readLine(r *bufio.Reader, v any) error {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
		if len(line) > maxRequest {
			return errors.New("request too long")
		}
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("decode message: %w", err)
	}
	return nil
}

// writeLine writes v as one JSON line.
func writeLine(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

// putHeader fills a frame header.
func putHeader(h []byte, stream byte, n int) {
	h[0], h[1], h[2], h[3] = stream, 0, 0, 0
	binary.BigEndian.PutUint32(h[4:], uint32(n))
}

// frame returns b framed for stream in one new slice.
func frame(stream byte, b []byte) []byte {
	f := make([]byte, FrameHeaderLen+len(b))
	putHeader(f, stream, len(b))
	copy(f[FrameHeaderLen:], b)
	return f
}
