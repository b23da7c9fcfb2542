package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/archive"
	"github.com/corral-dev/corral/content"
	"github.com/corral-dev/corral/errdefs"
)

// LoadOptions tune Load.
type LoadOptions struct {
	// Progress receives "Loading layer" events, one call at a time.
	Progress func(Progress)
}

// Loaded is an image Load added: its name (familiar, "" when the archive
// gave none) and ID. Docker prints "Loaded image: <Name>" or "Loaded image
// ID: <ID>".
type Loaded struct {
	Name string
	ID   digest.Digest
}

// Limits on what Load keeps in memory: files up to smallFile bytes (JSON
// documents), smallTotal bytes of them in all; bigger files go to the
// content store as they stream by.
const (
	smallFile  = 1 << 20
	smallTotal = 64 << 20
)

// Load reads a docker-archive (as `docker save` and `podman save` write
// it: manifest.json with legacy <id>/layer.tar or <digest>.tar layers, or
// the OCI layout inside of docker 25 and later) or an OCI archive
// (oci-layout, index.json, blobs/), plain or compressed, and adds its
// images. Layers are stored as the archive has them (uncompressed tars
// under their own digest) and unpacked.
func (s *Store) Load(ctx context.Context, r io.Reader, opts LoadOptions) ([]Loaded, error) {
	var out []Loaded
	rep := newReporter(opts.Progress)
	rep.extract = ActionLoading
	err := s.withLease(ctx, "load", func(lease string) error {
		fs, err := s.readArchive(ctx, lease, r)
		if err != nil {
			return err
		}
		if _, ok := fs.lookup("manifest.json"); ok {
			out, err = s.loadDocker(ctx, lease, fs, rep)
		} else if _, ok := fs.lookup("index.json"); ok {
			out, err = s.loadOCI(ctx, lease, fs, rep)
		} else {
			err = errdefs.InvalidArgument(errors.New("not an image archive: no manifest.json (docker-archive) or index.json (OCI layout)"))
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	return out, nil
}

// archiveFile is a regular file of an archive: in memory, or stored as a
// blob.
type archiveFile struct {
	data []byte
	blob ocispec.Descriptor
}

// archiveFS is what Load read from an archive.
type archiveFS struct {
	files    map[string]archiveFile
	links    map[string]string // symlinks and hardlinks, resolved to archive paths
	inMemory int               // bytes of files held in memory
}

// cleanName makes an archive member name relative and clean; ok is false
// for names that leave the archive.
func cleanName(name string) (string, bool) {
	p := path.Clean("/" + name)
	if p == "/" {
		return "", false
	}
	return p[1:], !strings.Contains(name, "\x00")
}

// lookup finds a file, following links (a few hops).
func (fs *archiveFS) lookup(name string) (archiveFile, bool) {
	name, ok := cleanName(name)
	for hops := 0; ok && hops < 16; hops++ {
		if f, found := fs.files[name]; found {
			return f, true
		}
		if name, ok = fs.links[name]; !ok {
			break
		}
	}
	return archiveFile{}, false
}

func (s *Store) readArchive(ctx context.Context, lease string, r io.Reader) (*archiveFS, error) {
	dr, _, err := archive.Decompress(r)
	if err != nil {
		return nil, err
	}
	defer dr.Close()
	fs := &archiveFS{files: map[string]archiveFile{}, links: map[string]string{}}
	tr := tar.NewReader(dr)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return fs, nil
		}
		if err != nil {
			return nil, errdefs.InvalidArgument(fmt.Errorf("read archive: %w", err))
		}
		if err := s.readMember(ctx, lease, fs, hdr, tr); err != nil {
			return nil, err
		}
	}
}

// readMember records one archive member: links by target, small files in
// memory, big ones as blobs.
func (s *Store) readMember(ctx context.Context, lease string, fs *archiveFS, hdr *tar.Header, r io.Reader) error {
	name, ok := cleanName(hdr.Name)
	if !ok {
		return nil
	}
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		if target, ok := cleanName(path.Join(path.Dir("/"+name), hdr.Linkname)); ok {
			fs.links[name] = target
		}
	case tar.TypeLink:
		if target, ok := cleanName(hdr.Linkname); ok {
			fs.links[name] = target
		}
	case tar.TypeReg:
		if hdr.Size <= smallFile && fs.inMemory+int(hdr.Size) <= smallTotal {
			data, err := io.ReadAll(r)
			if err != nil {
				return errdefs.InvalidArgument(fmt.Errorf("read archive member %s: %w", name, err))
			}
			fs.inMemory += len(data)
			fs.files[name] = archiveFile{data: data}
			return nil
		}
		desc, err := s.spool(ctx, lease, name, r, hdr.Size)
		if err != nil {
			return err
		}
		fs.files[name] = archiveFile{blob: desc}
	}
	return nil
}

