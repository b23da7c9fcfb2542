package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/corral-dev/corral/archive"
	"github.com/corral-dev/corral/content"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
	"github.com/corral-dev/corral/snapshot"
)

// CommitOptions say what Commit makes of a container.
type CommitOptions struct {
	// Parent names the image the container runs (an ID or a name); ""
	// is scratch (no layers, the host's platform).
	Parent string
	// Upper is the overlay upper dir of the container's writable snapshot:
	// what it holds becomes the new layer. The container should not write
	// to it meanwhile (pause it).
	Upper string
	// Layer, when not nil, is the new layer's tar instead of Upper's diff
	// (the builder's COPY and ADD); directories it needs but does not list
	// take their metadata from the parent's layers.
	Layer io.Reader
	// CreatedBy, when set, is the history entry's created_by instead of
	// ContainerConfig's command.
	CreatedBy string
	// Exclude lists paths ("/etc/hosts") whose entries are left out of the
	// layer: mount points the runtime made (see archive.Leftovers).
	Exclude []string
	// Config is the new image's config; Changes (Dockerfile instructions,
	// see ApplyChanges) are applied to it.
	Config  ContainerConfig
	Changes []string
	// ContainerID and ContainerConfig are the container's, recorded as
	// docker records them ("container", "container_config"); the history
	// entry's created_by is ContainerConfig's Cmd, joined by spaces.
	ContainerID     string
	ContainerConfig *ContainerConfig
	Author          string
	Comment         string
	// SourceDateEpoch, when set, makes the image reproducible: its
	// created and history times are the epoch, layer file times after it
	// are clamped to it, and no container ID is recorded.
	SourceDateEpoch *time.Time
	// Ref names the new image ("repo[:tag]", tag latest by default); ""
	// leaves it dangling.
	Ref string
}

// emptyLayer is the diff ID of a tar without entries (its end-of-archive
// marker only): docker adds no layer for it.
const emptyLayer = digest.Digest("sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef")

// Commit makes a new image of a container, as `docker commit` does: the
// parent image's layers plus one made of the container's changes (none when
// it changed nothing, the history entry then marked empty_layer), stored
// gzip compressed; the new layer is also applied into a snapshot committed
// under its chain ID, so the image runs without unpacking anything. Its
// config is opts.Config with the changes applied, on the parent's platform,
// with a history entry (author, comment, created_by) after the parent's.
func (s *Store) Commit(ctx context.Context, opts CommitOptions) (Image, error) {
	names, err := commitNames(opts.Ref)
	if err != nil {
		return Image{}, err
	}
	cfg := opts.Config
	if err := ApplyChanges(&cfg, opts.Changes); err != nil {
		return Image{}, err
	}
	var img Image
	err = s.withLease(ctx, "commit", func(lease string) error {
		r, parentID, err := s.commitParent(ctx, opts.Parent)
		if err != nil {
			return err
		}
		layer, err := s.commitLayer(ctx, lease, opts, ChainIDs(r.Config.RootFS.DiffIDs))
		if err != nil {
			return err
		}
		raw, err := commitConfig(r.Config, parentID, cfg, opts, layer)
		if err != nil {
			return err
		}
		layers := append([]ocispec.Descriptor(nil), r.Manifest.Layers...)
		if layer.diffID != "" {
			layers = append(layers, layer.desc)
		}
		img, err = s.finishImage(ctx, lease, raw, layers, names, nil)
		return err
	})
	if err != nil {
		return Image{}, fmt.Errorf("commit: %w", err)
	}
	return img, nil
}

// commitParent resolves the parent image ref; "" is scratch: no layers,
// the host's platform.
func (s *Store) commitParent(ctx context.Context, ref string) (resolved, digest.Digest, error) {
	if ref == "" {
		p := DefaultPlatform()
		return resolved{Config: Config{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant,
			RootFS: ocispec.RootFS{Type: "layers"}}}, "", nil
	}
	parent, err := s.Get(ctx, ref)
	if err != nil {
		return resolved{}, "", err
	}
	r, err := s.resolve(ctx, parent.Target)
	return r, parent.ID, err
}

