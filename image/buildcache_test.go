package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/corral-dev/corral/image"
	"github.com/corral-dev/corral/snapshot"
	"github.com/corral-dev/corral/testutil"
	"github.com/opencontainers/go-digest"
)

// TestCommitLayerAndScratch is what the builder does: a COPY layer given
// as a tar over scratch, then one over that image that names a file below
// a directory it does not list (which keeps the lower layer's mode); the
// cache survives a reopen and forgets removed images.
func TestCommitLayerAndScratch(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	s, root := openStore(t, nil)
	first, err := s.Commit(ctx, image.CommitOptions{Layer: bytes.NewReader(layerOf(t,
		tar.Header{Name: "opt/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 7},
		tar.Header{Name: "opt/a", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "a"})),
		Config: image.ContainerConfig{Env: []string{"A=1"}}, CreatedBy: "COPY a /opt/"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.Commit(ctx, image.CommitOptions{Parent: first.ID.String(), Layer: bytes.NewReader(layerOf(t,
		tar.Header{Name: "opt/sub/b", Typeflag: tar.TypeReg, Mode: 0o600, Linkname: "b"})), CreatedBy: "COPY b /opt/sub/"})
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.Inspect(ctx, second.ID.String())
	if err != nil || len(in.RootFS.Layers) != 2 || in.Parent != first.ID.String() {
		t.Fatalf("inspect: %+v, %v", in, err)
	}
	hist, err := s.History(ctx, second.ID.String())
	if err != nil || len(hist) != 2 || hist[0].CreatedBy != "COPY b /opt/sub/" {
		t.Errorf("history %+v, %v", hist, err)
	}
	top := viewOf(t, s, in.RootFS.Layers)
	if fi, err := os.Stat(filepath.Join(top, "opt")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("opt in the new layer: %v, %v (want the first layer's 0700)", fi, err)
	}
	if b, err := os.ReadFile(filepath.Join(top, "opt/sub/b")); err != nil || string(b) != "b" {
		t.Errorf("opt/sub/b: %q, %v", b, err)
	}
	if err := s.CachePut("k", second.ID); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := image.Open(ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got, ok, err := s2.CacheGet(ctx, "k"); err != nil || !ok || got.ID != second.ID {
		t.Errorf("cache after reopen: %v %v %v", got.ID, ok, err)
	}
	if _, ok, _ := s2.CacheGet(ctx, "other"); ok {
		t.Error("an unknown key hit")
	}
	if _, err := s2.Remove(ctx, second.ID.String(), true); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s2.CacheGet(ctx, "k"); ok {
		t.Error("a removed image still hits the cache")
	}
}

// viewOf mounts a read-only view of the layers (diff IDs) for the test.
func viewOf(t *testing.T, s *image.Store, layers []string) string {
	t.Helper()
	var diffs []digest.Digest
	for _, l := range layers {
		diffs = append(diffs, digest.Digest(l))
	}
	chain := image.ChainIDs(diffs)
	key := "view-" + testutil.UniqueName(t)
	mounts, err := s.Snapshotter().View(context.Background(), key, chain[len(chain)-1].String())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := snapshot.MountAll(mounts, dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = snapshot.UnmountAll(dir)
		_ = s.Snapshotter().Remove(context.Background(), key)
	})
	return dir
}
