package snapshottest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/snapshot"
)

func testPrepareCommitStat(t *testing.T, s snapshot.Snapshotter) {
	prepare(t, s, "base-active", "")
	info := stat(t, s, "base-active")
	if info.Key != "base-active" || info.Kind != snapshot.KindActive || info.Parent != "" || info.Created.IsZero() {
		t.Fatalf("Stat of an active snapshot: %+v", info)
	}
	commit(t, s, "base", "base-active")
	if _, err := s.Stat(ctx, "base-active"); !errdefs.IsNotFound(err) {
		t.Fatalf("Stat of the committed active key: %v, want ErrNotFound", err)
	}
	if info := stat(t, s, "base"); info.Kind != snapshot.KindCommitted || info.Parent != "" {
		t.Fatalf("Stat of a committed snapshot: %+v", info)
	}
	prepare(t, s, "child", "base")
	view(t, s, "view", "base")
	if info := stat(t, s, "child"); info.Kind != snapshot.KindActive || info.Parent != "base" {
		t.Fatalf("Stat of a child: %+v", info)
	}
	if info := stat(t, s, "view"); info.Kind != snapshot.KindView || info.Parent != "base" {
		t.Fatalf("Stat of a view: %+v", info)
	}
	if _, err := s.Mounts(ctx, "child"); err != nil {
		t.Fatalf("Mounts of an active snapshot: %v", err)
	}
	if _, err := s.Mounts(ctx, "view"); err != nil {
		t.Fatalf("Mounts of a view: %v", err)
	}
}

// testLabels: Prepare's labels show in Stat; Commit keeps them and adds
// its own.
func testLabels(t *testing.T, s snapshot.Snapshotter) {
	prepare(t, s, "a", "", snapshot.WithLabels(map[string]string{"one": "1"}))
	if l := stat(t, s, "a").Labels; l["one"] != "1" {
		t.Fatalf("labels after Prepare: %v", l)
	}
	commit(t, s, "A", "a", snapshot.WithLabels(map[string]string{"two": "2"}))
	if l := stat(t, s, "A").Labels; l["one"] != "1" || l["two"] != "2" {
		t.Fatalf("labels after Commit: %v, want one=1 two=2", l)
	}
}

// checkClass fails unless err is of class.
func checkClass(t *testing.T, what string, err, class error) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Errorf("%s: %v, want %v", what, err, class)
	}
}

func testErrors(t *testing.T, s snapshot.Snapshotter) {
	layer(t, s, "base", "", nil)
	prepare(t, s, "active", "base")
	view(t, s, "view", "base")
	_, err := s.Stat(ctx, "missing")
	checkClass(t, "Stat of a missing key", err, errdefs.ErrNotFound)
	_, err = s.Prepare(ctx, "active", "base")
	checkClass(t, "Prepare of an active key", err, errdefs.ErrAlreadyExists)
	_, err = s.Prepare(ctx, "base", "")
	checkClass(t, "Prepare of a committed key", err, errdefs.ErrAlreadyExists)
	_, err = s.View(ctx, "view", "base")
	checkClass(t, "View of a view key", err, errdefs.ErrAlreadyExists)
	_, err = s.Prepare(ctx, "orphan", "missing")
	checkClass(t, "Prepare on a missing parent", err, errdefs.ErrNotFound)
	_, err = s.Prepare(ctx, "on-active", "active")
	checkClass(t, "Prepare on an active parent", err, errdefs.ErrInvalidArgument)
	_, err = s.View(ctx, "on-view", "view")
	checkClass(t, "View of a view", err, errdefs.ErrInvalidArgument)
	_, err = s.Prepare(ctx, "", "")
	checkClass(t, "Prepare of an empty key", err, errdefs.ErrInvalidArgument)
	_, err = s.Mounts(ctx, "base")
	checkClass(t, "Mounts of a committed snapshot", err, errdefs.ErrInvalidArgument)
	_, err = s.Mounts(ctx, "missing")
	checkClass(t, "Mounts of a missing key", err, errdefs.ErrNotFound)
	_, err = s.Usage(ctx, "missing")
	checkClass(t, "Usage of a missing key", err, errdefs.ErrNotFound)
	checkClass(t, "Remove of a missing key", s.Remove(ctx, "missing"), errdefs.ErrNotFound)
	for _, key := range []string{"on-active", "on-view", "orphan"} {
		if _, err := s.Stat(ctx, key); !errdefs.IsNotFound(err) {
			t.Errorf("a failed Prepare left %s: %v", key, err)
		}
	}
}

func testCommitErrors(t *testing.T, s snapshot.Snapshotter) {
	layer(t, s, "base", "", nil)
	prepare(t, s, "active", "base")
	view(t, s, "view", "base")
	checkClass(t, "Commit of a missing key", s.Commit(ctx, "x", "missing"), errdefs.ErrNotFound)
	checkClass(t, "Commit to a taken name", s.Commit(ctx, "base", "active"), errdefs.ErrAlreadyExists)
	checkClass(t, "Commit of a view", s.Commit(ctx, "v", "view"), errdefs.ErrInvalidArgument)
	checkClass(t, "Commit of a committed snapshot", s.Commit(ctx, "b2", "base"), errdefs.ErrInvalidArgument)
	if info := stat(t, s, "active"); info.Kind != snapshot.KindActive {
		t.Fatalf("a failed Commit changed the active snapshot: %+v", info)
	}
	commit(t, s, "top", "active")
	if info := stat(t, s, "top"); info.Parent != "base" {
		t.Fatalf("committed child: %+v, want parent base", info)
	}
}

