// Package snapshottest is the conformance suite of snapshot.Snapshotter:
// every implementation runs Run in its tests. Without root it checks the
// metadata rules (kinds, parents, labels, error classes, remove conflicts,
// walk) and usage, writing into snapshots through snapshot.WritableDir as
// image unpacking does. As root it also mounts snapshots with
// snapshot.MountAll and checks what a container sees: files of committed
// parents, deletions and opaque directories of children hiding lower files,
// read-only views, and a stack of 128 layers. Mounting tests belong in a
// throwaway mount namespace: call Run from a package whose TestMain uses
// testutil.Sandbox.
package snapshottest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/corral-dev/corral/snapshot"
)

// Run runs the suite; newSnapshotter returns an empty snapshotter whose
// resources the test's Cleanup releases.
func Run(t *testing.T, newSnapshotter func(t *testing.T) snapshot.Snapshotter) {
	tests := []struct {
		name  string
		mount bool // needs root to mount
		fn    func(t *testing.T, s snapshot.Snapshotter)
	}{
		{"PrepareCommitStat", false, testPrepareCommitStat},
		{"Labels", false, testLabels},
		{"Errors", false, testErrors},
		{"CommitErrors", false, testCommitErrors},
		{"RemoveRules", false, testRemoveRules},
		{"Walk", false, testWalk},
		{"WritableDir", false, testWritableDir},
		{"Usage", false, testUsage},
		{"ConcurrentPrepare", false, testConcurrentPrepare},
		{"MountLayers", true, testMountLayers},
		{"ViewsReadOnly", true, testViewsReadOnly},
		{"UnpackIntoUpper", true, testUnpackIntoUpper},
		{"ManyLayers", true, testManyLayers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.mount && os.Geteuid() != 0 {
				t.Skip("mounts snapshots: needs root")
			}
			t.Parallel()
			tt.fn(t, newSnapshotter(t))
		})
	}
}

var ctx = context.Background()

// prepare creates active snapshot key on parent.
func prepare(t *testing.T, s snapshot.Snapshotter, key, parent string, opts ...snapshot.Opt) []snapshot.Mount {
	t.Helper()
	m, err := s.Prepare(ctx, key, parent, opts...)
	if err != nil {
		t.Fatalf("Prepare(%q, %q): %v", key, parent, err)
	}
	if len(m) == 0 {
		t.Fatalf("Prepare(%q, %q): no mounts", key, parent)
	}
	return m
}

func view(t *testing.T, s snapshot.Snapshotter, key, parent string) []snapshot.Mount {
	t.Helper()
	m, err := s.View(ctx, key, parent)
	if err != nil {
		t.Fatalf("View(%q, %q): %v", key, parent, err)
	}
	return m
}

func commit(t *testing.T, s snapshot.Snapshotter, name, key string, opts ...snapshot.Opt) {
	t.Helper()
	if err := s.Commit(ctx, name, key, opts...); err != nil {
		t.Fatalf("Commit(%q, %q): %v", name, key, err)
	}
}

func stat(t *testing.T, s snapshot.Snapshotter, key string) snapshot.Info {
	t.Helper()
	info, err := s.Stat(ctx, key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	return info
}

// layer prepares key on parent, writes files (path → content; "" content
// makes a directory) into its writable dir and commits it as name.
func layer(t *testing.T, s snapshot.Snapshotter, name, parent string, files map[string]string) {
	t.Helper()
	key := name + "-active"
	writeFiles(t, writable(t, prepare(t, s, key, parent)), files)
	commit(t, s, name, key)
}

func writable(t *testing.T, mounts []snapshot.Mount) string {
	t.Helper()
	dir, err := snapshot.WritableDir(mounts)
	if err != nil {
		t.Fatalf("WritableDir(%+v): %v", mounts, err)
	}
	return dir
}

// writeFiles creates files (path → content) under root; a path ending in
// "/" is a directory.
func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(root, name)
		if name[len(name)-1] == '/' {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkFiles fails unless root holds files (path → content; a missing
// path maps to "<absent>", a directory to "/").
func checkFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, want := range files {
		p := filepath.Join(root, name)
		got := "<absent>"
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			got = "/"
		} else if b, err := os.ReadFile(p); err == nil {
			got = string(b)
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("read %s: %v", name, err)
		}
		if got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

// mount mounts mounts at a new directory that the test's Cleanup unmounts.
func mount(t *testing.T, mounts []snapshot.Mount) string {
	t.Helper()
	target := t.TempDir()
	if err := snapshot.MountAll(mounts, target); err != nil {
		t.Fatalf("MountAll: %v", err)
	}
	t.Cleanup(func() { unmount(t, target) })
	return target
}

func unmount(t *testing.T, target string) {
	t.Helper()
	if err := snapshot.UnmountAll(target); err != nil {
		t.Errorf("UnmountAll: %v", err)
	}
}
