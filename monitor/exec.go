package monitor

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"

	"github.com/corral-dev/corral/errdefs"
	"golang.org/x/sys/unix"
)

// keepExecs is how many finished execs the monitor remembers.
const keepExecs = 32

// execProc is a process started in the container by exec.
type execProc struct {
	id     string
	pid    int
	master *os.File // with a terminal
	stdin  *os.File // our end, nil when not attached

	exitOnce sync.Once
	done     chan struct{} // closed when the process exited
	code     int           // valid once done is closed
	mu       sync.Mutex    // guards stdin closing
}

func (e *execProc) setExit(code int) {
	e.exitOnce.Do(func() {
		e.code = code
		close(e.done)
	})
}

func (e *execProc) exited() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

func (e *execProc) kill(sig unix.Signal) error {
	if e.exited() {
		return errdefs.Conflict(fmt.Errorf("exec %s is not running", e.id))
	}
	if err := unix.Kill(e.pid, sig); err != nil {
		return fmt.Errorf("signal exec %s: %w", e.id, err)
	}
	return nil
}

// stdinFile returns the stdin to write to, nil once closed.
func (e *execProc) stdinFile() *os.File {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stdin
}

// closeStdin ends the process's input (not a pty master's: that is also
// the output).
func (e *execProc) closeStdin() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stdin != nil && e.stdin != e.master {
		e.stdin.Close()
	}
	e.stdin = nil
}

// execProc finds an exec by id.
func (s *server) execProc(id string) (*execProc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.execs[id]
	if !ok {
		return nil, errdefs.NotFound(fmt.Errorf("no such exec %s", id))
	}
	return e, nil
}

// handleExec starts a process in the container and, unless detached,
// streams its stdio over the connection until it exited and its output
// ended.
func (s *server) handleExec(conn *net.UnixConn, br *bufio.Reader, req *request) {
	e, out, err := s.startExec(req)
	if err != nil {
		reply(conn, errResponse(err))
		conn.Close()
		return
	}
	if err := reply(conn, &response{Pid: e.pid}); err != nil || req.Detach {
		conn.Close()
		e.closeStdin() // nobody will write to it
		out.start(nil)
		return
	}
	var (
		wmu    sync.Mutex
		failed bool
	)
	out.start(func(stream byte, b []byte) {
		wmu.Lock()
		defer wmu.Unlock()
		if failed {
			return // keep draining: the process must not block
		}
		if e.master == nil {
			b = frame(stream, b)
		}
		if _, err := conn.Write(b); err != nil {
			failed = true
		}
	})
	go func() {
		<-e.done
		waitTimeout(&out.wg, drainTimeout)
		conn.Close()
	}()
	write := func(b []byte) {
		if f := e.stdinFile(); f != nil {
			f.Write(b)
		}
	}
	eof := e.closeStdin
	if e.master != nil {
		eof = func() {}
	}
	s.copyStdin(br, e.stdinFile() != nil, write, eof)
}

// execOutput is an exec's output streams, pumped once the reply is sent.
type execOutput struct {
	files   []*os.File
	streams []byte
	wg      sync.WaitGroup
	console *consoleSocket // with a terminal, until the master is here
	stdio   *procStdio     // without one
}

// start pumps every stream to out (nil: discard).
func (o *execOutput) start(out func(stream byte, b []byte)) {
	for i, f := range o.files {
		stream := o.streams[i]
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			pump(f, func(b []byte) {
				if out != nil {
					out(stream, b)
				}
			})
		}()
	}
}

// execProcess is what the monitor reads of an exec's OCI process; the
// runtime gets the whole of it.
type execProcess struct {
	Args        []string `json:"args"`
	Terminal    bool     `json:"terminal"`
	ConsoleSize *struct {
		Height uint16 `json:"height"`
		Width  uint16 `json:"width"`
	} `json:"consoleSize"`
}

// readExecProcess reads what the monitor needs of an exec's process.
func readExecProcess(raw json.RawMessage) (*execProcess, error) {
	var p execProcess
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, errdefs.InvalidArgument(fmt.Errorf("exec process: %w", err))
		}
	}
	if len(p.Args) == 0 {
		return nil, errdefs.InvalidArgument(errors.New("exec needs a command"))
	}
	return &p, nil
}

