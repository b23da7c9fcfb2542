package monitor_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/corral-dev/corral/monitor"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestNoDelete: with NoDelete the monitor records the exit and leaves the
// stopped container in the runtime, cgroup and state; DeleteFromRuntime
// then removes both, and again finds nothing to do. Without it the
// monitor deletes the container itself before it records the exit.
func TestNoDelete(t *testing.T) {
	ct := newContainer(t, sh("exit 4"), func(_ *specs.Spec, cfg *monitor.Config) { cfg.NoDelete = true })
	ct.start()
	if ex := ct.wait(); ex.ExitCode != 4 {
		t.Fatalf("exit = %+v, want code 4", ex)
	}
	state := filepath.Join(runtimeRoot, ct.cfg.ID, "state.json")
	data, err := os.ReadFile(state)
	if err != nil {
		t.Fatalf("the runtime's state is gone with NoDelete: %v", err)
	}
	var rec struct{ Cgroups map[string]string }
	if err := json.Unmarshal(data, &rec); err != nil || len(rec.Cgroups) == 0 {
		t.Fatalf("state.json: cgroups %v, %v", rec.Cgroups, err)
	}
	for _, dir := range rec.Cgroups {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("cgroup %s gone before DeleteFromRuntime: %v", dir, err)
		}
	}
	for i := 0; i < 2; i++ { // the second finds nothing left
		if err := monitor.DeleteFromRuntime(ctx(t), runtimeRoot, ct.cfg.ID); err != nil {
			t.Fatalf("DeleteFromRuntime #%d: %v", i+1, err)
		}
	}
	if _, err := os.Stat(filepath.Dir(state)); !os.IsNotExist(err) {
		t.Errorf("runtime state after DeleteFromRuntime: %v", err)
	}
	for _, dir := range rec.Cgroups {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("cgroup %s after DeleteFromRuntime: %v", dir, err)
		}
	}

	own := newContainer(t, sh("exit 5"), nil)
	own.start()
	if ex := own.wait(); ex.ExitCode != 5 {
		t.Fatalf("exit = %+v, want code 5", ex)
	}
	if _, err := os.Stat(filepath.Join(runtimeRoot, own.cfg.ID)); !os.IsNotExist(err) {
		t.Errorf("the monitor left its container in the runtime without NoDelete: %v", err)
	}
}

func TestDeleteFromRuntimeBadID(t *testing.T) {
	for _, id := range []string{"", "../x", "a/b"} {
		if err := monitor.DeleteFromRuntime(ctx(t), runtimeRoot, id); err == nil {
			t.Errorf("DeleteFromRuntime(%q) succeeded", id)
		}
	}
}
