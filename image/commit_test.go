package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/corral-dev/corral/archive"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/image"
	"github.com/corral-dev/corral/snapshot"
	"github.com/corral-dev/corral/testutil"
)

// container is a writable snapshot over an image, as the daemon makes one
// for a container, changed through its overlay mount by change.
type container struct {
	upper  string
	lowers []string
}

func newContainer(t *testing.T, s *image.Store, ref string, change func(root string)) container {
	t.Helper()
	ctx := context.Background()
	img, err := s.Inspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	var diffs []digest.Digest
	for _, l := range img.RootFS.Layers {
		diffs = append(diffs, digest.Digest(l))
	}
	chain := image.ChainIDs(diffs)
	key := "container-" + testutil.UniqueName(t)
	mounts, err := s.Snapshotter().Prepare(ctx, key, chain[len(chain)-1].String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Snapshotter().Remove(context.Background(), key) })
	root := t.TempDir()
	if err := snapshot.MountAll(mounts, root); err != nil {
		t.Fatal(err)
	}
	change(root)
	if err := snapshot.UnmountAll(root); err != nil {
		t.Fatal(err)
	}
	upper, err := snapshot.WritableDir(mounts)
	if err != nil {
		t.Fatal(err)
	}
	c := container{upper: upper}
	for _, o := range mounts[0].Options {
		if v, ok := strings.CutPrefix(o, "lowerdir="); ok {
			c.lowers = strings.Split(v, ":")
		}
	}
	return c
}

func TestCommit(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	s, _ := openStore(t, nil)
	base := layerOf(t, tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		tar.Header{Name: "etc/a", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "a"},
		tar.Header{Name: "etc/b", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "b"})
	if _, err := s.Import(ctx, bytes.NewReader(base), image.ImportOptions{Ref: "base:1", Changes: []string{"ENV BASE=1"}}); err != nil {
		t.Fatal(err)
	}
	c := newContainer(t, s, "base:1", func(root string) {
		must(t, os.WriteFile(filepath.Join(root, "etc/a"), []byte("changed"), 0o644))
		must(t, os.Remove(filepath.Join(root, "etc/b")))
		must(t, os.MkdirAll(filepath.Join(root, "new"), 0o755))
		must(t, os.WriteFile(filepath.Join(root, "new/f"), []byte("f"), 0o600))
		must(t, os.WriteFile(filepath.Join(root, "etc/hosts"), nil, 0o644)) // a mount point
	})
	left, err := archive.Leftovers(c.upper, c.lowers, []string{"/etc/hosts"})
	if err != nil || !left["/etc/hosts"] {
		t.Fatalf("Leftovers = %v, %v", left, err)
	}
	ctrCfg := &image.ContainerConfig{Cmd: []string{"sh", "-c", "echo hi"}, Env: []string{"BASE=1"}}
	img, err := s.Commit(ctx, image.CommitOptions{Parent: "base:1", Upper: c.upper, Exclude: []string{"/etc/hosts"},
		Config: *ctrCfg, Changes: []string{`CMD ["/bin/true"]`, "ENV NEW=2"}, ContainerID: "c0ffee",
		ContainerConfig: ctrCfg, Author: "Tester <t@example.com>", Comment: "a commit", Ref: "committed:v1"})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if img.Name != "docker.io/library/committed:v1" {
		t.Errorf("name %q", img.Name)
	}
	checkCommitted(t, s, img)
}