// startExec runs the exec through the runtime, detached, with stdio the
// monitor holds, and registers it before the reaper can see it exit.
func (s *server) startExec(req *request) (*execProc, *execOutput, error) {
	p, err := readExecProcess(req.Process)
	if err != nil {
		return nil, nil, err
	}
	s.rtMu.Lock()
	defer s.rtMu.Unlock()
	n, err := s.reserveExec(req)
	if err != nil {
		return nil, nil, err
	}
	name := "exec-" + strconv.Itoa(n)
	if err := writeFileAtomic(name+".json", req.Process, 0o600); err != nil {
		return nil, nil, err
	}
	defer os.Remove(name + ".json")
	e := &execProc{id: req.ExecID, done: make(chan struct{})}
	opts := execOpts{processFile: name + ".json", pidFile: name + ".pid"}
	out, cleanup, err := s.execStdio(e, req, p, name, &opts)
	if err != nil {
		return nil, nil, err
	}
	defer cleanup()
	if err := s.rt.exec(s.cfg.ID, opts); err != nil {
		out.close()
		return nil, nil, err
	}
	if e.pid, err = readPidFile(opts.pidFile); err != nil {
		out.close()
		return nil, nil, err
	}
	if err := out.takeConsole(e, req, p); err != nil {
		unix.Kill(e.pid, unix.SIGKILL)
		return nil, nil, err
	}
	s.mu.Lock()
	s.execs[e.id] = e
	s.pruneExecs()
	s.mu.Unlock()
	return e, out, nil
}

// reserveExec checks that an exec can start and gives it an id if it has
// none, and a sequence number for its files.
func (s *server) reserveExec(req *request) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != StateRunning {
		return 0, errdefs.Conflict(fmt.Errorf("container %s is not running", s.cfg.ID))
	}
	s.execSeq++
	if req.ExecID == "" {
		req.ExecID = "exec-" + strconv.Itoa(s.execSeq)
	}
	if _, ok := s.execs[req.ExecID]; ok {
		return 0, errdefs.Conflict(fmt.Errorf("exec %s already exists", req.ExecID))
	}
	return s.execSeq, nil
}

// pruneExecs forgets finished execs beyond keepExecs.
func (s *server) pruneExecs() {
	finished := 0
	for id, e := range s.execs {
		if e.exited() {
			if finished++; finished > keepExecs {
				delete(s.execs, id)
			}
		}
	}
}

// execStdio prepares an exec's stdio: a console socket for a terminal,
// pipes otherwise (/dev/null for what is not attached).
func (s *server) execStdio(e *execProc, req *request, p *execProcess, name string, opts *execOpts) (*execOutput, func(), error) {
	out := &execOutput{}
	if p.Terminal {
		console, err := listenConsole(name + ".sock")
		if err != nil {
			return nil, nil, err
		}
		opts.consoleSocket = console.name
		out.console = console
		return out, console.close, nil
	}
	stdio, err := pipeStdio(req.Stdin && !req.Detach, !req.Detach)
	if err != nil {
		return nil, nil, err
	}
	opts.stdio = stdio.theirs
	e.stdin = stdio.stdin
	if stdio.stdout != nil {
		out.files, out.streams = []*os.File{stdio.stdout, stdio.stderr}, []byte{StreamStdout, StreamStderr}
	}
	out.stdio = stdio
	return out, stdio.closeTheirs, nil
}

// takeConsole receives an exec's pty master: its only output stream, and
// its stdin when attached.
func (o *execOutput) takeConsole(e *execProc, req *request, p *execProcess) error {
	if o.console == nil {
		return nil
	}
	master, err := o.console.receive(consoleTimeout)
	if err != nil {
		return err
	}
	if b := p.ConsoleSize; b != nil {
		setWinsize(master, b.Height, b.Width)
	}
	e.master = master
	if req.Stdin && !req.Detach {
		e.stdin = master
	}
	o.files, o.streams = []*os.File{master}, []byte{StreamStdout}
	return nil
}

// close gives up an exec's stdio when it could not start.
func (o *execOutput) close() {
	if o.stdio != nil {
		o.stdio.close()
	}
}

// handleExecWait answers with an exec's exit code once it exited, unless
// the client goes away first.
func (s *server) handleExecWait(conn *net.UnixConn, br *bufio.Reader, id string) {
	e, err := s.execProc(id)
	if err != nil {
		reply(conn, errResponse(err))
		return
	}
	select {
	case <-e.done:
		code := e.code
		reply(conn, &response{ExitCode: &code, Pid: e.pid})
	case <-clientGone(br):
	}
}
