package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/corral-dev/corral/archive"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
)

// Archive formats Save writes.
const (
	// FormatDockerArchive is `docker save`'s format, as docker 25 and later
	// write it: manifest.json and repositories for docker and podman, and
	// an OCI layout (index.json, blobs/) of the same content; layers are
	// uncompressed tars named by their diff IDs.
	FormatDockerArchive = "docker-archive"
	// FormatOCIArchive is an OCI image layout in a tar, layers as stored.
	FormatOCIArchive = "oci-archive"
)

// SaveOptions tune Save.
type SaveOptions struct {
	// Format is FormatDockerArchive (the default) or FormatOCIArchive.
	Format string
}

// saved is one image of a Save with the names it is saved under.
type saved struct {
	img   Image
	r     resolved
	names []string // normalised tags
}

// Save writes the images refs name to w as a tar in opts.Format. A name
// is saved with its tag; a repository name without tag saves every tag of
// it; an image ID saves the image without names.
func (s *Store) Save(ctx context.Context, refs []string, w io.Writer, opts SaveOptions) error {
	unlock, err := s.shared(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	images, err := s.selectSaved(ctx, refs)
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	tw := newTarWriter(w)
	switch opts.Format {
	case "", FormatDockerArchive:
		err = s.saveDocker(ctx, tw, images)
	case FormatOCIArchive:
		err = s.saveOCI(ctx, tw, images)
	default:
		err = errdefs.InvalidArgument(fmt.Errorf("unknown archive format %q", opts.Format))
	}
	if err == nil {
		err = tw.tw.Close()
	}
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return nil
}

func (s *Store) selectSaved(ctx context.Context, refs []string) ([]*saved, error) {
	imgs, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[digest.Digest]*saved{}
	var order []*saved
	for _, ref := range refs {
		found, names, err := savedNames(imgs, ref)
		if err != nil {
			return nil, err
		}
		for _, img := range found {
			sv, ok := byID[img.ID]
			if !ok {
				r, err := s.resolve(ctx, img.Target)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", ref, err)
				}
				sv = &saved{img: img, r: r}
				byID[img.ID] = sv
				order = append(order, sv)
			}
			for _, n := range names {
				if img.Name == n && !contains(sv.names, n) {
					sv.names = append(sv.names, n)
				}
			}
		}
	}
	return order, nil
}

// savedNames resolves one ref of Save to records and the tags to save.
func savedNames(imgs []Image, ref string) ([]Image, []string, error) {
	if named, err := reference.ParseNormalizedNamed(ref); err == nil && reference.IsNameOnly(named) {
		var found []Image
		var tags []string
		for _, img := range imgs {
			if img.Name != "" && isTag(img.Name) && repoOf(img.Name) == named.Name() {
				found = append(found, img)
				tags = append(tags, img.Name)
			}
		}
		if len(found) > 0 {
			return found, tags, nil
		}
	}
	img, err := lookup(imgs, ref)
	if err != nil {
		return nil, nil, err
	}
	if n := recordNamed(imgs, ref); n != "" && isTag(n) {
		img.Name = n
		return []Image{img}, []string{n}, nil
	}
	return []Image{img}, nil, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// tarWriter writes an image archive: files once each, parent directories
// first.
type tarWriter struct {
	tw    *tar.Writer
	names map[string]bool
}

func newTarWriter(w io.Writer) *tarWriter {
	return &tarWriter{tw: tar.NewWriter(w), names: map[string]bool{}}
}

var archiveTime = time.Unix(0, 0)

func (t *tarWriter) dir(name string) error {
	if t.names[name] {
		return nil
	}
	t.names[name] = true
	return t.tw.WriteHeader(&tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: archiveTime})
}

func (t *tarWriter) header(name string, size int64) error {
	t.names[name] = true
	return t.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size, ModTime: archiveTime})
}

func (t *tarWriter) file(name string, data []byte) error {
	if err := t.header(name, int64(len(data))); err != nil {
		return err
	}
	_, err := t.tw.Write(data)
	return err
}

func (t *tarWriter) jsonFile(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return t.file(name, data)
}

func blobPath(d digest.Digest) string {
	return "blobs/" + d.Algorithm().String() + "/" + d.Encoded()
}

