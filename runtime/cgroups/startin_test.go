package cgroups

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/corral-dev/corral/testutil"
)

// startInCgroup starts `sleep 60` from EnterThread, killed and reaped when the
// test ends.
func startInCgroup(t *testing.T, m *Manager) (*sleeper, bool) {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	placed, err := m.EnterThread().Start(func(unifiedFD int) error {
		if unifiedFD >= 0 {
			cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, unifiedFD
		}
		return cmd.Start()
	})
	if err != nil {
		t.Fatal(err)
	}
	if !placed {
		return nil, false
	}
	s := &sleeper{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		s.reap()
		<-s.done
	})
	return s, true
}

// TestEnterThread starts a process inside the cgroup on every hierarchy, and
// leaves every thread of the caller where it was.
func TestEnterThread(t *testing.T) {
	testutil.RequireRoot(t)
	before := threadCgroups(t)
	m := newTestManager(t)
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	s, placed := startInCgroup(t, m)
	if !placed {
		t.Fatal("EnterThread did not place the process in a fresh cgroup")
	}
	for key, dir := range m.Paths() {
		if cg := cgroupOf(t, s.pid, key); cg == "/" || !strings.HasSuffix(dir, cg) {
			t.Errorf("pid %d is in %q on %q, want %s", s.pid, cg, key, dir)
		}
	}
	if after := threadCgroups(t); after != before {
		t.Errorf("the test's threads moved:\nbefore %s\nafter  %s", before, after)
	}
	// Nothing of the caller's stays in the container's cgroup: a kill of
	// the cgroup must not reach it.
	for key, dir := range m.Paths() {
		if key == UnifiedKey {
			continue
		}
		tasks, err := os.ReadFile(filepath.Join(dir, "tasks"))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Fields(string(tasks)); len(got) != 1 || got[0] != strconv.Itoa(s.pid) {
			t.Errorf("%s/tasks = %q, want only %d", dir, got, s.pid)
		}
	}
	killAll(t, m)
}

// TestEnterThreadFrozen refuses to move a thread of the caller into a frozen
// cgroup, where it would stop: the caller falls back to Join.
func TestEnterThreadFrozen(t *testing.T) {
	testutil.RequireRoot(t)
	m := newTestManager(t)
	if _, ok := m.Paths()["freezer"]; !ok {
		t.Skip("no v1 freezer on this host")
	}
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Thaw() })
	called := false
	placed, err := m.EnterThread().Start(func(int) error { called = true; return nil })
	if placed || called || err != nil {
		t.Errorf("EnterThread on a frozen cgroup = %v, %v (start called: %v); want false, nil, not called", placed, err, called)
	}
}

// TestEnterThreadRefused falls back when a move is refused, with the thread
// back where it was: here the cgroup is gone on one hierarchy.
func TestEnterThreadRefused(t *testing.T) {
	testutil.RequireRoot(t)
	before := threadCgroups(t)
	m := newTestManager(t)
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	last, ok := m.Paths()["pids"]
	if !ok {
		t.Skip("no v1 pids hierarchy on this host")
	}
	if err := os.Remove(last); err != nil {
		t.Fatal(err)
	}
	called := false
	placed, err := m.EnterThread().Start(func(int) error { called = true; return nil })
	if placed || called || err != nil {
		t.Errorf("Start = %v, %v (start called: %v); want false, nil, not called", placed, err, called)
	}
	if after := threadCgroups(t); after != before {
		t.Errorf("the test's threads moved:\nbefore %s\nafter  %s", before, after)
	}
}

// TestEnterThreadRelease lets an entered thread go unused: it leaves the
// cgroup, which can then be removed.
func TestEnterThreadRelease(t *testing.T) {
	testutil.RequireRoot(t)
	before := threadCgroups(t)
	m := newTestManager(t)
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	th := m.EnterThread()
	th.Release()
	th.Release() // a second time does nothing
	if placed, err := th.Start(func(int) error { return nil }); placed || err == nil {
		t.Errorf("Start after Release = %v, %v; want an error", placed, err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if after := threadCgroups(t); after != before {
		t.Errorf("the test's threads moved:\nbefore %s\nafter  %s", before, after)
	}
}

// threadCgroups returns the cgroups of every thread of the test process,
// one line per distinct set.
func threadCgroups(t *testing.T) string {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var out []string
	for _, task := range tasks {
		data, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "cgroup"))
		if err != nil {
			continue // the thread exited
		}
		if s := strings.ReplaceAll(string(data), "\n", " "); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return strings.Join(out, "\n")
}