// spool stores an archive member as a blob; a member named
// blobs/<alg>/<hex> must have that digest.
func (s *Store) spool(ctx context.Context, lease, name string, r io.Reader, size int64) (ocispec.Descriptor, error) {
	w, err := s.content.Writer(ctx, content.WriterOpts{Ref: "load-" + path.Base(name), Size: size})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer w.Close()
	if _, err := io.Copy(w, r); err != nil {
		return ocispec.Descriptor{}, errdefs.InvalidArgument(fmt.Errorf("read archive member %s: %w", name, err))
	}
	desc := ocispec.Descriptor{Digest: w.Digest(), Size: w.Offset()}
	if want, ok := blobPathDigest(name); ok && want != desc.Digest {
		return desc, errdefs.InvalidArgument(fmt.Errorf("archive member %s has digest %s", name, desc.Digest))
	}
	if err := s.db.addToLease(lease, leaseRef{Content: []digest.Digest{desc.Digest}}); err != nil {
		return desc, err
	}
	if err := w.Commit(ctx, desc.Size, desc.Digest); err != nil && !errdefs.IsAlreadyExists(err) {
		return desc, fmt.Errorf("store archive member %s: %w", name, err)
	}
	return desc, nil
}

// blobPathDigest reads the digest of an OCI layout path blobs/<alg>/<hex>.
func blobPathDigest(name string) (digest.Digest, bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 3 || parts[0] != "blobs" {
		return "", false
	}
	d := digest.NewDigestFromEncoded(digest.Algorithm(parts[1]), parts[2])
	return d, d.Validate() == nil
}

// store makes sure an archive file is a blob and returns its descriptor
// (with mediaType).
func (s *Store) store(ctx context.Context, lease string, f archiveFile, mediaType string) (ocispec.Descriptor, error) {
	if f.data == nil {
		f.blob.MediaType = mediaType
		return f.blob, nil
	}
	return s.putBlob(ctx, lease, f.data, mediaType)
}

// read returns an archive file's bytes (small files only).
func (s *Store) read(ctx context.Context, f archiveFile) ([]byte, error) {
	if f.data != nil {
		return f.data, nil
	}
	return s.readBlob(ctx, f.blob.Digest)
}

// layerMediaType names a layer blob's compression, sniffed.
func (s *Store) layerMediaType(ctx context.Context, dgst digest.Digest) (string, error) {
	ra, err := s.content.ReaderAt(ctx, dgst)
	if err != nil {
		return "", err
	}
	defer ra.Close()
	rc, c, err := archive.Decompress(io.NewSectionReader(ra, 0, ra.Size()))
	if err != nil {
		return "", err
	}
	rc.Close()
	switch c {
	case archive.Gzip:
		return ocispec.MediaTypeImageLayerGzip, nil
	case archive.Zstd:
		return ocispec.MediaTypeImageLayerZstd, nil
	}
	return ocispec.MediaTypeImageLayer, nil
}

// dockerEntry is one image of a docker-archive's manifest.json.
type dockerEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func (s *Store) loadDocker(ctx context.Context, lease string, fs *archiveFS, rep *reporter) ([]Loaded, error) {
	f, _ := fs.lookup("manifest.json")
	data, err := s.read(ctx, f)
	if err != nil {
		return nil, err
	}
	var entries []dockerEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		return nil, errdefs.InvalidArgument(fmt.Errorf("decode manifest.json: %w", err))
	}
	var out []Loaded
	for _, e := range entries {
		loaded, err := s.loadDockerEntry(ctx, lease, fs, e, rep)
		if err != nil {
			return nil, err
		}
		out = append(out, loaded...)
	}
	return out, nil
}

func (s *Store) loadDockerEntry(ctx context.Context, lease string, fs *archiveFS, e dockerEntry, rep *reporter) ([]Loaded, error) {
	cf, ok := fs.lookup(e.Config)
	if !ok {
		return nil, errdefs.InvalidArgument(fmt.Errorf("manifest.json: config %s is not in the archive", e.Config))
	}
	configRaw, err := s.read(ctx, cf)
	if err != nil {
		return nil, err
	}
	cfg, err := parseConfig(configRaw)
	if err != nil {
		return nil, err
	}
	if len(cfg.RootFS.DiffIDs) != len(e.Layers) {
		return nil, errdefs.InvalidArgument(fmt.Errorf("manifest.json: %d layers but the config has %d", len(e.Layers), len(cfg.RootFS.DiffIDs)))
	}
	var layers []ocispec.Descriptor
	for _, l := range e.Layers {
		lf, ok := fs.lookup(l)
		if !ok {
			return nil, errdefs.InvalidArgument(fmt.Errorf("manifest.json: layer %s is not in the archive", l))
		}
		desc, err := s.store(ctx, lease, lf, "")
		if err != nil {
			return nil, err
		}
		if desc.MediaType, err = s.layerMediaType(ctx, desc.Digest); err != nil {
			return nil, fmt.Errorf("layer %s: %w", l, err)
		}
		layers = append(layers, desc)
	}
	names, err := normalizeTags(e.RepoTags)
	if err != nil {
		return nil, err
	}
	img, err := s.finishImage(ctx, lease, configRaw, layers, names, rep)
	if err != nil {
		return nil, err
	}
	return loadedOf(img.ID, names), nil
}