// commitNames is the record name of ref, none for "".
func commitNames(ref string) ([]string, error) {
	if ref == "" {
		return nil, nil
	}
	named, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	if _, ok := named.(reference.Digested); ok {
		return nil, errdefs.InvalidArgument(fmt.Errorf("commit as %s: cannot name an image by digest", ref))
	}
	return []string{named.String()}, nil
}

// committedLayer is the layer Commit made; diffID is "" when the container
// changed nothing.
type committedLayer struct {
	desc   ocispec.Descriptor
	diffID digest.Digest
}

// commitLayer writes the diff of opts.Upper as a gzip blob and, from the
// same stream, applies it into a snapshot over the parent's layers (chain,
// one chain ID per layer), committed under the new chain ID.
func (s *Store) commitLayer(ctx context.Context, lease string, opts CommitOptions, chain []digest.Digest) (committedLayer, error) {
	parent := ""
	if len(chain) > 0 {
		parent = chain[len(chain)-1].String()
	}
	key := randomID(extractPrefix)
	if err := s.db.addToLease(lease, leaseRef{Snapshots: []string{key}}); err != nil {
		return committedLayer{}, err
	}
	mounts, err := s.snapshots.Prepare(ctx, key, parent)
	if err != nil {
		return committedLayer{}, fmt.Errorf("prepare snapshot for the new layer: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = s.snapshots.Remove(context.WithoutCancel(ctx), key)
		}
	}()
	w, err := s.content.Writer(ctx, content.WriterOpts{Ref: "commit"})
	if err != nil {
		return committedLayer{}, err
	}
	defer w.Close()
	diffID, n, err := s.diffInto(ctx, opts, mounts, w)
	if err != nil || diffID == emptyLayer {
		return committedLayer{}, err
	}
	layerChain := diffID
	if parent != "" {
		layerChain = digest.FromString(parent + " " + diffID.String())
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: w.Digest(), Size: w.Offset()}
	committed, err = s.publishLayer(ctx, lease, w, desc, key, layerChain)
	if err != nil {
		return committedLayer{}, err
	}
	if err := s.db.update(func(tx *bolt.Tx) error { return putSize(tx, bucketDiffs, diffID, n) }); err != nil {
		return committedLayer{}, err
	}
	return committedLayer{desc: desc, diffID: diffID}, nil
}

// publishLayer commits the blob w has written (desc) and the snapshot key
// as chain, under lease; committed is false when the snapshot existed
// already (key is then still to remove).
func (s *Store) publishLayer(ctx context.Context, lease string, w content.Writer, desc ocispec.Descriptor, key string, chain digest.Digest) (committed bool, err error) {
	if err := s.db.addToLease(lease, leaseRef{Content: []digest.Digest{desc.Digest}, Snapshots: []string{chain.String()}}); err != nil {
		return false, err
	}
	if err := w.Commit(ctx, desc.Size, desc.Digest); err != nil && !errdefs.IsAlreadyExists(err) {
		return false, fmt.Errorf("write layer: %w", err)
	}
	err = s.snapshots.Commit(ctx, chain.String(), key)
	if err != nil && !errdefs.IsAlreadyExists(err) {
		return false, fmt.Errorf("commit layer snapshot: %w", err)
	}
	return err == nil, nil
}

// diffInto streams the diff of opts.Upper at once into the gzip blob w and
// into the writable dir of mounts; it returns the tar's digest and size.
func (s *Store) diffInto(ctx context.Context, opts CommitOptions, mounts []snapshot.Mount, w io.Writer) (digest.Digest, int64, error) {
	dir, err := snapshot.WritableDir(mounts)
	if err != nil {
		return "", 0, err
	}
	zw, err := archive.Compress(w, archive.Gzip)
	if err != nil {
		return "", 0, err
	}
	var src io.Reader
	if opts.Layer != nil {
		src = opts.Layer
		if opts.SourceDateEpoch != nil {
			rc := clampStream(opts.Layer, *opts.SourceDateEpoch)
			defer rc.Close()
			src = rc
		}
	} else {
		rc := diffStream(ctx, opts.Upper, opts.Exclude, opts.SourceDateEpoch)
		defer rc.Close()
		src = rc
	}
	h := digest.SHA256.Digester()
	tee := io.TeeReader(src, io.MultiWriter(h.Hash(), zw))
	n, err := archive.Apply(ctx, dir, tee, archive.ApplyOptions{Whiteouts: archive.OverlayWhiteouts, Parents: lowerDirs(mounts)})
	if err != nil {
		return "", 0, fmt.Errorf("apply the new layer: %w", err)
	}
	rest, err := io.Copy(io.Discard, tee)
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		return "", 0, fmt.Errorf("write layer: %w", err)
	}
	return h.Digest(), n + rest, nil
}

