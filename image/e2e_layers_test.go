package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/image"
	"github.com/corral-dev/corral/registry"
	"github.com/corral-dev/corral/registry/registrytest"
	"github.com/corral-dev/corral/testutil"
)

func layerOf(t *testing.T, entries ...tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		body := []byte(h.Linkname)
		if h.Typeflag == tar.TypeReg {
			h.Linkname, h.Size = "", int64(len(body))
		} else {
			body = nil
		}
		h.ModTime = time.Unix(1600000000, 0)
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(body)
	}
	_ = tw.Close()
	return buf.Bytes()
}

// pushLayers pushes an image of raw layers to the fake registry as repo.
func pushLayers(t *testing.T, reg *registrytest.Registry, repo string, layers ...[]byte) {
	t.Helper()
	var descs []ocispec.Descriptor
	var diffs []digest.Digest
	for _, raw := range layers {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		_, _ = zw.Write(raw)
		_ = zw.Close()
		d := reg.AddBlob(repo, gz.Bytes())
		descs = append(descs, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: d, Size: int64(gz.Len())})
		diffs = append(diffs, digest.FromBytes(raw))
	}
	cfg, _ := json.Marshal(ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: diffs}})
	cd := reg.AddBlob(repo, cfg)
	man := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Layers: descs,
		Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cd, Size: int64(len(cfg))}}
	man.SchemaVersion = 2
	body, _ := json.Marshal(man)
	reg.AddManifest(repo, "latest", ocispec.MediaTypeImageManifest, body)
}

// TestLayeredPullOverlay pulls a layered image whose upper layers are
// unpacked ahead of the lower ones, and checks the merged overlay view:
// implicit directories take the attributes from below, whiteouts and
// opaque directories hide what they should, a hardlink into a lower layer
// becomes a copy.
func TestLayeredPullOverlay(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	reg := registrytest.New(t)
	dir := func(name string, mode int64) tar.Header {
		return tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: mode}
	}
	reg0 := func(name, body string) tar.Header {
		return tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Linkname: body}
	}
	pushLayers(t, reg, "layered",
		layerOf(t, dir("tmp/", 0o1777), dir("etc/", 0o755), reg0("etc/a", "a"), reg0("etc/b", "b"),
			dir("opt/", 0o700), reg0("opt/old", "old"), reg0("bin-a", "A")),
		layerOf(t, reg0("tmp/x/y", "y"), tar.Header{Name: "etc/.wh.a", Typeflag: tar.TypeReg},
			reg0("opt/.wh..wh..opq", ""), reg0("opt/new", "new")),
		layerOf(t, tar.Header{Name: "bin-b", Typeflag: tar.TypeLink, Linkname: "bin-a"}, reg0("etc/c", "c")),
	)
	s, _ := openStore(t, registry.New(registry.Options{}))
	ref := reg.Host() + "/layered"
	if _, err := s.Pull(ctx, ref, image.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	got := mountImage(t, s, ref)
	for path, want := range map[string]string{
		"tmp":     "dtrwxrwxrwx",
		"tmp/x":   "drwxr-xr-x",
		"etc/b":   "-rw-r--r-- 3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d",
		"etc/c":   "-rw-r--r-- 2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6",
		"opt":     "drwx------",
		"opt/new": "-rw-r--r-- 11507a0e2f5e69d5dfa40a62a1bd7b6ee57e6bcd85c67c9b8431b36fff21c437",
		"bin-b":   "-rw-r--r-- 559aead08264d5795d3909718cdd05abd49572e84fe55590eef31a88a08fdffd",
		"etc/a":   "",
		"opt/old": "",
	} {
		if got[path] != want {
			t.Errorf("%s: %q, want %q", path, got[path], want)
		}
	}
}