func normalizeTags(tags []string) ([]string, error) {
	var names []string
	for _, t := range tags {
		named, err := ParseReference(t)
		if err != nil {
			return nil, err
		}
		names = append(names, named.String())
	}
	return names, nil
}

func loadedOf(id digest.Digest, names []string) []Loaded {
	if len(names) == 0 {
		return []Loaded{{ID: id}}
	}
	var out []Loaded
	for _, n := range names {
		out = append(out, Loaded{Name: familiar(n), ID: id})
	}
	return out
}

// Annotations naming an image in an OCI layout's index.json.
const (
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = ocispec.AnnotationRefName
)

func (s *Store) loadOCI(ctx context.Context, lease string, fs *archiveFS, rep *reporter) ([]Loaded, error) {
	f, _ := fs.lookup("index.json")
	data, err := s.read(ctx, f)
	if err != nil {
		return nil, err
	}
	idx, err := parseIndex(data)
	if err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	var out []Loaded
	for _, desc := range idx.Manifests {
		loaded, err := s.loadOCIEntry(ctx, lease, fs, desc, rep)
		if err != nil {
			return nil, err
		}
		out = append(out, loaded...)
	}
	return out, nil
}

// ociBlob makes sure blob d of the layout is in the content store.
func (s *Store) ociBlob(ctx context.Context, lease string, fs *archiveFS, d ocispec.Descriptor) error {
	f, ok := fs.lookup("blobs/" + d.Digest.Algorithm().String() + "/" + d.Digest.Encoded())
	if !ok {
		return errdefs.InvalidArgument(fmt.Errorf("blob %s is not in the archive", d.Digest))
	}
	if f.data != nil && digest.FromBytes(f.data) != d.Digest {
		return errdefs.InvalidArgument(fmt.Errorf("blob %s: content has digest %s", d.Digest, digest.FromBytes(f.data)))
	}
	_, err := s.store(ctx, lease, f, d.MediaType)
	return err
}

func (s *Store) loadOCIEntry(ctx context.Context, lease string, fs *archiveFS, top ocispec.Descriptor, rep *reporter) ([]Loaded, error) {
	desc := top
	for depth := 0; ; depth++ {
		if err := s.ociBlob(ctx, lease, fs, desc); err != nil {
			return nil, err
		}
		data, err := s.readBlob(ctx, desc.Digest)
		if err != nil {
			return nil, err
		}
		if desc.MediaType, err = detectMediaType(data, desc.MediaType); err != nil {
			return nil, err
		}
		if depth == 0 {
			top.MediaType = desc.MediaType
		}
		if isManifestType(desc.MediaType) || depth > 4 {
			break
		}
		idx, err := parseIndex(data)
		if err != nil {
			return nil, err
		}
		if desc, err = selectManifest(idx, s.platform); err != nil {
			return nil, err
		}
	}
	data, err := s.readBlob(ctx, desc.Digest)
	if err != nil {
		return nil, err
	}
	man, err := parseManifest(data)
	if err != nil {
		return nil, err
	}
	for _, d := range append([]ocispec.Descriptor{man.Config}, man.Layers...) {
		if err := s.ociBlob(ctx, lease, fs, d); err != nil {
			return nil, err
		}
	}
	return s.finishOCI(ctx, lease, top, ociName(top.Annotations), rep)
}

// ociName is the image name an index entry carries: containerd's
// annotation, else a ref.name that is a whole reference (a bare tag names
// nothing).
func ociName(ann map[string]string) []string {
	for _, v := range []string{ann[annotationImageName], ann[annotationRefName]} {
		if v == "" || !strings.ContainsAny(v, "/:@") {
			continue
		}
		if named, err := ParseReference(v); err == nil {
			return []string{named.String()}
		}
	}
	return nil
}

func (s *Store) finishOCI(ctx context.Context, lease string, top ocispec.Descriptor, names []string, rep *reporter) ([]Loaded, error) {
	top.Annotations, top.Platform = nil, nil
	r, err := s.resolve(ctx, top)
	if err != nil {
		return nil, err
	}
	if err := s.unpackAll(ctx, lease, r, rep); err != nil {
		return nil, err
	}
	img := Image{Target: top, Manifest: r.ManifestDesc.Digest, ID: r.Manifest.Config.Digest}
	if err := s.recordImage(img, names); err != nil {
		return nil, err
	}
	return loadedOf(img.ID, names), nil
}
