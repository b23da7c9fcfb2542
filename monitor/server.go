package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Timeouts of the monitor process.
const (
	consoleTimeout = 30 * time.Second // for init to send the pty master
	drainTimeout   = 2 * time.Second  // for output to end once the container exited
	flushTimeout   = 5 * time.Second  // for attached clients to take the rest of it
)

// server is the monitor process: it owns the container (as the parent of
// its init), its stdio and log, and answers the control socket.
//
// Lock order: rtMu, then mu. rtMu is held around every runtime command (a
// child os/exec waits for) and by the reaper around wait4(-1), which must
// not take those children from os/exec.
type server struct {
	cfg  Config
	tty  bool
	rt   *ociRuntime
	ln   *net.UnixListener
	log  *logWriter
	self int // the monitor's pid

	rtMu       sync.Mutex
	initReaped bool // guarded by rtMu: the init's pid is no longer its own

	mu        sync.Mutex // guards the fields below
	state     string
	pid       int // the container's init
	startedAt time.Time
	paused    bool // by the pause operation
	exit      *ExitStatus
	stdin     *os.File // nil once closed
	master    *os.File // with a terminal
	sessions  map[*session]bool
	execs     map[string]*execProc
	execSeq   int

	exited     chan struct{} // closed once exit is final and recorded
	initExited chan int      // the init's exit code, from the reaper
	outputDone sync.WaitGroup
	// handlers counts the connections being served (streams included).
	handlers sync.WaitGroup
	oom      oomCounter
	trim     trimmer
}

