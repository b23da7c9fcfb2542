package monitor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/corral-dev/corral/errdefs"
	"golang.org/x/sys/unix"
)

// requestTimeout bounds how long a client may take to send its request.
const requestTimeout = 10 * time.Second

// accept serves the control socket until it is closed.
func (s *server) accept() {
	for {
		conn, err := s.ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.handlers.Add(1)
		go func() {
			defer s.handlers.Done()
			s.handle(conn)
		}()
	}
}

// handle answers one connection: one request, one response, and for
// attach and exec the stream that follows.
func (s *server) handle(conn *net.UnixConn) {
	var req request
	defer func() { s.trim.poke(garbageOf(req.Op)) }()
	if !trusted(conn) {
		conn.Close()
		return
	}
	br := bufio.NewReaderSize(conn, 1024)
	conn.SetReadDeadline(time.Now().Add(requestTimeout))
	if err := readLine(br, &req); err != nil {
		conn.Close()
		return
	}
	conn.SetReadDeadline(time.Time{})
	switch req.Op {
	case opAttach:
		s.handleAttach(conn, br, &req)
		return
	case opExec:
		s.handleExec(conn, br, &req)
		return
	case opWait:
		s.handleWait(conn, br)
	case opExecWait:
		s.handleExecWait(conn, br, req.ExecID)
	default:
		reply(conn, s.simple(&req))
	}
	conn.Close()
}

// simple answers the requests that need no stream.
func (s *server) simple(req *request) *response {
	var err error
	switch req.Op {
	case opStatus:
		return &response{Status: s.status()}
	case opStart:
		err = s.start()
	case opSignal:
		err = s.signal(req)
	case opResize:
		err = s.resize(req)
	case opStats, opPids:
		return s.query(req.Op)
	case opPause, opResume:
		err = s.pause(req.Op == opPause)
	case opUpdate:
		err = s.update(req)
	default:
		err = errdefs.InvalidArgument(fmt.Errorf("unknown operation %q", req.Op))
	}
	if err != nil {
		return errResponse(err)
	}
	return &response{}
}

// query answers stats and pids with the runtime's JSON.
func (s *server) query(op string) *response {
	s.rtMu.Lock()
	defer s.rtMu.Unlock()
	get := s.rt.stats
	if op == opPids {
		get = s.rt.pids
	}
	data, err := get(s.cfg.ID)
	if err != nil {
		return errResponse(err)
	}
	return &response{Data: data}
}

// update changes the container's resource limits.
func (s *server) update(req *request) error {
	if len(req.Resources) == 0 || string(req.Resources) == "null" {
		return errdefs.InvalidArgument(errors.New("update needs resources"))
	}
	s.rtMu.Lock()
	defer s.rtMu.Unlock()
	return s.rt.update(s.cfg.ID, req.Resources)
}

