package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/corral-dev/corral/testutil"
)

// file is an entry of a test layer.
type file struct {
	name     string
	body     string
	typ      byte // tar.TypeReg by default
	linkname string
	mode     int64
}

// layerTar builds an uncompressed layer tar.
func layerTar(t testing.TB, files ...file) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Typeflag: f.typ, Linkname: f.linkname, Mode: f.mode,
			ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(f.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t testing.TB, data []byte) []byte {
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

// testImage is an image built for tests: its blobs and documents.
type testImage struct {
	layers    [][]byte // as stored (gzip)
	diffIDs   []digest.Digest
	config    []byte
	manifest  []byte
	mediaType string
}

func (ti testImage) configDigest() digest.Digest   { return digest.FromBytes(ti.config) }
func (ti testImage) manifestDigest() digest.Digest { return digest.FromBytes(ti.manifest) }

// newTestImage builds an image of the given layers (each a list of files),
// for platform, with OCI media types (docker=false) or Docker schema2 ones.
func newTestImage(t testing.TB, platform ocispec.Platform, docker bool, layers ...[]file) testImage {
	t.Helper()
	var ti testImage
	layerType, configType, manifestType := ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageManifest
	if docker {
		layerType, configType, manifestType = MediaTypeDockerLayerGzip, MediaTypeDockerConfig, MediaTypeDockerManifest
	}
	var descs []ocispec.Descriptor
	for _, files := range layers {
		raw := layerTar(t, files...)
		gz := gzipBytes(t, raw)
		ti.layers = append(ti.layers, gz)
		ti.diffIDs = append(ti.diffIDs, digest.FromBytes(raw))
		descs = append(descs, ocispec.Descriptor{MediaType: layerType, Digest: digest.FromBytes(gz), Size: int64(len(gz))})
	}
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg := Config{Created: &created, Architecture: platform.Architecture, OS: platform.OS, Variant: platform.Variant,
		Config: ContainerConfig{Cmd: []string{"/bin/sh"}, Env: []string{"PATH=/bin"}},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: ti.diffIDs}}
	for range layers {
		cfg.History = append(cfg.History, ocispec.History{Created: &created, CreatedBy: "test layer"})
	}
	ti.config = mustJSON(t, cfg)
	man := ocispec.Manifest{MediaType: manifestType,
		Config: ocispec.Descriptor{MediaType: configType, Digest: digest.FromBytes(ti.config), Size: int64(len(ti.config))},
		Layers: descs}
	man.SchemaVersion = 2
	ti.manifest = mustJSON(t, man)
	ti.mediaType = manifestType
	return ti
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// push puts the image's blobs and manifest into the fake registry.
func (ti testImage) push(r *memRegistry, repo, tag string) digest.Digest {
	for _, l := range ti.layers {
		r.putBlob(repo, l)
	}
	r.putBlob(repo, ti.config)
	return r.putManifest(repo, tag, ti.mediaType, ti.manifest)
}

// indexOf builds an index (OCI or Docker manifest list) of images.
func indexOf(t testing.TB, docker bool, entries map[string]testImage) []byte {
	t.Helper()
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex}
	if docker {
		idx.MediaType = MediaTypeDockerManifestList
	}
	idx.SchemaVersion = 2
	for p, ti := range entries {
		plat, err := ParsePlatform(p)
		if err != nil {
			t.Fatal(err)
		}
		idx.Manifests = append(idx.Manifests, ocispec.Descriptor{MediaType: ti.mediaType, Digest: ti.manifestDigest(),
			Size: int64(len(ti.manifest)), Platform: &plat})
	}
	return mustJSON(t, idx)
}

// testStore is a Store over fakes, with handles on them.
type testStore struct {
	*Store
	mem   *memContent
	snaps *dirSnapshotter
	reg   *memRegistry
	root  string
}

// It needs root: unpacking layers chowns files and makes whiteout devices.
func newTestStore(t testing.TB) *testStore {
	t.Helper()
	testutil.RequireRoot(t)
	root := t.TempDir()
	ts := &testStore{mem: newMemContent(), snaps: newDirSnapshotter(filepath.Join(root, "snapshots")), reg: newMemRegistry(), root: root}
	ts.Store = ts.reopen(t)
	return ts
}

// reopen opens another Store on the same state (as a new process would).
func (ts *testStore) reopen(t testing.TB) *Store {
	t.Helper()
	s, err := New(context.Background(), Options{Root: ts.root, Content: ts.mem, Snapshotter: ts.snaps, Registry: ts.reg})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var linuxAMD64 = ocispec.Platform{OS: "linux", Architecture: "amd64"}

func mustUnmarshal(t testing.TB, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

// rebuild replaces the config of ti (and so its manifest).
func rebuild(t testing.TB, ti testImage, cfg Config) testImage {
	t.Helper()
	ti.config = mustJSON(t, cfg)
	var man ocispec.Manifest
	mustUnmarshal(t, ti.manifest, &man)
	man.Config.Digest, man.Config.Size = digest.FromBytes(ti.config), int64(len(ti.config))
	ti.manifest = mustJSON(t, man)
	return ti
}

func countLeases(t testing.TB, s *Store) int {
	t.Helper()
	n := 0
	err := s.db.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketLeases).ForEach(func(k, v []byte) error {
			n++
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func applyGunzip(w io.Writer, gz []byte) (int64, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return 0, err
	}
	return io.Copy(w, zr)
}

// withLayers rebuilds ti's config and manifest for its layers and diff IDs.
func withLayers(t testing.TB, ti testImage) testImage {
	t.Helper()
	var cfg Config
	mustUnmarshal(t, ti.config, &cfg)
	cfg.RootFS.DiffIDs = ti.diffIDs
	cfg.History = nil
	ti.config = mustJSON(t, cfg)
	var man ocispec.Manifest
	mustUnmarshal(t, ti.manifest, &man)
	man.Config.Digest, man.Config.Size = digest.FromBytes(ti.config), int64(len(ti.config))
	man.Layers = nil
	for _, l := range ti.layers {
		man.Layers = append(man.Layers, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(l), Size: int64(len(l))})
	}
	ti.manifest = mustJSON(t, man)
	return ti
}
