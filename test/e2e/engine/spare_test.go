package engine_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMonitorSpare: the daemon keeps one spare monitor for the next start.
// Starts at once each get a monitor of their own (one of them the spare);
// a spare killed is replaced and the next start works; the spare ends
// with the daemon, stopped or killed, and leaves nothing in the monitors'
// directory.
func TestMonitorSpare(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	monitors := filepath.Join(run, "monitors")
	e := newEngineArgs(t, "--exec-root", run)
	spare := e.spare(t, monitors, 0)
	names := make([]string, 8)
	var wg sync.WaitGroup
	for i := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			names[i] = e.runD(t, "--network", "none", "busybox", "sleep", "1000")
		}()
	}
	wg.Wait()
	pids := map[int]bool{}
	for _, n := range names {
		pids[monitorPid(t, e.inspect(t, n).State.Pid)] = true
	}
	if len(pids) != len(names) || !pids[spare] {
		t.Errorf("monitors %v of %d starts, the spare was %d", pids, len(names), spare)
	}

	next := e.spare(t, monitors, spare)
	killAndReap(t, next)
	n := e.runD(t, "--network", "none", "busybox", "sleep", "1000")
	if m := monitorPid(t, e.inspect(t, n).State.Pid); m == next || pids[m] {
		t.Errorf("monitor %d after the spare %d was killed", m, next)
	}
	next = e.spare(t, monitors, next)
	standby := standbyOf(t, next)

	e.d.stop(t)
	eventually(t, 10*time.Second, "the spare and its standby runtime to exit with the daemon", func() bool {
		return !alive(next) && !alive(standby)
	})
	e.restart(t)
	next = e.spare(t, monitors, next)
	standby = standbyOf(t, next)
	e.kill9(t)
	eventually(t, 10*time.Second, "the spare and its standby runtime to exit with the killed daemon", func() bool {
		return !alive(next) && !alive(standby)
	})
	ents, err := os.ReadDir(monitors)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		if len(ent.Name()) != 64 {
			t.Errorf("monitors' directory holds %s", ent.Name())
		}
	}
	if len(ents) != len(names)+1 {
		t.Errorf("monitors' directory holds %d entries, want %d", len(ents), len(names)+1)
	}
}

// spare waits for the daemon's spare monitor other than not and returns
// its pid: the one child of the daemon running `corral-monitor monitor -`
// that has not yet changed to a monitor's directory under monitors (a
// monitor that was a spare keeps that command line).
func (e *engine) spare(t *testing.T, monitors string, not int) int {
	t.Helper()
	daemon := e.d.cmd.Process.Pid
	var spares []int
	eventually(t, 10*time.Second, "a spare monitor", func() bool {
		spares = spares[:0]
		for _, pid := range childrenRunning(daemon, "monitor\x00-\x00") {
			if cwd, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd"); err == nil && !strings.HasPrefix(cwd, monitors) {
				spares = append(spares, pid)
			}
		}
		return len(spares) == 1 && spares[0] != not && alive(spares[0])
	})
	return spares[0]
}

// standbyOf waits for the standby runtime of spare monitor spare
// (cmd/corral-monitor/standby.c) and returns its pid.
func standbyOf(t *testing.T, spare int) int {
	t.Helper()
	var pids []int
	eventually(t, 10*time.Second, "the spare's standby runtime", func() bool {
		pids = childrenRunning(spare, "/corral-runc\x00standby\x00")
		return len(pids) == 1
	})
	return pids[0]
}

// childrenRunning are the children of ppid whose command line ends in
// tail.
func childrenRunning(ppid int, tail string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + ent.Name() + "/stat")
		i := bytes.LastIndexByte(stat, ')')
		if err != nil || i < 0 {
			continue
		}
		f := bytes.Fields(stat[i+1:])
		cmd, _ := os.ReadFile("/proc/" + ent.Name() + "/cmdline")
		if len(f) > 1 && string(f[1]) == strconv.Itoa(ppid) && bytes.HasSuffix(cmd, []byte(tail)) {
			pids = append(pids, pid)
		}
	}
	return pids
}
