package image_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/corral-dev/corral/archive"
	"github.com/corral-dev/corral/image"
	"github.com/corral-dev/corral/registry"
	"github.com/corral-dev/corral/registry/registrytest"
	"github.com/corral-dev/corral/snapshot"
	"github.com/corral-dev/corral/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Sandbox(m)) }

var _ image.Registry = (*registry.Client)(nil)

// openStore opens a store on a fresh root with the real content store and
// overlay snapshotter.
func openStore(t *testing.T, reg image.Registry) (*image.Store, string) {
	t.Helper()
	root := t.TempDir()
	s, err := image.Open(context.Background(), root, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, root
}

// busyboxTar is a tar of testutil's busybox root filesystem.
func busyboxTar(t *testing.T) (dir string, tarball []byte) {
	t.Helper()
	dir = testutil.BusyboxRootfs(t)
	var buf bytes.Buffer
	if err := archive.WriteDir(context.Background(), dir, &buf); err != nil {
		t.Fatal(err)
	}
	return dir, buf.Bytes()
}

// treeSum summarises a directory tree: every path with its type, mode and
// content digest or link target.
func treeSum(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += fmt.Sprintf(" %x", sha256.Sum256(b))
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			v += " -> " + l
		}
		out[rel] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mountImage mounts a read-only view of the image's top layer and returns
// its tree summary.
func mountImage(t *testing.T, s *image.Store, ref string) map[string]string {
	t.Helper()
	ctx := context.Background()
	info, err := s.Inspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	var diffs []digest.Digest
	for _, l := range info.RootFS.Layers {
		diffs = append(diffs, digest.Digest(l))
	}
	chain := image.ChainIDs(diffs)
	key := "view-" + testutil.UniqueName(t)
	mounts, err := s.Snapshotter().View(ctx, key, chain[len(chain)-1].String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Snapshotter().Remove(ctx, key)
	target := t.TempDir()
	if err := snapshot.MountAll(mounts, target); err != nil {
		t.Fatal(err)
	}
	defer snapshot.UnmountAll(target)
	return treeSum(t, target)
}

func sameTree(t *testing.T, got, want map[string]string) {
	t.Helper()
	for p, w := range want {
		if p == "." {
			continue
		}
		if got[p] != w {
			t.Errorf("%s: %q, want %q", p, got[p], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d paths, want %d", len(got), len(want))
	}
}

// TestImportPushPull: a busybox rootfs imported, pushed to the fake
// registry, pulled into a fresh store: same digests, same files.
func TestImportPushPull(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	dir, tarball := busyboxTar(t)
	fake := registrytest.New(t)
	client := registry.New(registry.Options{})
	ref := fake.Host() + "/corral/busybox:e2e"

	src, _ := openStore(t, client)
	imported, err := src.Import(ctx, bytes.NewReader(tarball), image.ImportOptions{Ref: ref, Changes: []string{`CMD ["sh"]`}})
	if err != nil {
		t.Fatal(err)
	}
	pushed, err := src.Push(ctx, ref, image.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pushed != imported.Target.Digest {
		t.Errorf("pushed %s, imported %s", pushed, imported.Target.Digest)
	}

	dst, _ := openStore(t, client)
	var events []image.Progress
	pulled, err := dst.Pull(ctx, ref, image.PullOptions{Progress: func(p image.Progress) { events = append(events, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if pulled.ID != imported.ID || pulled.Target.Digest != pushed {
		t.Errorf("pulled %+v, want ID %s digest %s", pulled, imported.ID, pushed)
	}
	want := treeSum(t, dir)
	sameTree(t, mountImage(t, dst, ref), want)
	sameTree(t, mountImage(t, src, ref), want)
	if len(events) == 0 || !strings.HasPrefix(events[len(events)-1].Action, "Status: Downloaded newer image") {
		t.Errorf("last event %+v", events[len(events)-1])
	}
}

// TestPullFaults: a corrupt layer fails cleanly; transient faults are
// retried; a later pull into the same store succeeds.
func TestPullFaults(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	_, tarball := busyboxTar(t)
	client := registry.New(registry.Options{Backoff: 1})
	src, _ := openStore(t, client)
	good, bad := registrytest.New(t), registrytest.New(t)
	var img image.Image
	for _, reg := range []*registrytest.Registry{good, bad} {
		var err error
		ref := reg.Host() + "/bb"
		if img, err = src.Import(ctx, bytes.NewReader(tarball), image.ImportOptions{Ref: ref}); err != nil {
			t.Fatal(err)
		}
		if _, err := src.Push(ctx, ref, image.PushOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	info, err := src.Inspect(ctx, img.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	_ = info
	dst, root := openStore(t, client)
	layer := layerDigest(t, src, img)
	bad.CorruptBlob(layer)
	if _, err := dst.Pull(ctx, bad.Host()+"/bb", image.PullOptions{}); err == nil || !strings.Contains(err.Error(), "mismatch") {
		t.Fatalf("pull of a corrupt layer: %v", err)
	}
	if files := storeFiles(t, root); len(files) != 0 {
		t.Errorf("left in the store: %v", files)
	}
	good.TruncateBlobs(1)
	good.FailNext(2, 503)
	if _, err := dst.Pull(ctx, good.Host()+"/bb", image.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	// Removing the image leaves nothing behind.
	if _, err := dst.Remove(ctx, good.Host()+"/bb", false); err != nil {
		t.Fatal(err)
	}
	if files := storeFiles(t, root); len(files) != 0 {
		t.Errorf("left in the store after rmi: %v", files)
	}
}

func layerDigest(t *testing.T, s *image.Store, img image.Image) digest.Digest {
	t.Helper()
	var buf bytes.Buffer
	if err := s.Save(context.Background(), []string{img.ID.String()}, &buf, image.SaveOptions{Format: image.FormatOCIArchive}); err != nil {
		t.Fatal(err)
	}
	// The only big blob of the archive is the layer.
	var biggest digest.Digest
	size := 0
	forEachMember(t, buf.Bytes(), func(name string, data []byte) {
		if strings.HasPrefix(name, "blobs/sha256/") && len(data) > size {
			biggest, size = digest.Digest("sha256:"+strings.TrimPrefix(name, "blobs/sha256/")), len(data)
		}
	})
	return biggest
}

// storeFiles lists the blobs and snapshot directories under a store root.
func storeFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	for _, d := range []string{"content/blobs/sha256", "content/ingest", "snapshots/overlay/snapshots"} {
		entries, err := os.ReadDir(filepath.Join(root, d))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, e := range entries {
			out = append(out, filepath.Join(d, e.Name()))
		}
	}
	return out
}

// TestSaveLoadReal: save and load between stores on disk, both formats.
func TestSaveLoadReal(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	dir, tarball := busyboxTar(t)
	src, _ := openStore(t, nil)
	if _, err := src.Import(ctx, bytes.NewReader(tarball), image.ImportOptions{Ref: "busybox:saved"}); err != nil {
		t.Fatal(err)
	}
	want := treeSum(t, dir)
	for _, format := range []string{image.FormatDockerArchive, image.FormatOCIArchive} {
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(src.Save(ctx, []string{"busybox:saved"}, pw, image.SaveOptions{Format: format}))
		}()
		dst, _ := openStore(t, nil)
		loaded, err := dst.Load(ctx, pr, image.LoadOptions{})
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if len(loaded) != 1 || loaded[0].Name != "busybox:saved" {
			t.Errorf("%s: loaded %+v", format, loaded)
		}
		sameTree(t, mountImage(t, dst, "busybox:saved"), want)
	}
}

// TestPodmanLoadsSaved: both archive formats Save writes load into podman
// with the same image ID and name.
func TestPodmanLoadsSaved(t *testing.T) {
	testutil.RequireRoot(t)
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("needs podman")
	}
	ctx := context.Background()
	_, tarball := busyboxTar(t)
	src, _ := openStore(t, nil)
	img, err := src.Import(ctx, bytes.NewReader(tarball), image.ImportOptions{Ref: "corral/busybox:saved"})
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{image.FormatDockerArchive, image.FormatOCIArchive} {
		dir := t.TempDir()
		file := filepath.Join(dir, "image.tar")
		f, err := os.Create(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := src.Save(ctx, []string{"corral/busybox:saved"}, f, image.SaveOptions{Format: format}); err != nil {
			t.Fatal(err)
		}
		f.Close()
		podman := []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"),
			"--storage-driver", "vfs", "--events-backend", "file", "--cgroup-manager", "cgroupfs"}
		out, err := exec.Command("podman", append(podman, "load", "-q", "-i", file)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: podman load: %v\n%s", format, err, out)
		}
		out, err = exec.Command("podman", append(podman, "image", "inspect", "--format", "{{.Id}} {{.RepoTags}}", "docker.io/corral/busybox:saved")...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), img.ID.Encoded()) {
			t.Errorf("%s: podman inspect: %v\n%s", format, err, out)
		}
		_ = exec.Command("podman", append(podman, "system", "reset", "-f")...).Run()
	}
}