// blob writes a small document under blobs/.
func (t *tarWriter) blob(data []byte) (digest.Digest, error) {
	d := digest.FromBytes(data)
	if t.names[blobPath(d)] {
		return d, nil
	}
	if err := t.dir("blobs"); err != nil {
		return d, err
	}
	if err := t.dir("blobs/" + d.Algorithm().String()); err != nil {
		return d, err
	}
	return d, t.file(blobPath(d), data)
}

// contentBlob copies a blob of the content store under blobs/, as stored.
func (s *Store) contentBlob(ctx context.Context, t *tarWriter, desc ocispec.Descriptor) error {
	name := blobPath(desc.Digest)
	if t.names[name] {
		return nil
	}
	if err := t.dir("blobs"); err != nil {
		return err
	}
	if err := t.dir("blobs/" + desc.Digest.Algorithm().String()); err != nil {
		return err
	}
	ra, err := s.content.ReaderAt(ctx, desc.Digest)
	if err != nil {
		return err
	}
	defer ra.Close()
	if err := t.header(name, ra.Size()); err != nil {
		return err
	}
	_, err = io.Copy(t.tw, io.NewSectionReader(ra, 0, ra.Size()))
	return err
}

// indexEntry is an index.json entry for a manifest saved under name ("" for
// none): containerd's name annotation, and the OCI ref name as docker (the
// tag; fullRef false) or podman and skopeo (the whole name) write it.
func indexEntry(m ocispec.Descriptor, name string, fullRef bool) ocispec.Descriptor {
	m.Platform, m.Annotations = nil, nil
	if name == "" {
		return m
	}
	m.Annotations = map[string]string{annotationImageName: name, annotationRefName: name}
	if named, err := reference.ParseNormalizedNamed(name); err == nil && !fullRef {
		if t, ok := named.(reference.Tagged); ok {
			m.Annotations[annotationRefName] = t.Tag()
		}
	}
	return m
}

func (s *Store) saveOCI(ctx context.Context, t *tarWriter, images []*saved) error {
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	idx.SchemaVersion = 2
	for _, sv := range images {
		descs := append([]ocispec.Descriptor{sv.r.ManifestDesc, sv.r.Manifest.Config}, sv.r.Manifest.Layers...)
		for _, d := range descs {
			if err := s.contentBlob(ctx, t, d); err != nil {
				return err
			}
		}
		if len(sv.names) == 0 {
			idx.Manifests = append(idx.Manifests, indexEntry(sv.r.ManifestDesc, "", true))
		}
		for _, n := range sv.names {
			idx.Manifests = append(idx.Manifests, indexEntry(sv.r.ManifestDesc, n, true))
		}
	}
	if err := t.jsonFile("index.json", idx); err != nil {
		return err
	}
	return t.jsonFile(ocispec.ImageLayoutFile, ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
}

func (s *Store) saveDocker(ctx context.Context, t *tarWriter, images []*saved) error {
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	idx.SchemaVersion = 2
	var entries []dockerEntry
	repos := map[string]map[string]string{}
	for _, sv := range images {
		mdesc, entry, err := s.saveDockerImage(ctx, t, sv)
		if err != nil {
			return err
		}
		entries = append(entries, entry)
		if len(sv.names) == 0 {
			idx.Manifests = append(idx.Manifests, indexEntry(mdesc, "", false))
		}
		for _, n := range sv.names {
			idx.Manifests = append(idx.Manifests, indexEntry(mdesc, n, false))
			addRepository(repos, n, sv.r.Config.RootFS.DiffIDs)
		}
	}
	if err := t.jsonFile("index.json", idx); err != nil {
		return err
	}
	if err := t.jsonFile("manifest.json", entries); err != nil {
		return err
	}
	if err := t.jsonFile(ocispec.ImageLayoutFile, ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion}); err != nil {
		return err
	}
	if len(repos) == 0 {
		return nil
	}
	return t.jsonFile("repositories", repos)
}

// addRepository adds a tag to the legacy "repositories" file, which maps
// repository → tag → top layer.
func addRepository(repos map[string]map[string]string, name string, diffIDs []digest.Digest) {
	named, err := reference.ParseNormalizedNamed(name)
	tagged, ok := named.(reference.Tagged)
	if err != nil || !ok || len(diffIDs) == 0 {
		return
	}
	repo := reference.FamiliarName(named)
	if repos[repo] == nil {
		repos[repo] = map[string]string{}
	}
	repos[repo][tagged.Tag()] = diffIDs[len(diffIDs)-1].Encoded()
}

