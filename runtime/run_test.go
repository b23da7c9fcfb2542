package runtime

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSignalForwarder: a signal caught before the process runs reaches it
// once it runs, one caught meanwhile too, and after stop none does.
func TestSignalForwarder(t *testing.T) {
	sh := exec.Command("sh", "-c", `trap 'echo USR1' USR1; trap 'echo USR2' USR2; trap 'echo CONT' CONT
echo ready; i=0; while [ $i -lt 300 ]; do sleep 0.01; i=$((i+1)); done`)
	out, err := sh.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sh.Process.Kill(); _ = sh.Wait() })
	lines := make(chan string, 8)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-lines:
			if got != want {
				t.Fatalf("child printed %q, want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("child did not print %q", want)
		}
	}
	expect("ready")
	f := forwardSignals()
	<-f.caught
	unix.Kill(unix.Getpid(), unix.SIGUSR1) // before the process is known
	time.Sleep(20 * time.Millisecond)
	f.start(sh.Process.Pid)
	expect("USR1")
	unix.Kill(unix.Getpid(), unix.SIGUSR2)
	expect("USR2")
	f.stop()
	// After stop the signal is not relayed; after release it has the
	// effect it has here (SIGCONT: none).
	unix.Kill(unix.Getpid(), unix.SIGCONT)
	f.release()
	f.release()
	select {
	case got := <-lines:
		if strings.TrimSpace(got) != "" {
			t.Errorf("relayed after stop: child printed %q", got)
		}
	case <-time.After(200 * time.Millisecond):
	}
}

// TestSignalForwarderUnstarted: released without a process, the forwarder
// gives back what it caught.
func TestSignalForwarderUnstarted(t *testing.T) {
	f := forwardSignals()
	<-f.caught
	unix.Kill(unix.Getpid(), unix.SIGCONT)
	f.release()
	deadline := time.Now().Add(10 * time.Second)
	for !f.stopped.Load() || !closed(f.sigc) {
		if time.Now().After(deadline) {
			t.Fatal("the forwarder never let go of its signals")
		}
		time.Sleep(time.Millisecond)
	}
}

// closed reports whether c is closed and drained.
func closed(c chan os.Signal) bool {
	select {
	case _, ok := <-c:
		return !ok
	default:
		return false
	}
}
