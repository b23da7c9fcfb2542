package cgroups

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corral-dev/corral/testutil"
	"golang.org/x/sys/unix"
)

// TestLifecycle creates a cgroup, moves a process in, kills it through the
// cgroup and destroys the cgroup, once with every hierarchy and once with
// the v1 hierarchies alone (no cgroup.kill: freezer and signals instead).
func TestLifecycle(t *testing.T) {
	testutil.RequireRoot(t)
	for _, v1Only := range []bool{false, true} {
		t.Run(map[bool]string{false: "all", true: "v1-only"}[v1Only], func(t *testing.T) {
			m := newTestManager(t)
			if v1Only {
				paths := m.Paths()
				delete(paths, UnifiedKey)
				if len(paths) == 0 {
					t.Skip("no v1 hierarchy on this host")
				}
				m = Load(paths)
			}
			testLifecycle(t, m)
		})
	}
}

func testLifecycle(t *testing.T, m *Manager) {
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	checkDirs(t, m, true)
	s := startSleep(t)
	if err := m.Join(s.pid); err != nil {
		t.Fatal(err)
	}
	for key, dir := range m.Paths() {
		if cg := cgroupOf(t, s.pid, key); cg == "/" || !strings.HasSuffix(dir, cg) {
			t.Errorf("pid %d is in %q on %q, want %s", s.pid, cg, key, dir)
		}
	}
	pids, err := m.Pids()
	if err != nil || !slices.Contains(pids, s.pid) {
		t.Fatalf("Pids() = %v, %v; want %d in it", pids, err, s.pid)
	}
	killAll(t, m) // the sleeper is not reaped yet: a zombie must not count
	var exitErr *exec.ExitError
	if err := s.wait(t); !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != unix.SIGKILL {
		t.Errorf("sleep ended with %v, want SIGKILL", err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	checkDirs(t, m, false)
	if err := m.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

// killAll runs KillAll and checks the cgroup is empty afterwards.
func killAll(t *testing.T, m *Manager) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.KillAll(ctx); err != nil {
		t.Fatal(err)
	}
	if pids, err := m.Pids(); err != nil || len(pids) != 0 {
		t.Fatalf("after KillAll Pids() = %v, %v", pids, err)
	}
}

// checkDirs checks every directory of m exists (or, with !exist, is gone),
// and that a v1 cpuset directory can take tasks.
func checkDirs(t *testing.T, m *Manager, exist bool) {
	t.Helper()
	for key, dir := range m.Paths() {
		_, err := os.Stat(dir)
		if exist && err != nil {
			t.Errorf("%s: %v", key, err)
		}
		if !exist && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %s still there (%v)", key, dir, err)
		}
	}
	if dir, ok := m.Paths()["cpuset"]; ok && exist {
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			data, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil || strings.TrimSpace(string(data)) == "" {
				t.Errorf("%s/%s = %q, %v; want it inherited", dir, f, data, err)
			}
		}
	}
}

// TestNested puts a process in a sub-cgroup two levels down: Pids and
// KillAll see it from the container's cgroup, Destroy removes the subtree.
func TestNested(t *testing.T) {
	testutil.RequireRoot(t)
	m := newTestManager(t)
	sub := make(map[string]string)
	for key, dir := range m.Paths() {
		sub[key] = filepath.Join(dir, "a", "b")
	}
	child := Load(sub)
	if err := child.Create(); err != nil {
		t.Fatal(err)
	}
	checkDirs(t, child, true)
	s := startSleep(t)
	s.reap()
	if err := child.Join(s.pid); err != nil {
		t.Fatal(err)
	}
	pids, err := m.Pids()
	if err != nil || !slices.Contains(pids, s.pid) {
		t.Fatalf("Pids() = %v, %v; want %d in it", pids, err, s.pid)
	}
	killAll(t, m)
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	checkDirs(t, m, false)
}

// TestSignal delivers a signal to every process of the cgroup.
func TestSignal(t *testing.T) {
	testutil.RequireRoot(t)
	m := newTestManager(t)
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	s := startSleep(t)
	if err := m.Join(s.pid); err != nil {
		t.Fatal(err)
	}
	if err := m.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var exitErr *exec.ExitError
	if err := s.wait(t); !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != unix.SIGTERM {
		t.Errorf("sleep ended with %v, want SIGTERM", err)
	}
}

// TestFreezeThaw stops and resumes the cgroup's processes.
func TestFreezeThaw(t *testing.T) {
	testutil.RequireRoot(t)
	m := newTestManager(t)
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	s := startSleep(t)
	if err := m.Join(s.pid); err != nil {
		t.Fatal(err)
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	checkFrozen(t, m, true)
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	checkFrozen(t, m, false)
}

func checkFrozen(t *testing.T, m *Manager, frozen bool) {
	t.Helper()
	paths := m.Paths()
	if dir, ok := paths["freezer"]; ok {
		data, err := os.ReadFile(filepath.Join(dir, "freezer.state"))
		want := map[bool]string{true: "FROZEN", false: "THAWED"}[frozen]
		if err != nil || strings.TrimSpace(string(data)) != want {
			t.Errorf("freezer.state = %q, %v; want %s", data, err, want)
		}
		return
	}
	got, err := eventsField(filepath.Join(paths[UnifiedKey], "cgroup.events"), "frozen")
	if want := map[bool]string{true: "1", false: "0"}[frozen]; err != nil || got != want {
		t.Errorf("cgroup.events frozen = %q, %v; want %s", got, err, want)
	}
}

// TestKillAllForking kills a shell that keeps forking while KillAll runs.
func TestKillAllForking(t *testing.T) {
	testutil.RequireRoot(t)
	for _, v1Only := range []bool{false, true} {
		t.Run(map[bool]string{false: "all", true: "v1-only"}[v1Only], func(t *testing.T) {
			m := newTestManager(t)
			if v1Only {
				paths := m.Paths()
				delete(paths, UnifiedKey)
				m = Load(paths)
			}
			if err := m.Create(); err != nil {
				t.Fatal(err)
			}
			// The shell forks only once it has joined the cgroup, so no
			// child can escape it.
			sh := exec.Command("sh", "-c", `read go; i=0; while [ $i -lt 500 ]; do sleep 30 & i=$((i+1)); done; wait`)
			stdin, err := sh.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := sh.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sh.Process.Kill(); _ = sh.Wait() })
			if err := m.Join(sh.Process.Pid); err != nil {
				t.Fatal(err)
			}
			if _, err := stdin.Write([]byte("go\n")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			killAll(t, m)
			if err := m.Destroy(); err != nil {
				t.Fatal(err)
			}
			checkDirs(t, m, false)
		})
	}
}