// checkCommitted checks the image TestCommit made: its config, its layer
// blob and the snapshot of that layer.
func checkCommitted(t *testing.T, s *image.Store, img image.Image) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.GC(ctx); err != nil { // what the image needs is kept
		t.Fatal(err)
	}
	in, err := s.Inspect(ctx, "committed:v1")
	if err != nil {
		t.Fatal(err)
	}
	if len(in.RootFS.Layers) != 2 || in.Author != "Tester <t@example.com>" || !strings.HasPrefix(in.Parent, "sha256:") {
		t.Errorf("inspect: %+v", in)
	}
	if strings.Join(in.Config.Cmd, " ") != "/bin/true" || strings.Join(in.Config.Env, " ") != "BASE=1 NEW=2" {
		t.Errorf("config: %+v", in.Config)
	}
	hist, err := s.History(ctx, "committed:v1")
	if err != nil || len(hist) != 2 || hist[0].CreatedBy != "sh -c echo hi" || hist[0].Comment != "a commit" {
		t.Errorf("history: %+v, %v", hist, err)
	}
	// The layer holds the changes, not the mount point.
	chain := image.ChainIDs([]digest.Digest{digest.Digest(in.RootFS.Layers[0]), digest.Digest(in.RootFS.Layers[1])})
	names := layerNames(t, s, img, digest.Digest(in.RootFS.Layers[1]))
	if got := strings.Join(names, " "); got != "etc/ etc/.wh.b etc/a new/ new/f" {
		t.Errorf("layer entries: %s", got)
	}
	// Its snapshot is committed: a view of it is the container's tree.
	view := "view-" + testutil.UniqueName(t)
	mounts, err := s.Snapshotter().View(ctx, view, chain[1].String())
	if err != nil {
		t.Fatalf("view of the new layer: %v", err)
	}
	defer s.Snapshotter().Remove(ctx, view)
	root := t.TempDir()
	must(t, snapshot.MountAll(mounts, root))
	defer snapshot.UnmountAll(root)
	if b, err := os.ReadFile(filepath.Join(root, "etc/a")); err != nil || string(b) != "changed" {
		t.Errorf("etc/a = %q, %v", b, err)
	}
	for _, gone := range []string{"etc/b", "etc/hosts"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("%s is in the new image: %v", gone, err)
		}
	}
}

// layerNames lists the entries of the layer blob with diff ID diffID.
func layerNames(t *testing.T, s *image.Store, img image.Image, diffID digest.Digest) []string {
	t.Helper()
	ctx := context.Background()
	raw, err := content(ctx, s, img.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	var man struct {
		Layers []struct{ Digest digest.Digest }
	}
	must(t, json.Unmarshal(raw, &man))
	blob, err := content(ctx, s, man.Layers[len(man.Layers)-1].Digest)
	if err != nil {
		t.Fatal(err)
	}
	dr, _, err := archive.Decompress(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(dr)
	if got := digest.FromBytes(data); got != diffID {
		t.Errorf("layer digest %s, config says %s", got, diffID)
	}
	var names []string
	forEachMember(t, data, func(name string, _ []byte) { names = append(names, name) })
	sort.Strings(names)
	return names
}

func content(ctx context.Context, s *image.Store, d digest.Digest) ([]byte, error) {
	ra, err := s.Content().ReaderAt(ctx, d)
	if err != nil {
		return nil, err
	}
	defer ra.Close()
	return io.ReadAll(io.NewSectionReader(ra, 0, ra.Size()))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestCommitNothing commits a container that changed nothing: no layer
// is added, the history entry says so, and the image is dangling.
func TestCommitNothing(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	s, _ := openStore(t, nil)
	base := layerOf(t, tar.Header{Name: "f", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "x"})
	parent, err := s.Import(ctx, bytes.NewReader(base), image.ImportOptions{Ref: "base:1"})
	if err != nil {
		t.Fatal(err)
	}
	c := newContainer(t, s, "base:1", func(string) {})
	img, err := s.Commit(ctx, image.CommitOptions{Parent: parent.ID.String(), Upper: c.upper})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	in, err := s.Inspect(ctx, img.ID.String())
	if err != nil || len(in.RootFS.Layers) != 1 || len(in.RepoTags) != 0 || in.ID == parent.ID.String() {
		t.Errorf("empty commit: %+v, %v", in, err)
	}
	if _, err := s.Commit(ctx, image.CommitOptions{Parent: "nosuch", Upper: c.upper}); !errdefs.IsNotFound(err) {
		t.Errorf("commit of an unknown parent: %v", err)
	}
	if _, err := s.Commit(ctx, image.CommitOptions{Parent: "base:1", Upper: c.upper, Ref: "x@sha256:" + strings.Repeat("a", 64)}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("commit to a digest: %v", err)
	}
}
