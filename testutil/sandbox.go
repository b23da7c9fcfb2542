package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Environment variables the sandbox parent passes to the re-executed test
// binary.
const (
	// envSandbox is "1" in the sandboxed test process and its children.
	envSandbox = "CORRAL_TEST_SANDBOX"
	// envParent holds the pid of the sandbox parent, so that only its direct
	// child sets the sandbox up (and not, say, a test binary the tests run).
	envParent = "CORRAL_TEST_SANDBOX_PARENT"
	// envCgroups lists the per-run cgroup directories, colon-separated.
	envCgroups = "CORRAL_TEST_CGROUPS"
)

// Directories that get a fresh tmpfs inside the sandbox, with its mode; the
// last one also holds the binaries that CorralBinary and TestProgram build.
var sandboxTmpfs = []struct {
	path string
	mode string
}{
	{"/run/corral", "0755"},
	{"/var/lib/corral", "0755"},
	{"/tmp/corral-test", "1777"},
}

// lastRunCgroups is what the sandbox parent created for its child, kept so
// that testutil's own TestMain can check that they are gone.
var lastRunCgroups []string

// Sandbox runs the tests of a package, as root inside throwaway namespaces.
// Use it as
//
//	func TestMain(m *testing.M) { os.Exit(testutil.Sandbox(m)) }
//
// When not root it only runs the tests (those that need root skip
// themselves through RequireRoot). As root it creates a per-run cgroup in
// every mounted hierarchy, re-executes the test binary in new mount and
// network namespaces, and after that child exits kills whatever is left in
// the per-run cgroups and removes them. The child joins the cgroups, makes
// every mount private, mounts a tmpfs on /run/corral, /var/lib/corral and
// /tmp/corral-test, brings lo up and runs the tests. It returns the exit
// code for os.Exit.
func Sandbox(m *testing.M) int {
	switch {
	case os.Geteuid() != 0:
		return runTests(m)
	case os.Getenv(envSandbox) != "1":
		return runParent()
	case os.Getenv(envParent) == strconv.Itoa(os.Getppid()):
		if err := setupChild(runCgroups()); err != nil {
			fmt.Fprintf(os.Stderr, "testutil: set up sandbox: %v\n", err)
			return 1
		}
	}
	return runTests(m)
}

// InSandbox reports whether this process runs inside the test sandbox.
func InSandbox() bool {
	return os.Getenv(envSandbox) == "1"
}

// runCgroups returns the per-run cgroup directories of the sandbox.
func runCgroups() []string {
	return filepath.SplitList(os.Getenv(envCgroups))
}

func runTests(m *testing.M) int {
	code := m.Run()
	removeBuildDir()
	return code
}

// runParent re-executes the test binary inside the sandbox and cleans up
// after it.
func runParent() int {
	name := fmt.Sprintf("corral-test-%d-%s", os.Getpid(), randomHex(4))
	dirs, err := createRunCgroups(name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testutil: create test cgroups: %v\n", err)
		return 1
	}
	lastRunCgroups = dirs
	code, err := runChild(dirs)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testutil: %v\n", err)
		code = 1
	}
	if err := cleanupCgroups(dirs); err != nil {
		fmt.Fprintf(os.Stderr, "testutil: clean up test cgroups: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// runChild runs the sandboxed copy of the test binary, forwarding signals
// to it, and returns its exit code.
func runChild(dirs []string) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("find test binary: %w", err)
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(),
		envSandbox+"=1",
		envParent+"="+strconv.Itoa(os.Getpid()),
		envCgroups+"="+strings.Join(dirs, string(os.PathListSeparator)))
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWNET,
		Pdeathsig:  syscall.SIGKILL,
	}
	// Pdeathsig follows the thread that started the child: keep it alive.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	// Container processes outlive the runtime command that created them;
	// this host's pid 1 does not reap orphans, so we do.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return 0, fmt.Errorf("become subreaper: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start sandboxed tests: %w", err)
	}
	done := make(chan struct{})
	defer close(done)
	go forwardSignals(cmd.Process, sigs, done)
	return reapUntil(cmd.Process.Pid)
}

// reapUntil reaps every child (orphans included) until pid exits, and
// returns pid's shell-style exit code.
func reapUntil(pid int) (int, error) {
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("wait for sandboxed tests: %w", err)
		}
		if wpid != pid {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ws.ExitStatus(), nil
	}
}

func forwardSignals(p *os.Process, sigs <-chan os.Signal, done <-chan struct{}) {
	for {
		select {
		case s := <-sigs:
			_ = p.Signal(s)
		case <-done:
			return
		}
	}
}