// diffStream is the tar of the upper dir upper (archive.Diff) without the
// entries of exclude.
func diffStream(ctx context.Context, upper string, exclude []string, epoch *time.Time) io.ReadCloser {
	pr, pw := io.Pipe()
	opts := archive.DiffOptions{SourceDateEpoch: epoch}
	go func() {
		if len(exclude) == 0 {
			pw.CloseWithError(archive.Diff(ctx, upper, pw, opts))
			return
		}
		fr, fw := io.Pipe()
		go func() { fw.CloseWithError(archive.Diff(ctx, upper, fw, opts)) }()
		drop := make(map[string]bool, len(exclude))
		for _, p := range exclude {
			drop[path.Clean("/"+p)] = true
		}
		err := filterTar(fr, pw, drop, nil)
		fr.Close() // ends Diff if the filter stopped early
		pw.CloseWithError(err)
	}()
	return pr
}

// clampStream is the tar r with modification times after epoch clamped
// to it (whole seconds), access and change times dropped.
func clampStream(r io.Reader, epoch time.Time) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(filterTar(r, pw, nil, &epoch)) }()
	return pr
}

// filterTar copies the tar r to w without the entries named in drop
// (cleaned, absolute), times clamped to epoch if not nil.
func filterTar(r io.Reader, w io.Writer, drop map[string]bool, epoch *time.Time) error {
	tr, tw := tar.NewReader(r), tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		if drop[path.Clean("/"+hdr.Name)] {
			continue
		}
		if epoch != nil {
			clampHeader(hdr, *epoch)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

func clampHeader(hdr *tar.Header, epoch time.Time) {
	if hdr.ModTime.After(epoch) {
		hdr.ModTime = epoch
	}
	hdr.ModTime = hdr.ModTime.Truncate(time.Second)
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
}

// commitConfig is the new image's config: the parent's, with cfg, one more
// layer (unless none) and a history entry.
func commitConfig(parent Config, parentID digest.Digest, cfg ContainerConfig, opts CommitOptions, layer committedLayer) ([]byte, error) {
	now := time.Now().UTC()
	if opts.SourceDateEpoch != nil {
		now = opts.SourceDateEpoch.UTC()
		opts.ContainerID = ""
	}
	var createdBy string
	if opts.ContainerConfig != nil {
		createdBy = strings.Join(opts.ContainerConfig.Cmd, " ")
	}
	if opts.CreatedBy != "" {
		createdBy = opts.CreatedBy
	}
	c := Config{
		Created: &now, Author: opts.Author, Architecture: parent.Architecture, Variant: parent.Variant,
		OS: parent.OS, OSVersion: parent.OSVersion, OSFeatures: parent.OSFeatures, Config: cfg,
		RootFS:    ocispec.RootFS{Type: "layers", DiffIDs: append([]digest.Digest(nil), parent.RootFS.DiffIDs...)},
		History:   append([]ocispec.History(nil), parent.History...),
		Container: opts.ContainerID, ContainerConfig: opts.ContainerConfig,
	}
	if parentID != "" {
		c.Parent = parentID.String()
	}
	if layer.diffID != "" {
		c.RootFS.DiffIDs = append(c.RootFS.DiffIDs, layer.diffID)
	}
	c.History = append(c.History, ocispec.History{Created: &now, Author: opts.Author, CreatedBy: createdBy,
		Comment: opts.Comment, EmptyLayer: layer.diffID == ""})
	return json.Marshal(c)
}
