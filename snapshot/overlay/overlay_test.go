package overlay_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/snapshot"
	"github.com/corral-dev/corral/snapshot/overlay"
	"github.com/corral-dev/corral/snapshot/snapshottest"
	"github.com/corral-dev/corral/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Sandbox(m)) }

var ctx = context.Background()

func newOverlay(t *testing.T, dir string) *overlay.Snapshotter {
	t.Helper()
	s, err := overlay.New(dir)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	if os.Geteuid() == 0 && !testutil.InSandbox() {
		t.Fatal("mounting tests must run in the sandbox (TestMain)")
	}
	snapshottest.Run(t, func(t *testing.T) snapshot.Snapshotter { return newOverlay(t, t.TempDir()) })
}

// TestLayout: directories are snapshots/<short id>/{fs,work}; the mounts
// name them, lowers nearest first, with index=off where the kernel has it.
func TestLayout(t *testing.T) {
	dir := t.TempDir()
	s := newOverlay(t, dir)
	if _, err := os.Stat(filepath.Join(dir, "metadata.db")); err != nil {
		t.Fatal(err)
	}
	m, _ := s.Prepare(ctx, "a", "")
	want := snapshot.Mount{Type: "bind", Source: filepath.Join(dir, "snapshots/1/fs"), Options: []string{"rbind", "rw"}}
	if len(m) != 1 || m[0].Type != want.Type || m[0].Source != want.Source || strings.Join(m[0].Options, ",") != "rbind,rw" {
		t.Fatalf("mounts of a base snapshot: %+v, want %+v", m, want)
	}
	s.Commit(ctx, "A", "a")
	s.Prepare(ctx, "b", "A")
	s.Commit(ctx, "B", "b")
	m, err := s.Prepare(ctx, "c", "B")
	if err != nil {
		t.Fatal(err)
	}
	opts := strings.Join(m[0].Options, ",")
	wantOpts := "lowerdir=" + dir + "/snapshots/2/fs:" + dir + "/snapshots/1/fs,upperdir=" + dir +
		"/snapshots/3/fs,workdir=" + dir + "/snapshots/3/work"
	if m[0].Type != "overlay" || !strings.HasSuffix(opts, wantOpts) {
		t.Fatalf("overlay options %q, want ...%q", opts, wantOpts)
	}
	if _, err := os.Stat("/sys/module/overlay/parameters/index"); err == nil && !strings.Contains(opts, "index=off") {
		t.Errorf("options %q lack index=off", opts)
	}
	if upper, _ := snapshot.WritableDir(m); upper != dir+"/snapshots/3/fs" {
		t.Errorf("WritableDir = %q", upper)
	}
}

// TestCommitKeepsData: Commit moves no file; the committed layer is the
// directory the active snapshot wrote into.
func TestCommitKeepsData(t *testing.T) {
	s := newOverlay(t, t.TempDir())
	m, _ := s.Prepare(ctx, "a", "")
	upper, _ := snapshot.WritableDir(m)
	os.WriteFile(filepath.Join(upper, "f"), []byte("x"), 0o644)
	before, _ := os.Stat(filepath.Join(upper, "f"))
	if err := s.Commit(ctx, "A", "a"); err != nil {
		t.Fatal(err)
	}
	v, _ := s.View(ctx, "v", "A")
	after, err := os.Stat(filepath.Join(v[0].Source, "f"))
	if err != nil || !os.SameFile(before, after) {
		t.Fatalf("view source %s: %v; want the active snapshot's own file", v[0].Source, err)
	}
}

// TestOrphansRemoved: what a crash leaves (a temporary dir of Prepare, a
// renamed dir whose transaction never committed, a dir whose record Remove
// deleted) goes when the snapshotter is opened; recorded ones stay, and the
// next Prepare can take the id of an uncommitted one.
func TestOrphansRemoved(t *testing.T) {
	dir := t.TempDir()
	s := newOverlay(t, dir)
	s.Prepare(ctx, "a", "")
	s.Close()
	orphans := []string{"new-123", "2", "77"}
	for _, o := range orphans {
		if err := os.MkdirAll(filepath.Join(dir, "snapshots", o, "fs", "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s = newOverlay(t, dir)
	for _, o := range orphans {
		if _, err := os.Stat(filepath.Join(dir, "snapshots", o)); !os.IsNotExist(err) {
			t.Errorf("orphan %s survived New: %v", o, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "snapshots", "1", "fs")); err != nil {
		t.Fatalf("recorded snapshot removed: %v", err)
	}
	m, err := s.Prepare(ctx, "b", "")
	if err != nil {
		t.Fatal(err)
	}
	if m[0].Source != filepath.Join(dir, "snapshots", "2", "fs") {
		t.Fatalf("next snapshot at %s, want id 2", m[0].Source)
	}
}

// TestTwoSnapshottersOneDir: two Snapshotters on one directory (as two
// processes would have) serialize through the database lock.
func TestTwoSnapshottersOneDir(t *testing.T) {
	dir := t.TempDir()
	a, b := newOverlay(t, dir), newOverlay(t, dir)
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range 10 {
		wg.Go(func() { _, errs[i] = a.Prepare(ctx, "a"+string(rune('0'+i)), "") })
		wg.Go(func() { _, errs[10+i] = b.Prepare(ctx, "b"+string(rune('0'+i)), "") })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Prepare %d: %v", i, err)
		}
	}
	n := 0
	a.Walk(ctx, func(snapshot.Info) error { n++; return nil })
	if n != 20 {
		t.Fatalf("Walk found %d snapshots, want 20", n)
	}
}

func TestBadDir(t *testing.T) {
	_, err := overlay.New(filepath.Join(t.TempDir(), "a:b"))
	if !errdefs.IsInvalidArgument(err) {
		t.Fatalf("New on a path with ':': %v, want ErrInvalidArgument", err)
	}
}

func TestClosed(t *testing.T) {
	s := newOverlay(t, t.TempDir())
	s.Close()
	if _, err := s.Prepare(ctx, "a", ""); err == nil {
		t.Fatal("Prepare after Close succeeded")
	}
}

func TestSupported(t *testing.T) {
	testutil.RequireRoot(t)
	if err := overlay.Supported(t.TempDir()); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkPrepareCommit times what unpacking adds per layer: Prepare on
// the previous layer, Commit, Stat.
func BenchmarkPrepareCommit(b *testing.B) {
	s, err := overlay.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	parent := ""
	for i := 0; b.Loop(); i++ {
		key, name := "active", "layer-"+strconv.Itoa(i)
		if _, err := s.Prepare(ctx, key, parent); err != nil {
			b.Fatal(err)
		}
		if err := s.Commit(ctx, name, key); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Stat(ctx, name); err != nil {
			b.Fatal(err)
		}
		parent = name
	}
}