// trusted accepts only a peer with the monitor's own uid (root).
func trusted(conn *net.UnixConn) bool {
	rc, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	var cred *unix.Ucred
	rc.Control(func(fd uintptr) {
		cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	return err == nil && cred != nil && int(cred.Uid) == os.Geteuid()
}

func reply(conn *net.UnixConn, r *response) error {
	conn.SetWriteDeadline(time.Now().Add(requestTimeout))
	err := writeLine(conn, r)
	conn.SetWriteDeadline(time.Time{})
	return err
}

// status reports the container's state.
func (s *server) status() *Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &Status{ID: s.cfg.ID, State: s.state, Pid: s.pid, MonitorPid: s.self, Tty: s.tty,
		Paused: s.paused && s.state == StateRunning, StartedAt: s.startedAt}
	if s.state == StateExited {
		ex := *s.exit
		st.Exit = &ex
	}
	return st
}

// start lets the created container run its process.
func (s *server) start() error {
	s.rtMu.Lock()
	defer s.rtMu.Unlock()
	s.mu.Lock()
	state := s.state
	s.mu.Unlock()
	if state != StateCreated {
		return errdefs.Conflict(fmt.Errorf("container %s is %s", s.cfg.ID, state))
	}
	err := s.rt.start(s.cfg.ID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.exit = &ExitStatus{Error: err.Error()} // kept for exit.json
		return err
	}
	s.state, s.startedAt = StateRunning, time.Now().UTC()
	return nil
}

// pause freezes (or thaws) the container's processes.
func (s *server) pause(freeze bool) error {
	s.rtMu.Lock()
	defer s.rtMu.Unlock()
	if err := s.rt.pause(s.cfg.ID, freeze); err != nil {
		return err
	}
	s.mu.Lock()
	s.paused = freeze
	s.mu.Unlock()
	return nil
}

// signal sends a signal to the container's init (every process with All),
// or to an exec process.
func (s *server) signal(req *request) error {
	sig := unix.Signal(req.Signal)
	if sig <= 0 || sig > 64 {
		return errdefs.InvalidArgument(fmt.Errorf("invalid signal %d", req.Signal))
	}
	if req.ExecID != "" {
		e, err := s.execProc(req.ExecID)
		if err != nil {
			return err
		}
		return e.kill(sig)
	}
	s.rtMu.Lock()
	defer s.rtMu.Unlock()
	s.mu.Lock()
	exited := s.state == StateExited
	s.mu.Unlock()
	if exited || s.initReaped {
		return errdefs.Conflict(fmt.Errorf("container %s is not running", s.cfg.ID))
	}
	if req.All {
		return s.rt.kill(s.cfg.ID, int(sig), true)
	}
	// The init is the monitor's child and not reaped (initReaped, under
	// rtMu): its pid is still its own. kill(2) is all the runtime would
	// do, and saves starting it.
	if err := unix.Kill(s.pid, sig); err != nil {
		if err == unix.ESRCH {
			return errdefs.Conflict(fmt.Errorf("container %s is not running", s.cfg.ID))
		}
		return fmt.Errorf("signal container %s: %w", s.cfg.ID, err)
	}
	return nil
}

// resize sets the window size of the container's or an exec's pty.
func (s *server) resize(req *request) error {
	s.mu.Lock()
	master := s.master
	s.mu.Unlock()
	if req.ExecID != "" {
		e, err := s.execProc(req.ExecID)
		if err != nil {
			return err
		}
		master = e.master
	}
	if master == nil {
		return errdefs.Conflict(errors.New("the process has no terminal"))
	}
	return setWinsize(master, req.Height, req.Width)
}

// handleWait answers once the container has exited, unless the client
// goes away first.
func (s *server) handleWait(conn *net.UnixConn, br *bufio.Reader) {
	select {
	case <-s.exited:
		reply(conn, &response{Status: s.status()})
	case <-clientGone(br):
	}
}

// clientGone is closed when the client closes its side.
func clientGone(r io.Reader) <-chan struct{} {
	gone := make(chan struct{})
	go func() {
		io.Copy(io.Discard, r)
		close(gone)
	}()
	return gone
}

// handleAttach streams the container's output to the client and its
// input to the container's stdin, until the container's output ends or
// the client goes away.
func (s *server) handleAttach(conn *net.UnixConn, br *bufio.Reader, req *request) {
	a := newSession(conn, req.Stdout, req.Stderr, s.cfg.AttachBuffer)
	s.mu.Lock()
	if s.state == StateExited {
		s.mu.Unlock()
		reply(conn, &response{})
		conn.Close()
		return
	}
	stdin := req.Stdin && s.cfg.OpenStdin && s.stdin != nil
	s.sessions[a] = true
	s.mu.Unlock()
	if err := reply(conn, &response{}); err != nil {
		s.detach(a, false)
		return
	}
	go a.run(flushTimeout)
	write := func(b []byte) {
		s.mu.Lock()
		f := s.stdin
		s.mu.Unlock()
		if f != nil {
			f.Write(b)
		}
	}
	open := s.copyStdin(br, stdin, write, s.stdinEOF)
	s.detach(a, open)
}

// copyStdin passes the client's stdin frames to write until the client
// goes away; eof runs on the client's end-of-input frame. Without stdin the
// frames are read and dropped. It reports whether the client left without
// ending its input (detached).
func (s *server) copyStdin(br *bufio.Reader, stdin bool, write func([]byte), eof func()) (open bool) {
	var buf []byte
	open = stdin
	for {
		b, err := readStdinFrame(br, buf)
		if err != nil {
			return open
		}
		buf = b[:0]
		if !open {
			continue
		}
		if len(b) == 0 {
			open = false
			eof()
			continue
		}
		write(b)
	}
}

// stdinEOF: a client ended its input; with StdinOnce (and no terminal,
// whose master is also the output) the container's stdin closes.
func (s *server) stdinEOF() {
	if s.cfg.StdinOnce && !s.tty {
		s.closeStdin()
	}
}

// detach ends a session whose client went away; with StdinOnce a client
// that leaves with its input open closes the container's stdin, as
// Docker's "close stdin after one attached client disconnects".
func (s *server) detach(a *session, stdinOpen bool) {
	s.mu.Lock()
	_, ours := s.sessions[a]
	delete(s.sessions, a)
	s.mu.Unlock()
	if ours {
		a.drop()
	}
	if stdinOpen && s.cfg.StdinOnce && !s.tty {
		s.closeStdin()
	}
}
