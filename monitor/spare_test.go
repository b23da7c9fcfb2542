package monitor_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
	return spareConfigOf(t, sh("exit 7"))
}

// spareConfigOf is the config of a busybox container running args.
func spareConfigOf(t *testing.T, args []string) monitor.Config {
	t.Helper()
	testutil.RequireRoot(t)
	bundle, spec := testutil.NewBundle(t)
	spec.Process.Args = args
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

// TestSpareClosed: closing Spares ends the spare and its standby runtime,
// which leave nothing in the state directory; none is spawned after.
func TestSpareClosed(t *testing.T) {
	cfg := spareConfig(t)
	before, _ := os.ReadDir(stateDir)
	s, pid := newSpares(t, cfg.Binary)
	standby := standbyOf(t, pid)
	s.Close()
	if !gone(pid) || !reaped(standby) {
		t.Errorf("spare %d or its standby runtime %d still runs after Close", pid, standby)
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
	other := programCopy(t)
	prog, err := filepath.EvalSymlinks(testutil.MonitorBinary(t))
	if err != nil {
		t.Fatal(err)
	}
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

// standbyOf returns the pid of the standby runtime spare started
// (cmd/corral-monitor/standby.c), waiting for it to appear.
func standbyOf(t *testing.T, spare int) int {
	t.Helper()
	for i := 0; i < 500; i++ {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", spare, spare))
		for _, f := range strings.Fields(string(data)) {
			cmd, _ := os.ReadFile("/proc/" + f + "/cmdline")
			if strings.HasSuffix(string(cmd), "/corral-runc\x00standby\x00") {
				pid, _ := strconv.Atoi(f)
				return pid
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("spare %d started no standby runtime", spare)
	return 0
}

// TestSpareStandby: a spare's create goes to the runtime it started
// ahead, which is gone once the container exists. A standby that died, or
// whose program file was replaced since (an upgrade), is passed over and
// the create spawns a runtime as usual. The monitor's debug log says
// which.
func TestSpareStandby(t *testing.T) {
	for _, what := range []string{"used", "killed", "replaced"} {
		t.Run(what, func(t *testing.T) {
			cfg := spareConfig(t)
			if what == "replaced" {
				cfg.Binary = programCopy(t)
			}
			cfg.Debug = filepath.Join(t.TempDir(), "debug.log")
			s, pid := newSpares(t, cfg.Binary)
			standby := standbyOf(t, pid)
			want := fmt.Sprintf("create sent to the standby runtime %d\n", standby)
			switch what {
			case "killed":
				// Not waited for: it may die before or after saying it is
				// ready, before or after the request is sent, and its
				// threads after its leader. Until it takes the request the
				// create can go to a fresh runtime.
				if err := syscall.Kill(standby, syscall.SIGKILL); err != nil {
					t.Fatalf("kill the standby: %v", err)
				}
				want = fmt.Sprintf("standby runtime %d not used: ", standby)
			case "replaced":
				runc := filepath.Join(filepath.Dir(cfg.Binary), "corral-runc")
				copyFile(t, runc, runc+".new")
				if err := os.Rename(runc+".new", runc); err != nil {
					t.Fatal(err)
				}
				want = fmt.Sprintf("standby runtime %d not used: the create runs another program, or its file was replaced\n", standby)
			}
			createAndRun(t, cfg, s.Spawn(cfg))
			if got, _ := os.ReadFile(cfg.Debug); !strings.Contains(string(got), want) {
				t.Errorf("debug log %q, want %q", got, want)
			}
			if !reaped(standby) {
				t.Errorf("standby %d still runs, or was not reaped", standby)
			}
		})
	}
}

// reaped reports whether pid, not the test's child, is gone and reaped
// (gone takes a zombie for gone).
func reaped(pid int) bool {
	for i := 0; i < 200; i++ {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); errors.Is(err, fs.ErrNotExist) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// programCopy copies the tests' corral-monitor and corral-runc into a
// directory of the test's and returns the monitor there.
func programCopy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	prog, err := filepath.EvalSymlinks(testutil.MonitorBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"corral-monitor", "corral-runc"} {
		copyFile(t, filepath.Join(filepath.Dir(prog), name), filepath.Join(dir, name))
	}
	return filepath.Join(dir, "corral-monitor")
}

// createByStandby creates cfg's container through a spare whose standby
// runtime takes the create (the monitor's debug log says so).
func createByStandby(t *testing.T, cfg monitor.Config) *container {
	t.Helper()
	cfg.Debug = filepath.Join(t.TempDir(), "debug.log")
	s, pid := newSpares(t, cfg.Binary)
	standby := standbyOf(t, pid)
	c, err := s.Spawn(cfg).Create(ctx(t))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	ct := &container{t: t, cfg: cfg, c: c}
	t.Cleanup(ct.cleanup)
	if got, _ := os.ReadFile(cfg.Debug); !strings.Contains(string(got), fmt.Sprintf("create sent to the standby runtime %d\n", standby)) {
		t.Fatalf("the standby did not create the container: debug log %q", got)
	}
	return ct
}

// TestSpareStandbySealedInit: a container the standby runtime created
// runs init from the sealed view of the runtime's binary, as one a fresh
// runtime creates (runtime/exeguard.go): until start, the init's
// /proc/PID/exe is not the host's file and cannot be opened for writing.
func TestSpareStandbySealedInit(t *testing.T) {
	cfg := spareConfig(t)
	ct := createByStandby(t, cfg)
	exe := fmt.Sprintf("/proc/%d/exe", ct.c.InitPid())
	host, err := os.Stat(filepath.Join(filepath.Dir(cfg.Binary), "corral-runc"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.Stat(exe); err != nil || os.SameFile(got, host) {
		t.Errorf("init's exe is the host's corral-runc (stat err %v)", err)
	}
	if f, err := os.OpenFile(exe, os.O_WRONLY, 0); err == nil {
		f.Close()
		t.Error("init's exe opened for writing")
	}
	ct.start()
	if ex := ct.wait(); ex.ExitCode != 7 {
		t.Errorf("exit = %+v, want code 7", ex)
	}
}

// TestNoLeakedFDsStandby: a container the standby runtime created sees
// only its stdio, as one a fresh runtime creates (TestNoLeakedFDs): none
// of the standby's socket, sealed binary or received descriptors.
func TestNoLeakedFDsStandby(t *testing.T) {
	cfg := spareConfigOf(t, []string{"/bin/testprog", "fds"})
	cfg.OpenStdin = true
	ct := createByStandby(t, cfg)
	st := ct.attach(true)
	ct.start()
	stdout, stderr := demux(t, st)
	checkOnlyStdio(t, "container", stdout+stderr)
	ct.wait()
}

// TestSpareCommandLine: DIR "-" is refused without the go pipe, and with
// --fork (a forked spare's standby runtime would not be its child).
func TestSpareCommandLine(t *testing.T) {
	prog, err := filepath.EvalSymlinks(testutil.MonitorBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		env  string
	}{
		{[]string{"monitor", "-"}, ""},
		{[]string{"monitor", "--fork", "-"}, "_CORRAL_MONITOR_GO=4"},
	} {
		cmd := exec.Command(prog, c.args...)
		cmd.Env = []string{c.env}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), `DIR "-" is for a spare`) {
			t.Errorf("%v with %q: %v, %q; want exit 2 and why", c.args, c.env, err, out)
		}
	}
}
