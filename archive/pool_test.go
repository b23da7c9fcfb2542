package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/corral-dev/corral/testutil"
)

// orderCases are layers whose later entries replace, or depend on, earlier
// ones: with workers creating files while Apply reads on, the result must
// still be that of applying the entries one at a time in tar order.
func orderCases() map[string][]ent {
	many := []ent{dirE("m/", 0o755)}
	for i := range 300 {
		many = append(many, fileE(fmt.Sprintf("m/f%03d", i), strings.Repeat("x", i*37), 0o644))
	}
	for i := 0; i < 300; i += 7 {
		many = append(many, fileE(fmt.Sprintf("m/f%03d", i), "again", 0o600),
			linkE(fmt.Sprintf("m/h%03d", i), fmt.Sprintf("m/f%03d", (i+3)%300)))
	}
	dirFiles := []ent{dirE("d/", 0o755)}
	for i := range 50 {
		dirFiles = append(dirFiles, fileE(fmt.Sprintf("d/f%d", i), "in d", 0o644))
	}
	return map[string][]ent{
		"file-then-file":    {fileE("f", "first", 0o644), fileE("f", "second", 0o600)},
		"file-then-dir":     {fileE("x", "file", 0o644), dirE("x/", 0o700), fileE("x/y", "in dir", 0o644)},
		"file-then-symlink": {fileE("x", "file", 0o644), symlinkE("x", "target")},
		"symlink-then-file": {symlinkE("x", "/etc/passwd"), fileE("x", "file", 0o644)},
		"dir-then-file":     append(dirFiles, fileE("d", "now a file", 0o644)),
		"hardlink-to-file":  {fileE("f", "linked", 0o644), linkE("h", "f"), linkE("h2", "h")},
		"file-through-symlink": {dirE("d/", 0o755), symlinkE("l", "d"), fileE("l/f", "via link", 0o644),
			fileE("d/f", "direct", 0o600)},
		"symlink-chain": {dirE("d/", 0o755), dirE("d/x/", 0o755), symlinkE("l2", "d"), symlinkE("l1", "l2/x"),
			fileE("l1/f", "through two links", 0o644)},
		"symlink-then-parent": {symlinkE("s", "real"), dirE("real/", 0o755), fileE("s/f", "in real", 0o644)},
		"file-as-parent":      {fileE("p", "file", 0o644), fileE("p/child", "x", 0o644)},
		"own-whiteout":        {fileE("a", "mine", 0o644), fileE(".wh.a", "", 0)},
		"many":                many,
	}
}

// TestApplyWorkersOrder applies each order case with one worker and with
// several: the trees (and the success or failure) must be the same.
func TestApplyWorkersOrder(t *testing.T) {
	for name, ents := range orderCases() {
		t.Run(name, func(t *testing.T) {
			data := mkTar(t, ents...)
			var trees [2]map[string]fileState
			var errs [2]error
			for i, workers := range []int{1, 8} {
				dir := t.TempDir()
				opts := plain
				opts.Workers = workers
				errs[i] = applyTar(t, dir, data, opts)
				trees[i] = tree(t, dir)
			}
			if (errs[0] == nil) != (errs[1] == nil) {
				t.Fatalf("one worker: %v; eight: %v", errs[0], errs[1])
			}
			t.Logf("Apply: %v", errs[1])
			diffTrees(t, trees[0], trees[1])
		})
	}
}

func TestApplyWorkersResults(t *testing.T) {
	dir := t.TempDir()
	ents := append(orderCases()["many"], orderCases()["hardlink-to-file"]...)
	mustApply(t, dir, mkTar(t, ents...), plain)
	got := tree(t, dir)
	if s := got["h"]; s.Link != "=>f" && got["f"].Link != "=>h" {
		t.Errorf("h and f are not one file: %v / %v", s, got["f"])
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "h2")); string(b) != "linked" {
		t.Errorf("h2 holds %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "m/f007")); string(b) != "again" {
		t.Errorf("m/f007 holds %q, want the later entry's data", b)
	}
	if fi, err := os.Stat(filepath.Join(dir, "m/f007")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("m/f007: %v %v", fi, err)
	}
	if s := got["m"]; s.Mtime != testTime.Unix() {
		t.Errorf("directory m has mtime %d, want %d (set after its files)", s.Mtime, testTime.Unix())
	}
}

