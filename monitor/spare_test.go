package monitor_test

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/corral-dev/corral/monitor"
	"github.com/corral-dev/corral/testutil"
)

// spareConfig is the config of a busybox container exiting with code 7,
// its bundle written.
func spareConfig(t *testing.T) monitor.Config {
	t.Helper()
	testutil.RequireRoot(t)
	bundle, spec := testutil.NewBundle(t)
	spec.Process.Args = sh("exit 7")
	testutil.WriteSpec(t, bundle, spec)
	return monitor.Config{ID: testutil.UniqueName(t), StateDir: stateDir, Bundle: bundle,
		RuntimeRoot: runtimeRoot, Binary: monitorBinary(t)}
}

// createAndRun creates the container of p, runs it and checks its exit
// code; it returns the monitor's pid.
func createAndRun(t *testing.T, cfg monitor.Config, p *monitor.Spawned) int {
	t.Helper()
	c, err := p.Create(ctx(t))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	ct := &container{t: t, cfg: cfg, c: c}
	t.Cleanup(ct.cleanup)
	ct.start()
	if ex := ct.wait(); ex.ExitCode != 7 {
		t.Errorf("exit = %+v, want code 7", ex)
	}
	return c.Pid()
}

// newSpares keeps spares for the tests' monitor, closed at cleanup, and
// returns the first one's pid.
func newSpares(t *testing.T, binary string) (*monitor.Spares, int) {
	t.Helper()
	s := monitor.NewSpares(binary)
	t.Cleanup(s.Close)
	s.Refill()
	pid := monitor.SparePid(s)
	if pid <= 0 {
		t.Fatal("Refill spawned no spare")
	}
	return s, pid
}

// maxSpareAnon bounds a spare's anonymous memory, in KiB (it measured 60).
const maxSpareAnon = 128

// TestSpareServesStart: the spare is the monitor of the next container;
// idle, it is small; Refill then spawns another.
func TestSpareServesStart(t *testing.T) {
	cfg := spareConfig(t)
	s, pid := newSpares(t, cfg.Binary)
	// What a spare costs of its own is its anonymous memory: its program's
	// pages are shared with the running monitors (alone here, its PSS
	// counts all of them).
	if m := smapsRollup(t, pid); m["Anonymous"] > maxSpareAnon {
		t.Errorf("spare: anonymous memory %d KiB, over %d (PSS %d KiB)", m["Anonymous"], maxSpareAnon, m["Pss"])
	}
	if got := createAndRun(t, cfg, s.Spawn(cfg)); got != pid {
		t.Errorf("monitor pid %d, want the spare's %d", got, pid)
	}
	s.Refill()
	if next := monitor.SparePid(s); next <= 0 || next == pid {
		t.Errorf("after Refill the spare is %d (the last was %d)", next, pid)
	}
}

// TestSpareDied: a spare killed before it is taken, or after it is taken
// but before Create, is replaced and the container still runs.
func TestSpareDied(t *testing.T) {
	for _, when := range []string{"before", "after"} {
		t.Run(when, func(t *testing.T) {
			cfg := spareConfig(t)
			s, pid := newSpares(t, cfg.Binary)
			var p *monitor.Spawned
			if when == "after" {
				p = s.Spawn(cfg)
			}
			killReaped(t, pid)
			if p == nil {
				p = s.Spawn(cfg)
			}
			if got := createAndRun(t, cfg, p); got == pid {
				t.Errorf("the dead spare %d was used", pid)
			}
		})
	}
}

// killReaped kills pid, the test's child, and waits until it is reaped.
func killReaped(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !gone(pid) {
		t.Fatalf("%d still runs", pid)
	}
	for i := 0; i < 200 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSpareNotShared: starts at once take the spare once; each gets a
// monitor of its own.
func TestSpareNotShared(t *testing.T) {
	const n = 6
	cfgs := make([]monitor.Config, n)
	for i := range cfgs {
		cfgs[i] = spareConfig(t)
		cfgs[i].ID += "-" + string(rune('a'+i))
	}
	s, pid := newSpares(t, cfgs[0].Binary)
	pids := make([]int, n)
	var wg sync.WaitGroup
	for i := range cfgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := s.Spawn(cfgs[i]).Create(ctx(t))
			if err != nil {
				t.Errorf("create %d: %v", i, err)
				return
			}
			ct := &container{t: t, cfg: cfgs[i], c: c}
			t.Cleanup(ct.cleanup)
			pids[i] = c.Pid()
		}()
	}
	wg.Wait()
	slices.Sort(pids)
	if len(slices.Compact(slices.Clone(pids))) != n || pids[0] <= 0 {
		t.Errorf("monitor pids %v: not %d distinct", pids, n)
	}
	if !slices.Contains(pids, pid) {
		t.Errorf("no start took the spare %d (monitors %v)", pid, pids)
	}
}

// TestSpareClosed: closing Spares ends the spare, which leaves nothing in
// the state directory; none is spawned after.
func TestSpareClosed(t *testing.T) {
	cfg := spareConfig(t)
	before, _ := os.ReadDir(stateDir)
	s, pid := newSpares(t, cfg.Binary)
	s.Close()
	if !gone(pid) {
		t.Errorf("spare %d still runs after Close", pid)
	}
	if after, _ := os.ReadDir(stateDir); len(after) != len(before) {
		t.Errorf("the state directory went from %d to %d entries", len(before), len(after))
	}
	if s.Refill(); monitor.SparePid(s) != 0 {
		t.Error("Refill after Close spawned a spare")
	}
}

// TestSpareOtherProgram: a spare is not taken for a config whose monitor
// program differs, nor once its program file was replaced (an upgrade);
// it is let go.
func TestSpareOtherProgram(t *testing.T) {
	cfg := spareConfig(t)
	dir := t.TempDir()
	prog, err := filepath.EvalSymlinks(testutil.MonitorBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"corral-monitor", "corral-runc"} {
		copyFile(t, filepath.Join(filepath.Dir(prog), name), filepath.Join(dir, name))
	}
	other := filepath.Join(dir, "corral-monitor")
	t.Run("other binary", func(t *testing.T) {
		s, pid := newSpares(t, other)
		if got := createAndRun(t, cfg, s.Spawn(cfg)); got == pid {
			t.Errorf("the spare of %s ran a monitor of %s", other, cfg.Binary)
		}
		if !gone(pid) {
			t.Errorf("the spare %d that did not fit still runs", pid)
		}
	})
	t.Run("replaced", func(t *testing.T) {
		s, pid := newSpares(t, other)
		copyFile(t, prog, other+".new")
		if err := os.Rename(other+".new", other); err != nil {
			t.Fatal(err)
		}
		c := cfg
		c.ID += "-replaced"
		c.Binary = other
		if got := createAndRun(t, c, s.Spawn(c)); got == pid {
			t.Error("the spare of a replaced program was taken")
		}
	})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err == nil {
		err = os.WriteFile(to, data, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
}
