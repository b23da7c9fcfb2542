package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/corral-dev/corral/archive"
	"github.com/corral-dev/corral/content"
	"github.com/corral-dev/corral/errdefs"
)

// putBlob stores a small document under lease.
func (s *Store) putBlob(ctx context.Context, lease string, data []byte, mediaType string) (ocispec.Descriptor, error) {
	desc := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
	if err := s.db.addToLease(lease, leaseRef{Content: []digest.Digest{desc.Digest}}); err != nil {
		return desc, err
	}
	_, err := s.writeBlob(ctx, data, mediaType)
	return desc, err
}

// newManifest writes an OCI manifest for a config and its layers.
func (s *Store) newManifest(ctx context.Context, lease string, configRaw []byte, layers []ocispec.Descriptor) (ocispec.Descriptor, error) {
	cfg, err := s.putBlob(ctx, lease, configRaw, ocispec.MediaTypeImageConfig)
	if err != nil {
		return cfg, err
	}
	man := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: layers}
	man.SchemaVersion = 2
	if man.Layers == nil {
		man.Layers = []ocispec.Descriptor{}
	}
	data, err := json.Marshal(man)
	if err != nil {
		return cfg, err
	}
	return s.putBlob(ctx, lease, data, ocispec.MediaTypeImageManifest)
}

// unpackAll unpacks the image's layers that are not unpacked yet.
func (s *Store) unpackAll(ctx context.Context, lease string, r resolved, rep *reporter) error {
	chain := ChainIDs(r.Config.RootFS.DiffIDs)
	var jobs []layerJob
	for i, l := range r.Manifest.Layers {
		if s.committed(ctx, chain[i]) {
			continue
		}
		parent := ""
		if i > 0 {
			parent = chain[i-1].String()
		}
		jobs = append(jobs, layerJob{desc: l, diffID: r.Config.RootFS.DiffIDs[i], chain: chain[i], parent: parent})
	}
	return s.unpackLayers(ctx, lease, jobs, rep, nil)
}

// recordImage names img (dangling when names is empty).
func (s *Store) recordImage(img Image, names []string) error {
	return s.db.update(func(tx *bolt.Tx) error {
		for _, n := range names {
			if err := setName(tx, n, img); err != nil {
				return err
			}
		}
		if len(names) == 0 {
			return keepDangling(tx, img)
		}
		return nil
	})
}

// writeLayer stores a layer read from r (a tar, maybe compressed) as a
// blob compressed with c, and returns its descriptor and diff ID.
func (s *Store) writeLayer(ctx context.Context, lease string, r io.Reader, c archive.Compression) (ocispec.Descriptor, digest.Digest, error) {
	dr, _, err := archive.Decompress(r)
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	defer dr.Close()
	w, err := s.content.Writer(ctx, content.WriterOpts{Ref: "layer"})
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	defer w.Close()
	zw, err := archive.Compress(w, c)
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	diff := digest.SHA256.Digester()
	if _, err := io.Copy(zw, io.TeeReader(dr, diff.Hash())); err != nil {
		return ocispec.Descriptor{}, "", fmt.Errorf("write layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return ocispec.Descriptor{}, "", fmt.Errorf("write layer: %w", err)
	}
	mt := map[archive.Compression]string{archive.Gzip: ocispec.MediaTypeImageLayerGzip, archive.Zstd: ocispec.MediaTypeImageLayerZstd}[c]
	if mt == "" {
		mt = ocispec.MediaTypeImageLayer
	}
	desc := ocispec.Descriptor{MediaType: mt, Digest: w.Digest(), Size: w.Offset()}
	if err := s.db.addToLease(lease, leaseRef{Content: []digest.Digest{desc.Digest}}); err != nil {
		return desc, "", err
	}
	if err := w.Commit(ctx, desc.Size, desc.Digest); err != nil && !errdefs.IsAlreadyExists(err) {
		return desc, "", fmt.Errorf("write layer: %w", err)
	}
	return desc, diff.Digest(), nil
}