// TestApplyWorkerError makes a worker fail (a file capability the kernel
// refuses): Apply returns that error, naming the file, and leaves no
// worker running.
func TestApplyWorkerError(t *testing.T) {
	testutil.RequireRoot(t)
	bad := fileE("bin/bad", "x", 0o755)
	bad.hdr.PAXRecords = map[string]string{paxXattr + "security.capability": "not a capability"}
	ents := []ent{dirE("bin/", 0o755)}
	for i := range 100 {
		ents = append(ents, fileE(fmt.Sprintf("bin/f%d", i), "ok", 0o644))
	}
	ents = append(ents, bad)
	for i := range 100 {
		ents = append(ents, fileE(fmt.Sprintf("bin/g%d", i), "ok", 0o644))
	}
	before := runtime.NumGoroutine()
	err := applyTar(t, t.TempDir(), mkTar(t, ents...), ApplyOptions{Whiteouts: RemoveWhiteouts, Workers: 8})
	if err == nil || !strings.Contains(err.Error(), "bin/bad") {
		t.Fatalf("Apply: %v; want the error of bin/bad", err)
	}
	t.Logf("Apply: %v", err)
	noMoreGoroutines(t, before)
}

// noMoreGoroutines fails the test unless the goroutines are back to
// before within a few seconds.
func noMoreGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Apply, %d before", n, before)
	}
}

// TestApplyWorkersCanceled cancels Apply while workers have files in
// flight: it returns, with no worker left.
func TestApplyWorkersCanceled(t *testing.T) {
	var ents []ent
	for i := range 2000 {
		ents = append(ents, fileE(fmt.Sprintf("f%d", i), "data", 0o644))
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &cancelAfter{r: bytes.NewReader(mkTar(t, ents...)), n: 200 << 10, cancel: cancel}
	before := runtime.NumGoroutine()
	_, err := Apply(ctx, t.TempDir(), r, ApplyOptions{Whiteouts: RemoveWhiteouts, NoLchown: true, Workers: 8})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply: %v; want context.Canceled", err)
	}
	noMoreGoroutines(t, before)
}

// cancelAfter reads r and cancels once n bytes are read.
type cancelAfter struct {
	r      *bytes.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if len(p) > 4096 {
		p = p[:4096]
	}
	n, err := c.r.Read(p)
	if c.n -= n; c.n <= 0 {
		c.cancel()
	}
	return n, err
}

// TestPoolFirstError checks the pool alone: the first error of a job is
// what drain and later submits return, and later jobs do not run.
func TestPoolFirstError(t *testing.T) {
	p := newPool(2)
	defer p.close()
	boom := errors.New("boom")
	ran := make(chan int, 10)
	if err := p.submit(job{key: entryKey{name: "a"}, run: func() error { return boom }}); err != nil {
		t.Fatal(err)
	}
	if err := p.drain(); !errors.Is(err, boom) {
		t.Fatalf("drain: %v", err)
	}
	err := p.submit(job{key: entryKey{name: "b"}, run: func() error { ran <- 1; return nil }})
	if !errors.Is(err, boom) {
		t.Fatalf("submit after a failure: %v", err)
	}
	if len(ran) != 0 {
		t.Error("a job ran after a failure")
	}
	if p.busy(entryKey{name: "a"}) {
		t.Error("failed job still pending")
	}
}

// TestPoolBusy checks that a key is busy while its job runs.
func TestPoolBusy(t *testing.T) {
	p := newPool(1)
	defer p.close()
	release := make(chan struct{})
	k := entryKey{dev: 1, ino: 2, name: "f"}
	if err := p.submit(job{key: k, size: 10, run: func() error { <-release; return nil }}); err != nil {
		t.Fatal(err)
	}
	if !p.busy(k) || p.busy(entryKey{dev: 1, ino: 3, name: "f"}) {
		t.Error("busy is wrong while the job runs")
	}
	close(release)
	if err := p.drain(); err != nil {
		t.Fatal(err)
	}
	if p.busy(k) {
		t.Error("busy after drain")
	}
}

// TestApplyWorkersOverlay applies an overlay layer (whiteouts, opaque
// directories) with workers: the same tree as with one.
func TestApplyWorkersOverlay(t *testing.T) {
	testutil.RequireRoot(t)
	data := mkTar(t, dirE("etc/", 0o755), fileE("etc/a", "a", 0o644), fileE("etc/.wh.gone", "", 0),
		dirE("opq/", 0o700), fileE("opq/.wh..wh..opq", "", 0), fileE("opq/new", "n", 0o644),
		symlinkE("etc/l", "a"), fileE("etc/a", "a2", 0o644), linkE("etc/h", "etc/a"))
	var trees [2]map[string]fileState
	for i, workers := range []int{1, 8} {
		dir := t.TempDir()
		mustApply(t, dir, data, ApplyOptions{Whiteouts: OverlayWhiteouts, Workers: workers})
		trees[i] = tree(t, dir)
	}
	diffTrees(t, trees[0], trees[1])
	if s := trees[1]["etc/gone"]; s.Mode&os.ModeCharDevice == 0 {
		t.Errorf("etc/gone is %v, want a whiteout", s)
	}
}
