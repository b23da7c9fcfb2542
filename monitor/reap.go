package monitor

import (
	"os"

	"golang.org/x/sys/unix"
)

// reap collects every child that exits: the container's init (which ends
// the container), exec processes (which end their exec), and orphans the
// monitor inherits as a subreaper. It holds rtMu meanwhile, so it never
// takes a child that a runtime call is about to wait for.
func (s *server) reap(chld <-chan os.Signal) {
	for range chld {
		s.rtMu.Lock()
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err == unix.EINTR {
				continue
			}
			if err != nil || pid <= 0 {
				break
			}
			s.reaped(pid, exitCode(ws))
		}
		s.rtMu.Unlock()
	}
}

// reaped hands one exit to whoever waits for it.
func (s *server) reaped(pid, code int) {
	if pid == s.pid {
		s.initReaped = true
		select {
		case s.initExited <- code:
		default:
		}
		return
	}
	s.mu.Lock()
	var e *execProc
	for _, x := range s.execs {
		if x.pid == pid {
			e = x
			break
		}
	}
	s.mu.Unlock()
	if e != nil {
		e.setExit(code)
	}
}

// exitCode is a shell-style exit code: the status, or 128+signal.
func exitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
