package runcli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corral-dev/corral/testutil"
	"golang.org/x/sys/unix"
)

func TestParseStandbyRequest(t *testing.T) {
	three := []int{7, 8, 9}
	tests := []struct {
		name  string
		msg   string
		flags int
		fds   []int
		want  []string // dir, then args; nil: an error
		err   string
	}{
		{"create", "/run/m\x00--root\x00/r\x00create\x00c1\x00", 0, three, []string{"/run/m", "--root", "/r", "create", "c1"}, ""},
		{"empty argument kept", "/d\x00a\x00\x00b\x00", 0, three, []string{"/d", "a", "", "b"}, ""},
		{"end of file", "", 0, nil, nil, errLetGo.Error()},
		{"truncated", "/d\x00a\x00", unix.MSG_TRUNC, three, nil, "truncated"},
		{"descriptors cut", "/d\x00a\x00", unix.MSG_CTRUNC, three, nil, "truncated"},
		{"no descriptors", "/d\x00a\x00", 0, nil, nil, "carries 0 descriptors"},
		{"one descriptor", "/d\x00a\x00", 0, []int{7}, nil, "carries 1 descriptors"},
		{"no final NUL", "/d\x00a", 0, three, nil, "does not end with a NUL"},
		{"no command", "/d\x00", 0, three, nil, "no directory or no command"},
		{"no directory", "\x00create\x00", 0, three, nil, "no directory or no command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := parseRequest([]byte(tt.msg), tt.flags, tt.fds)
			if tt.want == nil {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := append([]string{req.dir}, req.args...)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || req.stdio != [3]int{7, 8, 9} {
				t.Errorf("got dir+args %q stdio %v, want %q and [7 8 9]", got, req.stdio, tt.want)
			}
		})
	}
}

// standby is a `corral-runc standby` under test, with the monitor's end of
// its socket.
type standby struct {
	t      *testing.T
	cmd    *exec.Cmd
	sock   int
	stderr bytes.Buffer
}

func startStandby(t *testing.T) *standby {
	t.Helper()
	bin := filepath.Join(filepath.Dir(testutil.MonitorBinary(t)), "corral-runc")
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	theirs := os.NewFile(uintptr(fds[1]), "standby")
	s := &standby{t: t, cmd: exec.Command(bin, "standby"), sock: fds[0]}
	s.cmd.ExtraFiles = []*os.File{theirs}
	s.cmd.Stderr = &s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	theirs.Close()
	t.Cleanup(func() {
		unix.Close(s.sock)
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	})
	return s
}

// ready reads the standby's 'R'.
func (s *standby) ready() {
	s.t.Helper()
	if got := s.said(); got != "R" {
		s.t.Fatalf("standby said %q; want R", got)
	}
}

// said reads what the standby says next: one byte, "" at end of file.
func (s *standby) said() string {
	s.t.Helper()
	b := make([]byte, 8)
	n, err := unix.Read(s.sock, b)
	if err != nil {
		s.t.Fatalf("read from the standby: %v", err)
	}
	return string(b[:n])
}

// send sends dir and args with stdio stdin /dev/null and stdout and
// stderr fds.
func (s *standby) send(dir string, args []string, fds ...int) {
	s.t.Helper()
	msg := dir + "\x00" + strings.Join(args, "\x00") + "\x00"
	if err := unix.Sendmsg(s.sock, []byte(msg), unix.UnixRights(fds...), nil, 0); err != nil {
		s.t.Fatal(err)
	}
}

// exit waits for the standby and returns its exit code.
func (s *standby) exit() int {
	s.t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			s.t.Fatal(err)
		}
		return 0
	case <-time.After(20 * time.Second):
		s.t.Fatal("the standby did not exit")
		return -1
	}
}

func stdioFiles(t *testing.T) (in, out *os.File, outPath string) {
	t.Helper()
	in, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	outPath = filepath.Join(t.TempDir(), "out")
	if out, err = os.Create(outPath); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); out.Close() })
	return in, out, outPath
}

