package image

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/content"
	"github.com/corral-dev/corral/errdefs"
)

// readBlob reads a small blob (manifest, index, config) whole and checks its
// digest.
func (s *Store) readBlob(ctx context.Context, dgst digest.Digest) ([]byte, error) {
	ra, err := s.content.ReaderAt(ctx, dgst)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", dgst, err)
	}
	defer ra.Close()
	if ra.Size() > maxManifestSize {
		return nil, errdefs.InvalidArgument(fmt.Errorf("read blob %s: %d bytes is too large for a manifest or config", dgst, ra.Size()))
	}
	data, err := io.ReadAll(io.NewSectionReader(ra, 0, ra.Size()))
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", dgst, err)
	}
	if got := dgst.Algorithm().FromBytes(data); got != dgst {
		return nil, fmt.Errorf("read blob %s: content has digest %s", dgst, got)
	}
	return data, nil
}

// writeBlob stores data under its digest; a blob already there is fine.
func (s *Store) writeBlob(ctx context.Context, data []byte, ref string) (digest.Digest, error) {
	dgst := digest.FromBytes(data)
	if _, err := s.content.Info(ctx, dgst); err == nil {
		return dgst, nil
	}
	err := s.copyBlob(ctx, bytes.NewReader(data), content.WriterOpts{Ref: ref, Expected: dgst, Size: int64(len(data))})
	return dgst, err
}

// copyBlob writes r into the content store under opts.Expected (or whatever
// digest it has when that is empty) and commits it.
func (s *Store) copyBlob(ctx context.Context, r io.Reader, opts content.WriterOpts) error {
	w, err := s.content.Writer(ctx, opts)
	if err != nil {
		if errdefs.IsAlreadyExists(err) {
			return nil
		}
		return fmt.Errorf("write blob %s: %w", opts.Ref, err)
	}
	defer w.Close()
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("write blob %s: %w", opts.Ref, err)
	}
	if err := w.Commit(ctx, opts.Size, opts.Expected); err != nil && !errdefs.IsAlreadyExists(err) {
		return fmt.Errorf("write blob %s: %w", opts.Ref, err)
	}
	return nil
}

func (s *Store) hasBlob(ctx context.Context, dgst digest.Digest) bool {
	_, err := s.content.Info(ctx, dgst)
	return err == nil
}

// resolved is an image read from the content store: the manifest chosen for
// the store's platform and the config it names.
type resolved struct {
	ManifestDesc ocispec.Descriptor
	Manifest     ocispec.Manifest
	ConfigRaw    []byte
	Config       Config
}

// resolve reads target (a manifest, or an index to pick from) and its
// config from the content store.
func (s *Store) resolve(ctx context.Context, target ocispec.Descriptor) (resolved, error) {
	var r resolved
	desc, err := s.platformManifest(ctx, target)
	if err != nil {
		return r, err
	}
	data, err := s.readBlob(ctx, desc.Digest)
	if err != nil {
		return r, err
	}
	if r.Manifest, err = parseManifest(data); err != nil {
		return r, err
	}
	r.ManifestDesc = desc
	if r.ConfigRaw, err = s.readBlob(ctx, r.Manifest.Config.Digest); err != nil {
		return r, err
	}
	if r.Config, err = parseConfig(r.ConfigRaw); err != nil {
		return r, err
	}
	if len(r.Config.RootFS.DiffIDs) != len(r.Manifest.Layers) {
		return r, errdefs.InvalidArgument(fmt.Errorf("image %s: %d layers in the manifest but %d in the config",
			desc.Digest, len(r.Manifest.Layers), len(r.Config.RootFS.DiffIDs)))
	}
	return r, nil
}

// platformManifest follows indexes from target down to the manifest for
// the store's platform.
func (s *Store) platformManifest(ctx context.Context, target ocispec.Descriptor) (ocispec.Descriptor, error) {
	desc := target
	for depth := 0; ; depth++ {
		if depth > 4 {
			return desc, errdefs.InvalidArgument(fmt.Errorf("image %s: indexes nested too deep", target.Digest))
		}
		data, err := s.readBlob(ctx, desc.Digest)
		if err != nil {
			return desc, err
		}
		mt, err := detectMediaType(data, desc.MediaType)
		if err != nil {
			return desc, err
		}
		desc.MediaType = mt
		if isManifestType(mt) {
			return desc, nil
		}
		idx, err := parseIndex(data)
		if err != nil {
			return desc, err
		}
		if desc, err = selectManifest(idx, s.platform); err != nil {
			return desc, err
		}
	}
}
