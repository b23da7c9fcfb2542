package cgroups

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corral-dev/corral/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Sandbox(m)) }

// TestDestroyTree runs Destroy on ordinary directories: it removes the
// container's tree depth-first, keeps the parent, and accepts missing dirs.
func TestDestroyTree(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "c1")
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "z"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := Load(map[string]string{"cpu": dir, "cpuacct": dir, "pids": filepath.Join(parent, "gone")})
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat %s after Destroy: %v", dir, err)
	}
	if _, err := os.Stat(parent); err != nil {
		t.Fatalf("parent removed: %v", err)
	}
}

// TestDestroyRefusesMountRoot checks Destroy never descends into a
// hierarchy root, whatever a saved state says. /proc is a mount root whose
// directories cannot be removed anyway.
func TestDestroyRefusesMountRoot(t *testing.T) {
	err := Load(map[string]string{"pids": "/proc"}).Destroy()
	if err == nil || !strings.Contains(err.Error(), "hierarchy root") {
		t.Fatalf("Destroy(/proc) = %v, want a refusal", err)
	}
}

// TestNewOwnCgroup resolves "" for an id on the running host: every key ends
// in the id, below the caller's own cgroup.
func TestNewOwnCgroup(t *testing.T) {
	m, err := New("", "abc")
	if err != nil {
		t.Fatal(err)
	}
	v1, unified, err := Layout()
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(v1)
	if unified != "" {
		want = append(want, UnifiedKey)
	}
	slices.Sort(want)
	paths := m.Paths()
	if got := slices.Sorted(maps.Keys(paths)); !slices.Equal(got, want) {
		t.Errorf("keys %q, want %q", got, want)
	}
	for k, dir := range paths {
		if filepath.Base(dir) != "abc" || !strings.HasPrefix(dir, "/") {
			t.Errorf("Paths()[%q] = %q, want an absolute path ending in abc", k, dir)
		}
	}
}

// newTestManager returns a Manager for a unique cgroup below the test
// process's own, removed (with anything in it) when the test ends.
func newTestManager(t *testing.T) *Manager {
	t.Helper()
	name := "corral-cgtest-" + randomSuffix(t)
	m, err := New(name, "unused")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupManager(t, m) })
	t.Logf("test cgroup on pids: %s", m.Paths()["pids"])
	return m
}

func cleanupManager(t *testing.T, m *Manager) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.KillAll(ctx); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	if err := m.Destroy(); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

func randomSuffix(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// sleeper is a `sleep 60` child process of the test. It is not reaped
// until reap (or wait) is called, so a killed sleeper stays a zombie as long
// as the test wants, as a container's init does until its runtime waits.
type sleeper struct {
	cmd  *exec.Cmd
	pid  int
	once sync.Once
	done chan struct{} // closed once reaped
	err  error         // Wait's result, valid after done
}

// startSleep starts `sleep 60`, killed and reaped when the test ends.
func startSleep(t *testing.T) *sleeper {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &sleeper{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		s.reap()
		<-s.done
	})
	return s
}

// reap starts waiting for the sleeper in the background.
func (s *sleeper) reap() {
	s.once.Do(func() {
		go func() { s.err = s.cmd.Wait(); close(s.done) }()
	})
}

// wait reaps the sleeper and returns how it ended, failing the test after 10
// seconds.
func (s *sleeper) wait(t *testing.T) error {
	t.Helper()
	s.reap()
	select {
	case <-s.done:
		return s.err
	case <-time.After(10 * time.Second):
		t.Fatalf("pid %d still running", s.pid)
		return nil
	}
}

// cgroupOf returns the pid's cgroup on hierarchy key, as the kernel says.
func cgroupOf(t *testing.T, pid int, key string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "cgroup"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	own, err := parseProcCgroup(f)
	if err != nil {
		t.Fatal(err)
	}
	return own[key]
}