// saveDockerImage writes one image's config, uncompressed layers and an
// OCI manifest of them.
func (s *Store) saveDockerImage(ctx context.Context, t *tarWriter, sv *saved) (ocispec.Descriptor, dockerEntry, error) {
	cfgDigest, err := t.blob(sv.r.ConfigRaw)
	if err != nil {
		return ocispec.Descriptor{}, dockerEntry{}, err
	}
	entry := dockerEntry{Config: blobPath(cfgDigest), RepoTags: []string{}, Layers: []string{}}
	for _, n := range sv.names {
		entry.RepoTags = append(entry.RepoTags, familiar(n))
	}
	sort.Strings(entry.RepoTags)
	man := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Layers: []ocispec.Descriptor{},
		Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cfgDigest, Size: int64(len(sv.r.ConfigRaw))}}
	man.SchemaVersion = 2
	for i, l := range sv.r.Manifest.Layers {
		diffID := sv.r.Config.RootFS.DiffIDs[i]
		size, err := s.writeDiff(ctx, t, l, diffID)
		if err != nil {
			return ocispec.Descriptor{}, entry, fmt.Errorf("layer %s: %w", ShortID(l.Digest), err)
		}
		entry.Layers = append(entry.Layers, blobPath(diffID))
		man.Layers = append(man.Layers, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: diffID, Size: size})
	}
	data, err := json.Marshal(man)
	if err != nil {
		return ocispec.Descriptor{}, entry, err
	}
	mdg, err := t.blob(data)
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: mdg, Size: int64(len(data))}, entry, err
}

// writeDiff writes a layer uncompressed as blobs/<diff id> and returns its
// size, checking its digest.
func (s *Store) writeDiff(ctx context.Context, t *tarWriter, l ocispec.Descriptor, diffID digest.Digest) (int64, error) {
	size, err := s.diffSize(ctx, l, diffID)
	if err != nil {
		return 0, err
	}
	if t.names[blobPath(diffID)] {
		return size, nil
	}
	if err := t.dir("blobs"); err != nil {
		return 0, err
	}
	if err := t.dir("blobs/" + diffID.Algorithm().String()); err != nil {
		return 0, err
	}
	if err := t.header(blobPath(diffID), size); err != nil {
		return 0, err
	}
	got, n, err := s.copyDiff(ctx, t.tw, l)
	if err != nil {
		return 0, err
	}
	if got != diffID || n != size {
		return 0, errdefs.InvalidArgument(fmt.Errorf("uncompressed layer has digest %s (%d bytes), want %s", got, n, diffID))
	}
	return size, nil
}

// diffSize is the size of a layer's uncompressed tar: remembered from its
// unpacking, else measured (and remembered).
func (s *Store) diffSize(ctx context.Context, l ocispec.Descriptor, diffID digest.Digest) (int64, error) {
	size, ok := int64(0), false
	_ = s.db.view(func(tx *bolt.Tx) error {
		size, ok = getSize(tx, bucketDiffs, diffID)
		return nil
	})
	if ok {
		return size, nil
	}
	got, n, err := s.copyDiff(ctx, io.Discard, l)
	if err != nil {
		return 0, err
	}
	if got != diffID {
		return 0, errdefs.InvalidArgument(fmt.Errorf("uncompressed layer has digest %s, want %s", got, diffID))
	}
	return n, s.db.update(func(tx *bolt.Tx) error { return putSize(tx, bucketDiffs, diffID, n) })
}

// copyDiff writes the uncompressed layer l to w and returns its digest and
// size.
func (s *Store) copyDiff(ctx context.Context, w io.Writer, l ocispec.Descriptor) (digest.Digest, int64, error) {
	ra, err := s.content.ReaderAt(ctx, l.Digest)
	if err != nil {
		return "", 0, err
	}
	defer ra.Close()
	dr, _, err := archive.Decompress(io.NewSectionReader(ra, 0, ra.Size()))
	if err != nil {
		return "", 0, err
	}
	defer dr.Close()
	h := digest.SHA256.Digester()
	n, err := io.Copy(io.MultiWriter(w, h.Hash()), dr)
	return h.Digest(), n, err
}
