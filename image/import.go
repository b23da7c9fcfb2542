package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/archive"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
)

// ImportOptions tune Import.
type ImportOptions struct {
	// Ref names the image ("" leaves it untagged).
	Ref string
	// Changes are Dockerfile instructions applied to the config (see
	// ApplyChanges).
	Changes []string
	// Message is the history comment; "" means "Imported from <Source>".
	Message string
	// Source says where the tar came from, for the comment ("-" for stdin).
	Source string
	// Platform is the image's; the zero value means the store's.
	Platform ocispec.Platform
}

// Import makes a single-layer image of a root filesystem tarball (plain,
// gzip or zstd), as `docker import` does: the layer is stored gzip
// compressed, the config gets its diff ID, a history entry and the
// changes.
func (s *Store) Import(ctx context.Context, r io.Reader, opts ImportOptions) (Image, error) {
	var names []string
	if opts.Ref != "" {
		named, err := ParseReference(opts.Ref)
		if err != nil {
			return Image{}, err
		}
		if _, ok := named.(reference.Digested); ok {
			return Image{}, errdefs.InvalidArgument(fmt.Errorf("import as %s: cannot name an image by digest", opts.Ref))
		}
		names = []string{named.String()}
	}
	platform := opts.Platform
	if platform.OS == "" {
		platform = s.platform
	}
	var img Image
	err := s.withLease(ctx, "import", func(lease string) error {
		layer, diffID, err := s.writeLayer(ctx, lease, r, archive.Gzip)
		if err != nil {
			return err
		}
		cfg, err := importConfig(diffID, platform, opts)
		if err != nil {
			return err
		}
		img, err = s.finishImage(ctx, lease, cfg, []ocispec.Descriptor{layer}, names, nil)
		return err
	})
	if err != nil {
		return Image{}, fmt.Errorf("import: %w", err)
	}
	return img, nil
}

func importConfig(diffID digest.Digest, p ocispec.Platform, opts ImportOptions) ([]byte, error) {
	now := time.Now().UTC()
	comment := opts.Message
	if comment == "" {
		src := opts.Source
		if src == "" {
			src = "-"
		}
		comment = "Imported from " + src
	}
	cfg := Config{Created: &now, Architecture: p.Architecture, OS: p.OS, Variant: p.Variant,
		RootFS:  ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
		History: []ocispec.History{{Created: &now, Comment: comment}}}
	if err := ApplyChanges(&cfg.Config, opts.Changes); err != nil {
		return nil, err
	}
	return json.Marshal(cfg)
}

// finishImage writes the config and a manifest for layers (blobs already
// stored), unpacks the layers and records the image under names.
func (s *Store) finishImage(ctx context.Context, lease string, configRaw []byte, layers []ocispec.Descriptor, names []string, rep *reporter) (Image, error) {
	mdesc, err := s.newManifest(ctx, lease, configRaw, layers)
	if err != nil {
		return Image{}, err
	}
	r, err := s.resolve(ctx, mdesc)
	if err != nil {
		return Image{}, err
	}
	if err := s.unpackAll(ctx, lease, r, rep); err != nil {
		return Image{}, err
	}
	img := Image{Target: mdesc, Manifest: mdesc.Digest, ID: r.Manifest.Config.Digest}
	if err := s.recordImage(img, names); err != nil {
		return Image{}, err
	}
	if len(names) > 0 {
		img.Name = names[0]
	}
	return img, nil
}