// TestStandbyRunsCommand: the standby runs the command it is sent with
// the stdio it is sent, in the directory it is sent, and exits with the
// command's code.
func TestStandbyRunsCommand(t *testing.T) {
	in, out, outPath := stdioFiles(t)
	s := startStandby(t)
	s.ready()
	s.send("/", []string{"--version"}, int(in.Fd()), int(out.Fd()), int(out.Fd()))
	if got := s.said(); got != "A" {
		t.Errorf("after the request the standby said %q, want A", got)
	}
	if code := s.exit(); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, s.stderr.String())
	}
	if got, _ := os.ReadFile(outPath); !bytes.HasPrefix(got, []byte("corral-runc version ")) {
		t.Errorf("output %q, want the version", got)
	}

	// A relative --log lands in the directory sent; a failing command's
	// code comes back.
	dir := t.TempDir()
	s = startStandby(t)
	s.ready()
	s.send(dir, []string{"--root", dir, "--log", "runtime.log", "--log-format", "json", "state", "nosuch"},
		int(in.Fd()), int(out.Fd()), int(out.Fd()))
	if code := s.exit(); code == 0 {
		t.Fatal("state of a missing container exited 0")
	}
	if got, err := os.ReadFile(filepath.Join(dir, "runtime.log")); err != nil || !bytes.Contains(got, []byte("nosuch")) {
		t.Errorf("runtime.log in the sent directory: %q, %v", got, err)
	}

	// A directory that cannot be entered: the standby does not take the
	// request (the monitor spawns a runtime instead), and says why in the
	// command's log.
	log := filepath.Join(dir, "abs.log")
	s = startStandby(t)
	s.ready()
	s.send(filepath.Join(dir, "nosuchdir"), []string{"--log", log, "--log-format", "json", "--version"},
		int(in.Fd()), int(out.Fd()), int(out.Fd()))
	if got := s.said(); got != "" {
		t.Errorf("a request it could not take: the standby said %q, want end of file (no A)", got)
	}
	if code := s.exit(); code != 1 {
		t.Errorf("a missing directory: exit %d, want 1", code)
	}
	if got, err := os.ReadFile(log); err != nil || !bytes.Contains(got, []byte(`"msg":"standby runtime: change to the monitor's directory`)) {
		t.Errorf("the command's log: %q, %v; want the error", got, err)
	}
}

// TestStandbyLetGo: end of file on the socket, before or instead of a
// request, makes the standby exit 0 having done nothing.
func TestStandbyLetGo(t *testing.T) {
	s := startStandby(t)
	s.ready()
	unix.Close(s.sock)
	s.sock = -1
	if code := s.exit(); code != 0 || s.stderr.Len() > 0 {
		t.Errorf("exit %d, stderr %q; want 0 and nothing", code, s.stderr.String())
	}
}

// TestStandbyBadRequest: a request without its three descriptors is
// refused with a message, and nothing runs.
func TestStandbyBadRequest(t *testing.T) {
	in, _, _ := stdioFiles(t)
	s := startStandby(t)
	s.ready()
	s.send("/", []string{"--version"}, int(in.Fd()))
	if code := s.exit(); code != 1 || !strings.Contains(s.stderr.String(), "carries 1 descriptors") {
		t.Errorf("exit %d, stderr %q; want 1 and the descriptor count", code, s.stderr.String())
	}
}

// TestStandbyNeedsItsSocket: run by hand, with descriptor 3 a file or
// nothing, the standby writes nothing there and exits 2 saying why.
func TestStandbyNeedsItsSocket(t *testing.T) {
	bin := filepath.Join(filepath.Dir(testutil.MonitorBinary(t)), "corral-runc")
	f, err := os.Create(filepath.Join(t.TempDir(), "fd3"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, extra := range [][]*os.File{{f}, nil} {
		cmd := exec.Command(bin, "standby")
		cmd.ExtraFiles = extra
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "not a monitor's SOCK_SEQPACKET socket") {
			t.Errorf("descriptor 3 %v: %v, %q; want exit 2 and why", extra, err, out)
		}
	}
	if st, _ := f.Stat(); st.Size() != 0 {
		t.Errorf("the standby wrote %d bytes into descriptor 3, a file", st.Size())
	}
}
