package monitor_test

import (
	"encoding/json"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/corral-dev/corral/monitor"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestOperations: pause and resume, pids, stats and update go through the
// monitor to the runtime.
func TestOperations(t *testing.T) {
	ct := running(t, nil)
	st, err := ct.c.Status(ctx(t))
	if err != nil || st.State != monitor.StateRunning || st.StartedAt.IsZero() {
		t.Fatalf("status = %+v, %v", st, err)
	}
	pids, err := ct.c.Pids(ctx(t))
	if err != nil || !slices.Contains(pids, st.Pid) {
		t.Errorf("pids = %v, %v; want the init %d among them", pids, err, st.Pid)
	}
	if err := ct.c.Pause(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if st, _ := ct.c.Status(ctx(t)); !st.Paused {
		t.Error("status does not say paused")
	}
	if err := ct.c.Resume(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if st, _ := ct.c.Status(ctx(t)); st.Paused {
		t.Error("status still says paused")
	}
	data, err := ct.c.Stats(ctx(t))
	var ev struct {
		Type string `json:"type"`
	}
	if err != nil || json.Unmarshal(data, &ev) != nil || ev.Type != "stats" {
		t.Errorf("stats = %s, %v", data, err)
	}
	limit := int64(64 << 20)
	if err := ct.c.Update(ctx(t), &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}); err != nil {
		t.Errorf("update: %v", err)
	}
	if err := ct.c.Signal(ctx(t), syscall.Signal(0), false); err == nil {
		t.Error("signal 0 was accepted")
	}
	ct.c.Signal(ctx(t), syscall.SIGKILL, false)
	ct.wait()
	if err := ct.c.Signal(ctx(t), syscall.SIGKILL, false); err == nil {
		t.Error("signal after exit succeeded")
	}
}

// TestLongStateDir: a state directory too long for a unix socket address
// still works.
func TestLongStateDir(t *testing.T) {
	dir := stateDir + "/" + strings.Repeat("d", 100)
	ct := newContainer(t, []string{"echo", "long"}, func(_ *specs.Spec, c *monitor.Config) { c.StateDir = dir })
	s := ct.attach(false)
	ct.start()
	if stdout, _ := demux(t, s); stdout != "long\n" {
		t.Errorf("output %q", stdout)
	}
	ct.wait()
}