func newServer(cfg Config) (*server, error) {
	tty, err := bundleTerminal(cfg.Bundle)
	if err != nil {
		return nil, err
	}
	s := &server{cfg: cfg, tty: tty, rt: newOCIRuntime(&cfg, cfg.Dir()), self: os.Getpid(), state: StateCreated,
		sessions: map[*session]bool{}, execs: map[string]*execProc{},
		exited: make(chan struct{}), initExited: make(chan int, 1)}
	if path := cfg.LogPath(); path != "" {
		if s.log, err = openLog(path, cfg.Log.MaxSize, cfg.Log.MaxFiles); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// serve runs the monitor once its directory is its working directory:
// create the container, report to ready, answer clients until the
// container exited and everything is recorded.
func serve(cfg Config, ready *os.File) error {
	setupMemory()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return report(ready, fmt.Errorf("become subreaper: %w", err))
	}
	signal.Ignore(unix.SIGHUP, unix.SIGINT, unix.SIGPIPE)
	chld := make(chan os.Signal, 1)
	signal.Notify(chld, unix.SIGCHLD)
	s, err := newServer(cfg)
	if err != nil {
		return report(ready, err)
	}
	if err := s.listen(); err != nil {
		return report(ready, err)
	}
	if err := s.create(); err != nil {
		s.ln.Close()
		return report(ready, err)
	}
	go s.reap(chld)
	go s.accept()
	report(ready, nil)
	s.trim.start()
	code := <-s.initExited
	s.finish(code)
	return nil
}

// report tells Start how the start went, then lets go of its pipe.
func report(ready *os.File, err error) error {
	if ready == nil {
		return err
	}
	msg := readyMsg{Pid: os.Getpid()}
	if err != nil {
		r := errResponse(err)
		msg.Error, msg.Class = r.Error, r.Class
	}
	writeLine(ready, msg)
	ready.Close()
	return err
}

// listen opens the control socket, for root (or the monitor's own user)
// only, and records the monitor's pid.
func (s *server) listen() error {
	old := unix.Umask(0o177)
	ln, err := listenUnix(socketFile)
	unix.Umask(old)
	if err != nil {
		return fmt.Errorf("listen on control socket: %w", err)
	}
	s.ln = ln
	start, _ := procStartTime(s.self)
	return writeFileAtomic(pidFile, fmt.Appendf(nil, "%d %d\n", s.self, start), 0o600)
}

// create makes the container from the bundle with the monitor's stdio;
// its process waits for start.
func (s *server) create() error {
	s.rtMu.Lock()
	defer s.rtMu.Unlock()
	opts := createOpts{bundle: s.cfg.Bundle, pidFile: initPidFile}
	var stdio *procStdio
	var console *consoleSocket
	var err error
	if s.tty {
		if console, err = listenConsole("console.sock"); err != nil {
			return err
		}
		defer console.close()
		opts.consoleSocket = console.name
	} else {
		if stdio, err = pipeStdio(s.cfg.OpenStdin, true); err != nil {
			return err
		}
		opts.stdio = stdio.theirs
	}
	err = s.rt.create(s.cfg.ID, opts)
	if stdio != nil {
		stdio.closeTheirs()
	}
	if err == nil {
		s.pid, err = readPidFile(initPidFile)
		if err != nil {
			s.rt.delete(s.cfg.ID, true)
		}
	}
	if err != nil {
		if stdio != nil {
			stdio.close()
		}
		return fmt.Errorf("create container: %w", err)
	}
	if err := s.created(stdio, console); err != nil {
		s.rt.delete(s.cfg.ID, true)
		return err
	}
	return nil
}

// initPidFile is where the runtime writes the pid of the container's init,
// which the monitor reads and removes at once.
const initPidFile = "init.pid"

// created takes over the new container's stdio and starts watching it.
func (s *server) created(stdio *procStdio, console *consoleSocket) error {
	if console != nil {
		master, err := console.receive(consoleTimeout)
		if err != nil {
			return err
		}
		setWinsize(master, s.cfg.ConsoleSize[0], s.cfg.ConsoleSize[1])
		s.master = master
		if s.cfg.OpenStdin {
			s.stdin = master
		}
		s.startOutput(master, StreamStdout)
	} else {
		s.stdin = stdio.stdin
		s.startOutput(stdio.stdout, StreamStdout)
		s.startOutput(stdio.stderr, StreamStderr)
	}
	s.oom = findOOMCounter(s.pid)
	return nil
}

// startOutput pumps one output stream to the log and attached clients.
func (s *server) startOutput(f *os.File, stream byte) {
	s.outputDone.Add(1)
	go func() {
		defer s.outputDone.Done()
		pump(f, func(b []byte) {
			if s.output(stream, b) {
				s.trim.poke(len(b))
			}
		})
		if s.log != nil {
			s.log.Flush(stream, time.Now())
		}
	}()
}

// output logs one chunk and queues it for the attached clients; it
// reports whether it did (which makes garbage, where the log does not).
func (s *server) output(stream byte, b []byte) bool {
	if s.log != nil {
		s.log.Write(stream, b, time.Now())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sessions) == 0 {
		return false
	}
	var msg []byte
	if s.tty {
		msg = append([]byte(nil), b...)
	} else {
		msg = frame(stream, b)
	}
	for a := range s.sessions {
		a.push(stream, msg)
	}
	return true
}

// finish runs once the container's init exited: it waits for the rest of
// the output, removes the container from the runtime, records the exit,
// ends every client's stream and returns when they have their output (or
// flushTimeout passed).
func (s *server) finish(code int) {
	exitedAt := time.Now().UTC()
	s.closeStdin()
	waitTimeout(&s.outputDone, drainTimeout)
	oomKilled := s.oom.kills() > 0 // before the cgroup goes
	s.rtMu.Lock()
	if err := s.rt.delete(s.cfg.ID, true); err != nil {
		slog.Warn("delete container", "id", s.cfg.ID, "err", err)
	}
	s.rtMu.Unlock()
	if s.log != nil {
		s.log.Close()
	}
	s.mu.Lock()
	ex := &ExitStatus{ExitCode: code, StartedAt: s.startedAt, ExitedAt: exitedAt,
		OOMKilled: oomKilled, Pid: s.pid}
	if s.exit != nil { // a start error noted earlier
		ex.Error = s.exit.Error
	}
	s.mu.Unlock()
	if err := writeExit(exitFile, ex); err != nil {
		slog.Error("record exit", "id", s.cfg.ID, "err", err)
	}
	s.mu.Lock()
	s.exit, s.state = ex, StateExited
	sessions := s.sessions
	s.sessions = map[*session]bool{}
	s.mu.Unlock()
	close(s.exited)
	s.ln.Close()
	for a := range sessions {
		a.finish()
	}
	// Attach and exec streams end once their output is flushed, waits
	// once answered.
	waitTimeout(&s.handlers, flushTimeout)
}

// closeStdin closes the container's stdin (not a pty master, which is
// also its output).
func (s *server) closeStdin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stdin != nil && s.stdin != s.master {
		s.stdin.Close()
	}
	s.stdin = nil
}

// waitTimeout waits for wg, at most d.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// writeExit records how the container ended.
func writeExit(path string, ex *ExitStatus) error {
	data, err := json.Marshal(ex)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data, 0o644)
}

// procStartTime reads a process's start time (field 22 of its stat).
func procStartTime(pid int) (uint64, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	st := string(data)
	i := strings.LastIndexByte(st, ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat")
	}
	fields := strings.Fields(st[i+1:])
	if len(fields) < 20 {
		return 0, errors.New("bad /proc stat")
	}
	return strconv.ParseUint(fields[19], 10, 64)
}
