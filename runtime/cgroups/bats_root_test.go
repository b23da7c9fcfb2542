package cgroups

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/corral-dev/corral/testutil"
)

// TestCpusetEmptyParents: parents someone else made with plain mkdir (as
// runc's tests make a pod cgroup) have empty cpuset.cpus and cpuset.mems;
// Create fills every such level, so a task can join the container's cgroup
// (it got ENOSPC before).
func TestCpusetEmptyParents(t *testing.T) {
	testutil.RequireRoot(t)
	m := newTestManager(t)
	top, ok := m.Paths()["cpuset"]
	if !ok {
		t.Skip("no v1 cpuset hierarchy")
	}
	pod := filepath.Join(top, "pod")
	if err := os.MkdirAll(pod, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, pod, "cpuset.cpus"); got != "" {
		t.Fatalf("a new cpuset starts with cpus %q here; the test needs it empty", got)
	}
	child := Load(map[string]string{"cpuset": filepath.Join(pod, "ctr")})
	if err := child.Create(); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{top, pod} {
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if readTrim(t, dir, f) == "" {
				t.Errorf("%s/%s is still empty", dir, f)
			}
		}
	}
	checkDirs(t, child, true)
	s := startSleep(t)
	if err := child.Join(s.pid); err != nil {
		t.Fatal(err)
	}
}

// TestFrozen: Frozen tells a frozen cgroup (and one below a frozen
// parent) from a thawed or missing one.
func TestFrozen(t *testing.T) {
	testutil.RequireRoot(t)
	m := newTestManager(t)
	if _, ok := m.Paths()["freezer"]; !ok {
		if _, ok := m.Paths()[UnifiedKey]; !ok {
			t.Skip("no freezer")
		}
	}
	check := func(m *Manager, want bool) {
		t.Helper()
		if got, err := m.Frozen(); err != nil || got != want {
			t.Errorf("Frozen() = %v, %v; want %v", got, err, want)
		}
	}
	check(m, false) // not created yet
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	check(m, false)
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	check(m, true)
	sub := map[string]string{}
	for k, dir := range m.Paths() {
		sub[k] = filepath.Join(dir, "sub")
	}
	child := Load(sub)
	if err := child.Create(); err != nil {
		t.Fatal(err)
	}
	check(child, true)
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	check(m, false)
	check(child, false)
}
