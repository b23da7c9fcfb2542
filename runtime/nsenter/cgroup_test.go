package nsenter

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/corral-dev/corral/testutil"
)

// ownPidsCgroup returns the directory of our own cgroup on the v1 pids
// hierarchy, or skips when there is none.
func ownPidsCgroup(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.SplitN(l, ":", 3); len(f) == 3 && f[1] == "pids" {
			return filepath.Join("/sys/fs/cgroup/pids", f[2])
		}
	}
	t.Skip("no v1 pids hierarchy")
	return ""
}

// The constructor moves itself into a cgroup through its tasks file before
// Go starts, and a file it cannot write fails the request cleanly.
func TestJoinCgroupTasks(t *testing.T) {
	testutil.RequireRoot(t)
	dir := filepath.Join(ownPidsCgroup(t), testutil.UniqueName(t))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h := startHelper(t)
	t.Cleanup(func() { h.kill(); os.Remove(dir) })
	pid, err := h.enter(Request{Cgroups: []string{filepath.Join(dir, "tasks")}}, nil)
	if err != nil {
		t.Fatalf("enter: %v; stderr: %s", err, h.stderrText())
	}
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(pid) {
		t.Fatalf("cgroup.procs of the target has %q (%v), want %d", b, err, pid)
	}
	h.report(t)
	h.finish(t)
	os.Remove(dir)

	bad := startHelper(t)
	t.Cleanup(bad.kill)
	if _, err := bad.enter(Request{Cgroups: []string{dir + "-missing/tasks"}}, nil); err == nil ||
		!strings.Contains(err.Error(), "join cgroup") {
		t.Fatalf("missing cgroup: %v", err)
	}
}

func TestCgroupFileChecked(t *testing.T) {
	for _, c := range []string{"relative/tasks", "/a\nb"} {
		if _, err := (Request{Cgroups: []string{c}}).body(); err == nil {
			t.Errorf("cgroup file %q accepted", c)
		}
	}
}