// testRemoveRules: a snapshot with children (active, view or committed)
// cannot be removed; without them it can, and its key is free again.
func testRemoveRules(t *testing.T, s snapshot.Snapshotter) {
	layer(t, s, "base", "", map[string]string{"f": "base"})
	layer(t, s, "mid", "base", nil)
	prepare(t, s, "active", "mid")
	view(t, s, "view", "base")
	checkClass(t, "Remove of a parent of a committed child", s.Remove(ctx, "base"), errdefs.ErrConflict)
	checkClass(t, "Remove of a parent of an active child", s.Remove(ctx, "mid"), errdefs.ErrConflict)
	for _, key := range []string{"active", "mid"} {
		if err := s.Remove(ctx, key); err != nil {
			t.Fatalf("Remove(%s): %v", key, err)
		}
	}
	checkClass(t, "Remove of a parent of a view", s.Remove(ctx, "base"), errdefs.ErrConflict)
	for _, key := range []string{"view", "base"} {
		if err := s.Remove(ctx, key); err != nil {
			t.Fatalf("Remove(%s): %v", key, err)
		}
	}
	checkWalk(t, s, nil)
	layer(t, s, "base", "", map[string]string{"f": "again"})
	if info := stat(t, s, "base"); info.Kind != snapshot.KindCommitted {
		t.Fatalf("re-created base: %+v", info)
	}
}

func testWalk(t *testing.T, s snapshot.Snapshotter) {
	layer(t, s, "base", "", nil)
	layer(t, s, "top", "base", nil)
	prepare(t, s, "active", "top")
	view(t, s, "view", "base")
	checkWalk(t, s, map[string]string{
		"base": "committed/", "top": "committed/base", "active": "active/top", "view": "view/base",
	})
	stop := errors.New("stop")
	calls := 0
	err := s.Walk(ctx, func(snapshot.Info) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Walk = %v after %d calls, want the callback's error after 1", err, calls)
	}
}

// checkWalk fails unless Walk reports exactly want: key → "kind/parent".
func checkWalk(t *testing.T, s snapshot.Snapshotter, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	err := s.Walk(ctx, func(i snapshot.Info) error {
		got[i.Key] = i.Kind.String() + "/" + i.Parent
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Walk found %v, want %v", got, want)
	}
}

// testWritableDir: active snapshots have a writable dir of their own,
// views none.
func testWritableDir(t *testing.T, s snapshot.Snapshotter) {
	base := writable(t, prepare(t, s, "base-active", ""))
	commit(t, s, "base", "base-active")
	child := writable(t, prepare(t, s, "child", "base"))
	if child == base {
		t.Fatalf("child and parent share the writable dir %s", child)
	}
	for _, parent := range []string{"", "base"} {
		m := view(t, s, "view-"+parent, parent)
		if dir, err := snapshot.WritableDir(m); err == nil {
			t.Errorf("view of %q has writable dir %s", parent, dir)
		}
	}
}

func testUsage(t *testing.T, s snapshot.Snapshotter) {
	dir := writable(t, prepare(t, s, "a", ""))
	big := make([]byte, 256<<10)
	for i := range big {
		big[i] = byte(i)
	}
	writeFiles(t, dir, map[string]string{"d/big": string(big), "small": "x"})
	if err := os.Link(filepath.Join(dir, "d/big"), filepath.Join(dir, "big-link")); err != nil {
		t.Fatal(err)
	}
	check := func(key string) {
		t.Helper()
		u, err := s.Usage(ctx, key)
		if err != nil {
			t.Fatalf("Usage(%s): %v", key, err)
		}
		// d, d/big (= big-link), small.
		if u.Inodes != 3 || u.Size < int64(len(big)) || u.Size >= 2*int64(len(big)) {
			t.Fatalf("Usage(%s) = %+v, want 3 inodes and one copy of %d bytes", key, u, len(big))
		}
	}
	check("a")
	commit(t, s, "A", "a")
	check("A")
	prepare(t, s, "child", "A")
	if u, err := s.Usage(ctx, "child"); err != nil || u.Inodes != 0 {
		t.Fatalf("Usage of an empty child = %+v, %v; want 0 inodes (parents not counted)", u, err)
	}
}

// testConcurrentPrepare: goroutines preparing distinct keys all succeed;
// on one key exactly one does.
func testConcurrentPrepare(t *testing.T, s snapshot.Snapshotter) {
	layer(t, s, "base", "", nil)
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, 2*n)
	for i := range n {
		wg.Go(func() { _, errs[i] = s.Prepare(ctx, fmt.Sprintf("k%d", i), "base") })
		wg.Go(func() { _, errs[n+i] = s.Prepare(ctx, "same", "base") })
	}
	wg.Wait()
	same := 0
	for i, err := range errs {
		switch {
		case i >= n && err == nil:
			same++
		case i >= n && errdefs.IsAlreadyExists(err):
		case err != nil:
			t.Errorf("Prepare %d: %v", i, err)
		}
	}
	if same != 1 {
		t.Errorf("%d Prepare calls of one key succeeded, want 1", same)
	}
	seen := map[string]bool{}
	for i := range n {
		dir := writable(t, mustMounts(t, s, fmt.Sprintf("k%d", i)))
		if seen[dir] {
			t.Fatalf("two snapshots share %s", dir)
		}
		seen[dir] = true
	}
}

func mustMounts(t *testing.T, s snapshot.Snapshotter, key string) []snapshot.Mount {
	t.Helper()
	m, err := s.Mounts(ctx, key)
	if err != nil {
		t.Fatalf("Mounts(%s): %v", key, err)
	}
	return m
}
