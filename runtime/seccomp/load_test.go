package seccomp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// childEnv carries a childSpec to the test binary re-executed as a child,
// which loads the filter on its locked main thread and then tries syscalls.
// Seccomp with no_new_privs needs no privilege, so these tests run as any
// user; they change nothing outside their temporary directories.
const childEnv = "CORRAL_SECCOMP_TEST_CHILD"

type childSpec struct {
	Config specs.LinuxSeccomp
	Do     string // mkdir, mkdirThread, unshare
	Path   string // for mkdir
	Mode   uint64 // mkdirat's mode argument, whole register
	State  string // container state JSON for SendListener
}

func TestMain(m *testing.M) {
	if s := os.Getenv(childEnv); s != "" {
		os.Exit(child(s))
	}
	os.Exit(m.Run())
}

// child is the re-executed test binary. It prints "listener=FD" after Load
// and "errno=N" (0 for success) for the syscall it was asked to make.
func child(s string) int {
	runtime.LockOSThread()
	var spec childSpec
	if err := json.Unmarshal([]byte(s), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 100
	}
	// A killed child must not leave a core dump behind.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "child: dumpable:", err)
		return 100
	}
	p, err := Compile(&spec.Config)
	if err == nil {
		err = unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	}
	fd := -1
	if err == nil {
		fd, err = p.Load()
	}
	if err == nil && fd >= 0 {
		err = sendListener(spec, fd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 101
	}
	fmt.Printf("listener=%d\n", fd)
	fmt.Printf("errno=%d\n", childDo(spec))
	return 0
}

// sendListener sends fd with the spec's state, the child's pid filled in.
func sendListener(spec childSpec, fd int) error {
	var st specs.State
	if err := json.Unmarshal([]byte(spec.State), &st); err != nil {
		return err
	}
	st.Pid = os.Getpid()
	state, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return SendListener(spec.Config.ListenerPath, fd, state, spec.Config.ListenerMetadata)
}

func childDo(spec childSpec) int {
	switch spec.Do {
	case "mkdir":
		return mkdirat(spec.Path, spec.Mode)
	case "mkdirThread":
		// On another thread, made before Load: filtered only with TSYNC.
		res := make(chan int)
		go func() {
			runtime.LockOSThread()
			res <- mkdirat(spec.Path, spec.Mode)
		}()
		return <-res
	case "unshare":
		return errnoOf(unix.Unshare(unix.CLONE_NEWUTS))
	}
	return 200
}

// mkdirat calls mkdirat(2) with mode as the whole 64-bit register.
func mkdirat(path string, mode uint64) int {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return 201
	}
	dirfd := unix.AT_FDCWD
	_, _, errno := unix.Syscall(unix.SYS_MKDIRAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(mode))
	return int(errno)
}

func errnoOf(err error) int {
	if e, ok := err.(unix.Errno); ok {
		return int(e)
	}
	if err != nil {
		return 202
	}
	return 0
}

// childResult is what a child did.
type childResult struct {
	stdout, stderr string
	status         syscall.WaitStatus
	errno          int // from "errno=N", -1 if absent
}

// startChild starts the child; wait() collects it.
func startChild(t *testing.T, spec childSpec) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(b))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out, &errb
}

func waitChild(t *testing.T, cmd *exec.Cmd, out, errb *bytes.Buffer) childResult {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("child hung; stdout %q stderr %q", out, errb)
	}
	r := childResult{stdout: out.String(), stderr: errb.String(), errno: -1,
		status: cmd.ProcessState.Sys().(syscall.WaitStatus)}
	for _, line := range strings.Split(r.stdout, "\n") {
		fmt.Sscanf(line, "errno=%d", &r.errno)
	}
	return r
}

func runChild(t *testing.T, spec childSpec) childResult {
	t.Helper()
	cmd, out, errb := startChild(t, spec)
	return waitChild(t, cmd, out, errb)
}

// denyMkdirat is a config that gives mkdirat act, everything else allowed.
func denyMkdirat(act specs.LinuxSeccompAction, errno *uint, args ...specs.LinuxSeccompArg) specs.LinuxSeccomp {
	return specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdirat"}, Action: act, ErrnoRet: errno, Args: args}}}
}

