package engine_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

// TestExitDeletesFromRuntime: the daemon, not the monitor, deletes an
// exited container from the runtime (monitor.Config.NoDelete). With the
// daemon up, the runtime's state and cgroups are gone by the time wait
// answers. With the daemon killed by SIGKILL, the container that exits
// meanwhile stays in the runtime, stopped, until the daemon comes back:
// then it is recorded as exited and deleted, cgroups and all.
func TestExitDeletesFromRuntime(t *testing.T) {
	e := newEngine(t)
	quick := e.runD(t, "busybox", "sleep", "1000")
	id := e.inspect(t, quick).ID
	cgroups := runtimeCgroups(t, e, id)
	e.ok(t, "kill", quick)
	if out := e.ok(t, "wait", quick); out != "137\n" {
		t.Errorf("wait: %q", out)
	}
	checkDeleted(t, e, id, cgroups)

	slow := e.runD(t, "busybox", "sleep", "1000")
	c := e.inspect(t, slow)
	cgroups = runtimeCgroups(t, e, c.ID)
	e.kill9(t)
	killAndReap(t, c.State.Pid)
	waitFile(t, filepath.Join(execRoot(e), "monitors", c.ID, "exit.json"))
	if _, err := os.Stat(filepath.Join(execRoot(e), "runtime", c.ID, "state.json")); err != nil {
		t.Errorf("the runtime's state went with the daemon away: %v", err)
	}
	e.restart(t)
	got := e.waitState(t, slow, "to be recorded exited", func(r container.InspectResponse) bool { return !r.State.Running })
	if got.State.ExitCode != 137 || got.State.Status != "exited" {
		t.Errorf("after the daemon's restart: %+v", got.State)
	}
	checkDeleted(t, e, c.ID, cgroups)
}

// runtimeCgroups reads the cgroup directories of a running container from
// the runtime's state, and checks they exist.
func runtimeCgroups(t *testing.T, e *engine, id string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(execRoot(e), "runtime", id, "state.json"))
	if err != nil {
		t.Fatalf("runtime state of a running container: %v", err)
	}
	var st struct{ Cgroups map[string]string }
	if err := json.Unmarshal(data, &st); err != nil || len(st.Cgroups) == 0 {
		t.Fatalf("runtime state: cgroups %v, %v", st.Cgroups, err)
	}
	for _, dir := range st.Cgroups {
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("cgroup of a running container: %v", err)
		}
	}
	return st.Cgroups
}

// checkDeleted checks that the runtime has neither state nor cgroups of
// container id left.
func checkDeleted(t *testing.T, e *engine, id string, cgroups map[string]string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(execRoot(e), "runtime", id)); !os.IsNotExist(err) {
		t.Errorf("runtime state of an exited container: %v", err)
	}
	for _, dir := range cgroups {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("cgroup %s of an exited container: %v", dir, err)
		}
	}
}

// waitFile waits until path exists.
func waitFile(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	t.Fatalf("%s never appeared", path)
}
