package e2e_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/testutil"
)

// testImage is an image the test makes by hand: its blobs and the
// descriptors that name them; manifest() encodes the manifest.
type testImage struct {
	blobs   map[digest.Digest][]byte
	config  ocispec.Descriptor
	layers  []ocispec.Descriptor
	diffIDs []digest.Digest
}

// newTestImage makes an image for linux/arch from uncompressed layer tars,
// each stored gzip-compressed.
func newTestImage(t *testing.T, arch string, layers ...[]byte) *testImage {
	t.Helper()
	img := &testImage{blobs: map[digest.Digest][]byte{}}
	for _, l := range layers {
		gz := gzipBytes(t, l)
		img.diffIDs = append(img.diffIDs, digest.FromBytes(l))
		img.layers = append(img.layers, img.add(ocispec.MediaTypeImageLayerGzip, gz))
	}
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg := ocispec.Image{
		Created:  &created,
		Platform: ocispec.Platform{OS: "linux", Architecture: arch},
		Config:   ocispec.ImageConfig{Cmd: []string{"/bin/sh"}, Env: []string{"PATH=/bin:/usr/bin"}},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: img.diffIDs},
	}
	for range layers {
		cfg.History = append(cfg.History, ocispec.History{CreatedBy: "corral e2e test layer"})
	}
	img.config = img.add(ocispec.MediaTypeImageConfig, mustJSON(t, cfg))
	return img
}

// add stores a blob and returns its descriptor.
func (img *testImage) add(mediaType string, data []byte) ocispec.Descriptor {
	d := digest.FromBytes(data)
	img.blobs[d] = data
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

// manifest encodes the image's manifest and returns it with its
// descriptor (platform set from the config).
func (img *testImage) manifest(t *testing.T) ([]byte, ocispec.Descriptor) {
	t.Helper()
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest, Config: img.config, Layers: img.layers}
	data := mustJSON(t, m)
	var cfg ocispec.Image
	if err := json.Unmarshal(img.blobs[img.config.Digest], &cfg); err != nil {
		t.Fatalf("decode config: %v", err)
	}
	desc := ocispec.Descriptor{MediaType: m.MediaType, Digest: digest.FromBytes(data), Size: int64(len(data)),
		Platform: &ocispec.Platform{OS: cfg.OS, Architecture: cfg.Architecture}}
	return data, desc
}

// index encodes an OCI index of the manifests descs.
func ociIndex(t *testing.T, descs ...ocispec.Descriptor) []byte {
	t.Helper()
	return mustJSON(t, ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex, Manifests: descs})
}

// writeLayout writes the image as an OCI image layout in dir whose
// index.json names it tag (org.opencontainers.image.ref.name).
func (img *testImage) writeLayout(t *testing.T, dir, tag string) {
	t.Helper()
	data, desc := img.manifest(t)
	desc.Platform = nil
	desc.Annotations = map[string]string{ocispec.AnnotationRefName: tag}
	files := map[string][]byte{
		ocispec.ImageLayoutFile: mustJSON(t, ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion}),
		"index.json":            ociIndex(t, desc),
		blobFile(desc.Digest):   data,
	}
	for d, b := range img.blobs {
		files[blobFile(d)] = b
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func blobFile(d digest.Digest) string {
	return filepath.Join("blobs", d.Algorithm().String(), d.Encoded())
}

// tarEntry is one entry of a layer the test writes.
type tarEntry struct {
	name     string
	typ      byte
	body     string // file content
	linkname string // for symlinks and hard links
	mode     int64
}

// layerTar makes an uncompressed layer tar of entries.
func layerTar(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
			if e.typ == tar.TypeDir {
				mode = 0o755
			}
		}
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.linkname, Mode: mode,
			Size: int64(len(e.body)), ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("write tar: %v", err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatalf("write tar: %v", err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("write tar: %v", err)
	}
	return buf.Bytes()
}

func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode json: %v", err)
	}
	return data
}

// tarDir writes a tar of the contents of dir to a new file and returns its
// path.
func tarDir(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(dir)+".tar")
	if b, err := exec.Command("tar", "-C", dir, "--numeric-owner", "-cf", out, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar %s: %v\n%s", dir, err, b)
	}
	return out
}

// busyboxTar returns the path of a tar of testutil's busybox rootfs.
func busyboxTar(t *testing.T) string {
	t.Helper()
	return tarDir(t, testutil.BusyboxRootfs(t))
}

// multiLayerImage is a three-layer image: the busybox rootfs, then a layer
// that adds files, a symlink and a hard link and deletes a file of the
// first (whiteout), then one that replaces a directory (opaque whiteout).
func multiLayerImage(t *testing.T) *testImage {
	t.Helper()
	base, err := os.ReadFile(busyboxTar(t))
	if err != nil {
		t.Fatal(err)
	}
	second := layerTar(t,
		tarEntry{name: "etc/", typ: tar.TypeDir},
		tarEntry{name: "etc/hostname", typ: tar.TypeReg, body: "interop\n"},
		tarEntry{name: "etc/motd", typ: tar.TypeSymlink, linkname: "hostname"},
		tarEntry{name: "etc/hostname.hard", typ: tar.TypeLink, linkname: "etc/hostname"},
		tarEntry{name: "etc/.wh.group", typ: tar.TypeReg},
		tarEntry{name: "home/", typ: tar.TypeDir},
		tarEntry{name: "home/old", typ: tar.TypeReg, body: "replaced by the next layer\n"})
	third := layerTar(t,
		tarEntry{name: "home/", typ: tar.TypeDir},
		tarEntry{name: "home/.wh..wh..opq", typ: tar.TypeReg},
		tarEntry{name: "home/new", typ: tar.TypeReg, body: "hello\n", mode: 0o600})
	return newTestImage(t, "amd64", base, second, third)
}
