package archive

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corral-dev/corral/testutil"
	"golang.org/x/sys/unix"
)

// mountOverlay mounts an overlay of lowers (topmost first) on a new dir,
// with upper and a work dir when upper is not "", and unmounts it at the
// end of the test.
func mountOverlay(t *testing.T, upper string, lowers ...string) string {
	t.Helper()
	merged := t.TempDir()
	opts := "lowerdir=" + strings.Join(lowers, ":")
	if upper != "" {
		opts += ",upperdir=" + upper + ",workdir=" + t.TempDir()
	}
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatalf("mount overlay %s: %v", opts, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(merged, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", merged, err)
		}
	})
	return merged
}

// layerStack is two layers; the second deletes, hides, replaces and adds.
func layerStack(t *testing.T) [][]byte {
	base := mkTar(t, dirE("etc", 0o755), fileE("etc/a", "a", 0o644), fileE("etc/b", "b", 0o644),
		dirE("opq", 0o755), fileE("opq/old", "old", 0o644), dirE("opq/sub", 0o755), fileE("opq/sub/old", "o", 0o644),
		dirE("re", 0o755), fileE("re/old", "old", 0o644), fileE("tofile", "x", 0o644), dirE("merge", 0o755),
		fileE("merge/lower", "l", 0o644), dirE("tmp", 0o1777))
	top := mkTar(t, fileE("etc/.wh.a", "", 0), dirE("opq", 0o750), fileE("opq/.wh..wh..opq", "", 0),
		fileE("opq/new", "new", 0o644), fileE(".wh.re", "", 0), dirE("re", 0o700), fileE("re/new", "n", 0o644),
		fileE(".wh.tofile", "", 0), fileE("merge/upper", "u", 0o644), fileE("tmp/x", "x", 0o644))
	return [][]byte{base, top}
}

// TestOverlayMatchesFlat applies the same layers twice: as overlay upper
// dirs mounted together, and one after the other into a plain directory.
// The merged view and the plain directory must be the same tree: whiteouts
// and opaque dirs in overlay form mean what the deletions meant.
func TestOverlayMatchesFlat(t *testing.T) {
	testutil.RequireRoot(t)
	layers := layerStack(t)
	flat := t.TempDir()
	var uppers []string
	for _, l := range layers {
		mustApply(t, flat, l, ApplyOptions{Whiteouts: RemoveWhiteouts})
		dir := t.TempDir()
		mustApply(t, dir, l, ApplyOptions{Parents: reverse(uppers)})
		uppers = append(uppers, dir)
	}
	merged := mountOverlay(t, "", reverse(uppers)...)
	want, got := tree(t, flat), tree(t, merged)
	// Directories the top layer changes without listing them: applied flat
	// they get the time of the change, in an upper dir the lower's times.
	for _, p := range []string{"etc", "merge", "tmp"} {
		w := want[p]
		w.Mtime = got[p].Mtime
		want[p] = w
	}
	diffTrees(t, want, got)
	if _, ok := got["opq/sub"]; ok {
		t.Error("opq/sub visible through an opaque dir")
	}
}

func reverse(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// TestDiffOfOverlayChanges changes files through a real overlay mount, then
// applies Diff of its upper dir onto a plain copy of the lower layer: the
// result must be the merged view.
func TestDiffOfOverlayChanges(t *testing.T) {
	testutil.RequireRoot(t)
	base := layerStack(t)[0]
	lower, flat, upper := t.TempDir(), t.TempDir(), t.TempDir()
	mustApply(t, lower, base, ApplyOptions{})
	mustApply(t, flat, base, ApplyOptions{Whiteouts: RemoveWhiteouts})
	merged := mountOverlay(t, upper, lower)
	b := builder{t, merged}
	b.must(os.Remove(b.path("etc/a")))
	b.must(os.RemoveAll(b.path("opq")))
	b.mkdir("opq", 0o700)
	b.file("opq/new", "new", 0o600)
	b.file("etc/b", "changed", 0o640)
	b.must(os.Link(b.path("etc/b"), b.path("etc/b-link")))
	b.must(os.Chmod(b.path("tmp"), 0o1770))
	b.xattr("merge/lower", "user.x", "1")
	b.must(os.Symlink("/etc/b", b.path("merge/sym")))
	b.chown("re/old", 5, 6)
	want := tree(t, merged)
	var layer bytes.Buffer
	if err := Diff(context.Background(), upper, &layer, DiffOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("diff entries: %s", strings.Join(listTar(t, layer.Bytes()), ", "))
	mustApply(t, flat, layer.Bytes(), ApplyOptions{Whiteouts: RemoveWhiteouts})
	diffTrees(t, want, tree(t, flat))
	if _, err := os.Lstat(filepath.Join(flat, "opq/sub")); err == nil {
		t.Error("opq/sub survived the opaque dir")
	}
}