func TestLoadErrno(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		errno *uint
		want  unix.Errno
	}{{"default", nil, unix.EPERM}, {"custom", uptr(38), unix.ENOSYS}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "d")
			r := runChild(t, childSpec{Config: denyMkdirat(specs.ActErrno, tc.errno), Do: "mkdir", Path: dir, Mode: 0o755})
			if r.errno != int(tc.want) {
				t.Fatalf("mkdirat: errno %d, want %d (%v); stderr %s", r.errno, tc.want, tc.want, r.stderr)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("the directory was made: %v", err)
			}
			if !strings.Contains(r.stdout, "listener=-1") {
				t.Errorf("Load returned a listener without notify: %q", r.stdout)
			}
		})
	}
}

// An argument filter on the real kernel: only mode 0700 is denied. The
// kernel hands seccomp the whole register, so a mode with high bits set is
// not 0700 to the filter (64-bit comparison, as libseccomp), though
// mkdirat only uses the low bits.
func TestLoadArgFilter(t *testing.T) {
	t.Parallel()
	cfg := denyMkdirat(specs.ActErrno, nil, specs.LinuxSeccompArg{Index: 2, Value: 0o700, Op: specs.OpEqualTo})
	for _, tc := range []struct {
		name string
		mode uint64
		want int
	}{{"denied", 0o700, int(unix.EPERM)}, {"other", 0o755, 0}, {"highBits", 0x1_00000000 | 0o700, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runChild(t, childSpec{Config: cfg, Do: "mkdir", Path: filepath.Join(t.TempDir(), "d"), Mode: tc.mode})
			if r.errno != tc.want {
				t.Fatalf("mkdirat mode %#x: errno %d, want %d; stderr %s", tc.mode, r.errno, tc.want, r.stderr)
			}
		})
	}
}

func TestLoadKillProcess(t *testing.T) {
	t.Parallel()
	r := runChild(t, childSpec{Config: denyMkdirat(specs.ActKillProcess, nil), Do: "mkdir", Path: filepath.Join(t.TempDir(), "d")})
	if !r.status.Signaled() || r.status.Signal() != unix.SIGSYS {
		t.Fatalf("child not killed by SIGSYS: status %v, stdout %q, stderr %q", r.status, r.stdout, r.stderr)
	}
	if r.errno != -1 {
		t.Errorf("the syscall returned (errno %d)", r.errno)
	}
}

// SCMP_ACT_TRAP sends a catchable SIGSYS, which the Go runtime treats as fatal.
func TestLoadTrap(t *testing.T) {
	t.Parallel()
	r := runChild(t, childSpec{Config: denyMkdirat(specs.ActTrap, nil), Do: "mkdir", Path: filepath.Join(t.TempDir(), "d")})
	if r.status.ExitStatus() != 2 || !strings.Contains(r.stderr, "SIGSYS") || r.errno != -1 {
		t.Fatalf("want a Go crash on SIGSYS: status %v, stdout %q, stderr %.300q", r.status, r.stdout, r.stderr)
	}
}

func TestLoadLog(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "d")
	r := runChild(t, childSpec{Config: denyMkdirat(specs.ActLog, nil), Do: "mkdir", Path: dir, Mode: 0o755})
	if r.errno != 0 {
		t.Fatalf("mkdirat under SCMP_ACT_LOG: errno %d; stderr %s", r.errno, r.stderr)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Errorf("no directory: %v", err)
	}
}

// With TSYNC a thread that existed before Load is filtered too (without it,
// only the caller's thread and the threads it makes later are).
func TestLoadTSync(t *testing.T) {
	t.Parallel()
	cfg := denyMkdirat(specs.ActErrno, nil)
	cfg.Flags = []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC"}
	r := runChild(t, childSpec{Config: cfg, Do: "mkdirThread", Path: filepath.Join(t.TempDir(), "d"), Mode: 0o755})
	if r.errno != int(unix.EPERM) {
		t.Fatalf("mkdirat on another thread with TSYNC: errno %d, want EPERM; stderr %s", r.errno, r.stderr)
	}
}

// The docker-like profile (default action errno) is accepted by the kernel
// and lets a Go program run, while what it denies is denied.
func TestLoadDockerLike(t *testing.T) {
	t.Parallel()
	c := loadProfile(t, "docker-like.json")
	r := runChild(t, childSpec{Config: *c, Do: "unshare"})
	if r.errno != int(unix.EPERM) {
		t.Fatalf("unshare under the docker-like profile: errno %d, want EPERM; status %v stderr %s", r.errno, r.status, r.stderr)
	}
}
