package snapshottest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/snapshot"
)

// testMountLayers writes a base layer through its mount, changes it in a
// child (new and modified files, deletions, a directory replaced), and
// checks what views and children of each see.
func testMountLayers(t *testing.T, s snapshot.Snapshotter) {
	target := mount(t, prepare(t, s, "base-active", ""))
	writeFiles(t, target, map[string]string{"etc/hostname": "base", "dir/keep": "k", "dir/gone": "g",
		"todelete": "t", "opaque/x": "x"})
	unmount(t, target)
	commit(t, s, "base", "base-active")

	target = mount(t, prepare(t, s, "l2-active", "base"))
	checkFiles(t, target, map[string]string{"etc/hostname": "base", "dir/keep": "k", "opaque/x": "x"})
	writeFiles(t, target, map[string]string{"new": "n", "etc/hostname": "l2"})
	for _, p := range []string{"todelete", "dir/gone", "opaque"} {
		if err := os.RemoveAll(filepath.Join(target, p)); err != nil {
			t.Fatal(err)
		}
	}
	writeFiles(t, target, map[string]string{"opaque/y": "y"})
	unmount(t, target)
	commit(t, s, "l2", "l2-active")

	want := map[string]string{"etc/hostname": "l2", "new": "n", "todelete": "<absent>", "dir/gone": "<absent>",
		"dir/keep": "k", "opaque/x": "<absent>", "opaque/y": "y"}
	checkFiles(t, mount(t, view(t, s, "view-l2", "l2")), want)
	checkFiles(t, mount(t, prepare(t, s, "l3", "l2")), want)
	checkFiles(t, mount(t, view(t, s, "view-base", "base")), map[string]string{"etc/hostname": "base",
		"todelete": "t", "dir/gone": "g", "opaque/x": "x", "opaque/y": "<absent>", "new": "<absent>"})
}

// testViewsReadOnly: views of no, one and two layers refuse writes.
func testViewsReadOnly(t *testing.T, s snapshot.Snapshotter) {
	layer(t, s, "base", "", map[string]string{"f": "1"})
	layer(t, s, "top", "base", map[string]string{"g": "2"})
	for _, parent := range []string{"", "base", "top"} {
		target := mount(t, view(t, s, "view-"+parent, parent))
		err := os.WriteFile(filepath.Join(target, "new"), nil, 0o644)
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("view of %q: create: %v, want EROFS", parent, err)
		}
		if parent == "" {
			continue
		}
		if err := os.Remove(filepath.Join(target, "f")); !errors.Is(err, syscall.EROFS) {
			t.Errorf("view of %q: remove: %v, want EROFS", parent, err)
		}
	}
}

// testUnpackIntoUpper writes a layer as image unpacking does: straight
// into the writable dir of an unmounted child, with overlay's whiteout (a
// 0:0 character device) and opaque directory (trusted.overlay.opaque=y).
func testUnpackIntoUpper(t *testing.T, s snapshot.Snapshotter) {
	layer(t, s, "base", "", map[string]string{"gone": "g", "keep": "k", "opq/old": "o"})
	upper := writable(t, prepare(t, s, "top-active", "base"))
	if err := unix.Mknod(filepath.Join(upper, "gone"), unix.S_IFCHR, 0); err != nil {
		t.Fatalf("whiteout: %v", err)
	}
	writeFiles(t, upper, map[string]string{"opq/new": "n"})
	if err := unix.Setxattr(filepath.Join(upper, "opq"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Fatalf("opaque dir: %v", err)
	}
	commit(t, s, "top", "top-active")
	checkFiles(t, mount(t, view(t, s, "view", "top")), map[string]string{
		"gone": "<absent>", "keep": "k", "opq/old": "<absent>", "opq/new": "n"})
}

// testManyLayers stacks 128 layers, more than the lower directories whose
// paths fit in the one page that mount(2) takes when they are long.
func testManyLayers(t *testing.T, s snapshot.Snapshotter) {
	const n = 128
	parent := ""
	for i := range n {
		name := fmt.Sprintf("layer-%d", i)
		layer(t, s, name, parent, map[string]string{name: name, "top": name})
		parent = name
	}
	m := prepare(t, s, "container", parent)
	size := 0
	for _, o := range m[0].Options {
		size += len(o) + 1
	}
	t.Logf("%d layers: mount options of %d bytes", n, size)
	target := mount(t, m)
	want := map[string]string{"top": fmt.Sprintf("layer-%d", n-1)}
	for i := range n {
		want[fmt.Sprintf("layer-%d", i)] = fmt.Sprintf("layer-%d", i)
	}
	checkFiles(t, target, want)
	writeFiles(t, target, map[string]string{"layer-0": "changed"})
	checkFiles(t, target, map[string]string{"layer-0": "changed"})
}
