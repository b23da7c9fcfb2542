package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns a new pseudo-terminal's master and slave.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty slave: %v", err)
	}
	return master, slave
}

// startOnTerminal starts argv as a session leader whose controlling
// terminal (and stdio) is a new pty, and returns the process and the lines
// the terminal shows.
func startOnTerminal(t *testing.T, argv ...string) (*os.Process, *os.File, <-chan string) {
	t.Helper()
	master, slave := openPTY(t)
	p, err := os.StartProcess(argv[0], argv, &os.ProcAttr{
		Files: []*os.File{slave, slave, slave},
		Sys:   &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0},
	})
	slave.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Kill(); _, _ = p.Wait() })
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(master)
		for sc.Scan() {
			lines <- strings.TrimRight(sc.Text(), "\r")
		}
	}()
	return p, master, lines
}

func nextLine(t *testing.T, lines <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if ok {
			return l
		}
		t.Fatal("terminal output ended")
	case <-time.After(5 * time.Second):
		t.Fatal("no terminal output in 5s")
	}
	return ""
}

// TestTerminalForeground is `run -it --init`: the child gets the terminal's
// foreground, so ^C (SIGINT from the line discipline) reaches it, once,
// and the init exits with 130.
func TestTerminalForeground(t *testing.T) {
	p, master, lines := startOnTerminal(t, initBinary(t), "--", "sh", "-c", "echo $$; exec sleep 30")
	kid, err := strconv.Atoi(nextLine(t, lines))
	if err != nil {
		t.Fatal(err)
	}
	fg, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPGRP)
	if err != nil {
		t.Fatal(err)
	}
	if fg != kid {
		t.Errorf("foreground process group %d, want the child's %d (the init is %d)", fg, kid, p.Pid)
	}
	if _, err := master.Write([]byte{3}); err != nil { // ^C
		t.Fatal(err)
	}
	st, err := waitProcess(p)
	if err != nil {
		t.Fatal(err)
	}
	if code := st.ExitStatus(); code != 130 {
		t.Errorf("exit status %v, want 130 after ^C", st)
	}
}

// TestTerminalNotOurs: an init started in a background process group of
// the terminal leaves the foreground where it is.
func TestTerminalNotOurs(t *testing.T) {
	// sh with job control (set -m) runs the init as a background job.
	script := `set -m; "$0" -- sh -c 'echo $$; exec sleep 30' & wait`
	p, master, lines := startOnTerminal(t, "/bin/sh", "-c", script, initBinary(t))
	kid, err := strconv.Atoi(nextLine(t, lines))
	if err != nil {
		t.Fatal(err)
	}
	fg, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPGRP)
	if err != nil {
		t.Fatal(err)
	}
	if fg != p.Pid {
		t.Errorf("foreground process group %d, want the shell's %d (the init's child is %d)", fg, p.Pid, kid)
	}
	if err := unix.Kill(kid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := waitProcess(p); err != nil {
		t.Fatal(err)
	}
}

func waitProcess(p *os.Process) (syscall.WaitStatus, error) {
	done := make(chan struct{})
	var st *os.ProcessState
	var err error
	go func() { st, err = p.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.Kill()
		<-done
		return 0, os.ErrDeadlineExceeded
	}
	if err != nil {
		return 0, err
	}
	return st.Sys().(syscall.WaitStatus), nil
}
