package engine_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/testutil"
)

// The default socket and pid file; in the sandbox /run/corral and
// /var/lib/corral are tmpfs of the test binary's own.
const (
	defaultSock = "/run/corral/corral.sock"
	defaultPID  = "/run/corral/corral.pid"
	defaultLog  = "/var/log/corral.log"
)

// privateDir mounts a tmpfs on dir for the rest of the package's tests (the
// sandbox's mount namespace is private), so that a daemon's files there
// do not reach the host.
var privateDirs sync.Map

func privateDir(t *testing.T, dir string) {
	t.Helper()
	if _, done := privateDirs.LoadOrStore(dir, true); done {
		return
	}
	if !testutil.InSandbox() {
		t.Skip("needs the sandbox's private mount namespace")
	}
	if err := unix.Mount("corral-e2e", dir, "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
}

// stopDefaultDaemon stops a daemon on the default socket, if any.
func stopDefaultDaemon(t *testing.T) {
	t.Helper()
	if b, err := os.ReadFile(defaultPID); err == nil && len(b) > 0 {
		killPID(t, pidOf(t, defaultPID), syscall.SIGTERM)
	}
}

// TestAutoStart: with nothing running, the first command line starts the
// daemon on the default socket, the next ones reuse it, and one that finds
// a dead daemon's socket starts a new one.
func TestAutoStart(t *testing.T) {
	testutil.RequireRoot(t)
	privateDir(t, "/var/log")
	t.Cleanup(func() { stopDefaultDaemon(t) })
	bin := testutil.EngineBinary(t)
	env := []string{"HOME=" + t.TempDir()}
	if _, err := os.Stat(defaultSock); !os.IsNotExist(err) {
		t.Fatalf("%s exists before the test: %v", defaultSock, err)
	}
	if out := ok(t, env, bin, "images"); out != "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n" {
		t.Errorf("images on a fresh engine: %q", out)
	}
	pid := pidOf(t, defaultPID)
	if !alive(pid) {
		t.Fatalf("daemon %d is not running", pid)
	}
	if log, err := os.ReadFile(defaultLog); err != nil || !strings.Contains(string(log), "corral daemon started") {
		t.Errorf("daemon log %s: %q %v", defaultLog, log, err)
	}
	ok(t, env, bin, "import", busyboxTar(t), "bb:1")
	if out := ok(t, env, bin, "images", "--format", "{{.Repository}}:{{.Tag}}"); out != "bb:1\n" {
		t.Errorf("images: %q", out)
	}
	if again := pidOf(t, defaultPID); again != pid {
		t.Errorf("a second command started another daemon: %d, then %d", pid, again)
	}

	killPID(t, pid, syscall.SIGKILL) // leaves its socket behind
	if _, err := os.Lstat(defaultSock); err != nil {
		t.Fatalf("socket of the killed daemon: %v", err)
	}
	if out := ok(t, env, bin, "images", "--format", "{{.Repository}}:{{.Tag}}"); out != "bb:1\n" {
		t.Errorf("images after the daemon was killed: %q", out)
	}
	if next := pidOf(t, defaultPID); next == pid || !alive(next) {
		t.Errorf("no new daemon after kill -9: %d, then %d", pid, next)
	}
}

// TestAutoStartConcurrent: command lines started together start one
// daemon.
func TestAutoStartConcurrent(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.EngineBinary(t)
	root := filepath.Join(t.TempDir(), "root")
	var wg sync.WaitGroup
	results := make([]result, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = run(t, nil, "", bin, "--data-root", root, "images", "-q")
		}()
	}
	wg.Wait()
	t.Cleanup(func() { killPID(t, pidOf(t, filepath.Join(root, "corral.pid")), syscall.SIGTERM) })
	for _, r := range results {
		if r.code != 0 || r.stdout != "" {
			t.Errorf("%v", r)
		}
	}
	log, err := os.ReadFile(filepath.Join(root, "daemon.log"))
	if err != nil || strings.Count(string(log), "corral daemon started") != 1 {
		t.Errorf("daemon.log of %d concurrent first commands:\n%s%v", len(results), log, err)
	}
	if _, err := os.Lstat(filepath.Join(root, "corral.sock")); err != nil {
		t.Errorf("data root's socket: %v", err)
	}
}

// TestAutoStartFailure: a daemon that cannot start is reported with its
// log; an explicit host is never started.
func TestAutoStartFailure(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.EngineBinary(t)
	dir := t.TempDir()
	// A daemon holds the data root but listens elsewhere: the one started
	// for the data root's own socket cannot take it.
	root := filepath.Join(dir, "root")
	d := startDaemon(t, dir)
	r := run(t, nil, "", bin, "--data-root", root, "images")
	logPath := filepath.Join(root, "daemon.log")
	if r.code != 1 || !strings.Contains(r.stderr, "the corral daemon failed to start (exit status 1): corral daemon: data root "+root+
		" is in use by another daemon (pid "+strconv.Itoa(d.cmd.Process.Pid)+"); see "+logPath) {
		t.Errorf("daemon that fails to start: %v", r)
	}
	host := "unix://" + filepath.Join(dir, "absent.sock")
	for _, env := range [][]string{{"CORRAL_HOST=" + host}, {"DOCKER_HOST=" + host}} {
		r := run(t, env, "", bin, "images")
		if r.code != 1 || r.stderr != "Cannot connect to the corral daemon at "+host+". Is the daemon running?\n" {
			t.Errorf("%v: %v", env, r)
		}
	}
	r = run(t, nil, "", bin, "-H", host, "images")
	if r.code != 1 || !strings.Contains(r.stderr, "Cannot connect to the corral daemon at "+host) {
		t.Errorf("-H: %v", r)
	}
	if _, err := os.Lstat(filepath.Join(dir, "absent.sock")); !os.IsNotExist(err) {
		t.Errorf("a daemon was started for an explicit host: %v", err)
	}
}

// TestAutoStartSharedDataRoot: a data root other users may write to (a
// fresh tmpfs) is made the daemon's own before its socket goes in it.
func TestAutoStartSharedDataRoot(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.EngineBinary(t)
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o1777); err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, "", bin, "--data-root", root, "images", "-q")
	t.Cleanup(func() { killPID(t, pidOf(t, filepath.Join(root, "corral.pid")), syscall.SIGTERM) })
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	if st, err := os.Stat(root); err != nil || st.Mode()&(os.ModePerm|os.ModeSticky) != 0o711 {
		t.Errorf("data root mode after start: %v %v", st.Mode(), err)
	}
}
