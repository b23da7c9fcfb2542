package nsenter

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// shared is a world-readable directory for what processes mapped to an
// unprivileged host uid must reach: a copy of the test binary (go test
// builds it in a 0700 directory) and tmpfs mount points.
var shared struct {
	once sync.Once
	dir  string
	exe  string
	err  error
}

func sharedDir(t *testing.T) (dir, exe string) {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "corral-nsenter-test-")
		if shared.err != nil {
			return
		}
		if shared.err = os.Chmod(shared.dir, 0o755); shared.err != nil {
			return
		}
		shared.exe = filepath.Join(shared.dir, "nsenter.test")
		shared.err = copyFile(os.Args[0], shared.exe)
	})
	if shared.err != nil {
		t.Fatalf("prepare shared directory: %v", shared.err)
	}
	return shared.dir, shared.exe
}

func cleanupShared() {
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// markerDir makes an empty directory that a holder mounts a tmpfs on.
func markerDir(t *testing.T) string {
	t.Helper()
	base, _ := sharedDir(t)
	dir, err := os.MkdirTemp(base, "mnt-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// holder is a process that keeps namespaces alive for a test to join.
type holder struct {
	pid int
}

// path is the namespace file of type typ; for time, the namespace the
// holder unshared is its time_for_children.
func (h holder) path(typ string) string {
	if typ == "time" {
		typ = "time_for_children"
	}
	return fmt.Sprintf("/proc/%d/ns/%s", h.pid, typ)
}

// startHolder runs the test binary as a holder in new namespaces.
func startHolder(t *testing.T, attr *syscall.SysProcAttr, env ...string) holder {
	t.Helper()
	_, exe := sharedDir(t)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), append([]string{roleEnv + "=hold"}, env...)...)
	cmd.SysProcAttr = attr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start holder: %v", err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("holder did not get ready: %q %v", line, err)
	}
	return holder{pid: cmd.Process.Pid}
}

// userMap maps 65536 ids from 0 in the namespace to 100000 on the host.
var userMap = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}}

// helper is a test binary started with Env set, as the runtime would.
type helper struct {
	cmd    *exec.Cmd
	sock   *os.File
	r      *bufio.Reader
	stderr *os.File
	pid    int  // from Await
	waited bool // cmd was waited for
	reaped bool // pid was waited for (when it is a grandchild)
}

func socketpair(t *testing.T) (parent, child *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	parent = os.NewFile(uintptr(fds[0]), "runtime end")
	child = os.NewFile(uintptr(fds[1]), "constructor end")
	// No test may hang on a constructor that does not answer.
	if err := parent.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return parent, child
}

// startHelper starts the test binary with Env=3 and the helper role.
func startHelper(t *testing.T, env ...string) *helper {
	t.Helper()
	parent, child := socketpair(t)
	stderr, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	h := &helper{sock: parent, r: bufio.NewReader(parent), stderr: stderr}
	h.cmd = exec.Command(os.Args[0])
	h.cmd.Env = append(os.Environ(), append([]string{roleEnv + "=helper", Env + "=3"}, env...)...)
	if _, ok := os.LookupEnv("GORACE"); !ok {
		// Under -race, exiting would otherwise take a second.
		h.cmd.Env = append(h.cmd.Env, "GORACE=atexit_sleep_ms=0")
	}
	h.cmd.ExtraFiles = []*os.File{child}
	h.cmd.Stderr = stderr // a file, not a pipe: Wait must not wait for a grandchild
	if err := h.cmd.Start(); err != nil {
		t.Fatalf("start helper: %v", err)
	}
	child.Close()
	t.Cleanup(h.kill)
	return h
}

func (h *helper) kill() {
	h.sock.Close()
	if !h.waited {
		h.cmd.Process.Kill()
		h.cmd.Wait()
	}
	if h.pid != 0 && h.pid != h.cmd.Process.Pid && !h.reaped {
		unix.Kill(h.pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(h.pid, &ws, 0, nil)
	}
}

// enter sends req and awaits the pid.
func (h *helper) enter(req Request, writeMaps func(int) error) (int, error) {
	if _, err := req.WriteTo(h.sock); err != nil {
		return 0, err
	}
	pid, err := Await(h.r, h.sock, writeMaps)
	h.pid = pid
	return pid, err
}

// report asks the helper where it ended up.
func (h *helper) report(t *testing.T) report {
	t.Helper()
	if _, err := io.WriteString(h.sock, "go\n"); err != nil {
		t.Fatal(err)
	}
	return h.readReport(t)
}

func (h *helper) readReport(t *testing.T) report {
	t.Helper()
	line, err := h.r.ReadBytes('\n')
	if err != nil {
		t.Fatalf("read report: %v; helper stderr: %s", err, h.stderrText())
	}
	var rep report
	if err := json.Unmarshal(line, &rep); err != nil {
		t.Fatalf("decode report %q: %v", line, err)
	}
	return rep
}

// exitCode waits for the process the test started and returns its status.
func (h *helper) exitCode(t *testing.T) int {
	t.Helper()
	err := h.cmd.Wait()
	h.waited = true
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("wait for helper: %v", err)
	}
	return h.cmd.ProcessState.ExitCode()
}

// finish lets the helper exit and checks that every process it consists of
// exits 0, waiting for the grandchild directly when it forked.
func (h *helper) finish(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(h.sock, "exit\n"); err != nil {
		t.Fatal(err)
	}
	if code := h.exitCode(t); code != 0 {
		t.Fatalf("helper exited %d; stderr: %s", code, h.stderrText())
	}
	if h.pid == h.cmd.Process.Pid {
		return
	}
	var ws unix.WaitStatus
	got, err := unix.Wait4(h.pid, &ws, 0, nil)
	if err != nil || got != h.pid {
		t.Fatalf("wait4(%d) = %d, %v: the forked process is not our child", h.pid, got, err)
	}
	h.reaped = true
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("forked helper ended with %v; stderr: %s", ws, h.stderrText())
	}
}

func (h *helper) stderrText() string {
	b, _ := os.ReadFile(h.stderr.Name())
	return strings.TrimSpace(string(b))
}

// procStatus returns the fields of one line of /proc/<pid>/status.
func procStatus(t *testing.T, pid int, key string) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.Fields(v)
		}
	}
	t.Fatalf("no %s in /proc/%d/status", key, pid)
	return nil
}

// ownNS is the test process's namespace inodes.
func ownNS() map[string]uint64 {
	ns := map[string]uint64{}
	for _, t := range nsTypes {
		ns[t] = nsInode("/proc/self/ns/" + t)
	}
	return ns
}

// writeUserMaps returns a writeMaps that maps 0..65535 to 100000.. and
// records the pid it was asked for.
func writeUserMaps(got *int) func(int) error {
	return func(pid int) error {
		*got = pid
		files := []struct{ name, data string }{
			{"setgroups", "deny"},
			{"uid_map", "0 100000 65536\n"},
			{"gid_map", "0 100000 65536\n"},
		}
		for _, f := range files {
			p := fmt.Sprintf("/proc/%d/%s", pid, f.name)
			if err := os.WriteFile(p, []byte(f.data), 0); err != nil {
				return err
			}
		}
		return nil
	}
}
