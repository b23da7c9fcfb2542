package image

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
	"github.com/corral-dev/corral/registry"
)

// PushOptions tune Push.
type PushOptions struct {
	// Progress receives progress events, one call at a time.
	Progress func(Progress)
}

// Push uploads the image ref names to its registry: the layers (several at
// once; mounted from another repository of the same registry when the
// store knows the blob is there), the config, then the platform's manifest
// under ref's tag. It records the pushed digest as a digest reference and
// returns it.
func (s *Store) Push(ctx context.Context, ref string, opts PushOptions) (digest.Digest, error) {
	named, err := ParseReference(ref)
	if err != nil {
		return "", err
	}
	if s.registry == nil {
		return "", errdefs.Wrap(errdefs.ErrNotImplemented, errors.New("push: no registry client configured"))
	}
	unlock, err := s.shared(ctx)
	if err != nil {
		return "", err
	}
	defer unlock()
	img, err := s.Get(ctx, named.String())
	if err != nil {
		return "", err
	}
	r, err := s.resolve(ctx, img.Target)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", FamiliarString(named), err)
	}
	rep := newReporter(opts.Progress)
	rep.status("", "The push refers to repository ["+named.Name()+"]")
	if err := s.pushBlobs(ctx, named, r, rep); err != nil {
		return "", fmt.Errorf("push %s: %w", FamiliarString(named), err)
	}
	body, err := s.readBlob(ctx, r.ManifestDesc.Digest)
	if err != nil {
		return "", err
	}
	dgst, err := s.registry.PushManifest(ctx, named, r.ManifestDesc.MediaType, body)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", FamiliarString(named), err)
	}
	if err := s.recordPush(named, img, r); err != nil {
		return "", err
	}
	rep.status("", fmt.Sprintf("%s: digest: %s size: %d", refPart(named), dgst, len(body)))
	return dgst, nil
}

// pushBlobs pushes the layers, several at once, then the config.
func (s *Store) pushBlobs(ctx context.Context, named reference.Named, r resolved, rep *reporter) error {
	sources := map[digest.Digest][]string{}
	err := s.db.view(func(tx *bolt.Tx) error {
		for _, l := range append([]ocispec.Descriptor{r.Manifest.Config}, r.Manifest.Layers...) {
			sources[l.Digest] = sourcesOf(tx, l.Digest)
		}
		return nil
	})
	if err != nil {
		return err
	}
	ids := make([]string, len(r.Manifest.Layers))
	for i := range r.Manifest.Layers {
		ids[i] = ShortID(r.Manifest.Layers[i].Digest)
		if i < len(r.Config.RootFS.DiffIDs) {
			ids[i] = ShortID(r.Config.RootFS.DiffIDs[i])
		}
		rep.status(ids[i], ActionPreparing)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.parallel)
	for i := len(r.Manifest.Layers) - 1; i >= 0; i-- {
		g.Go(func() error {
			return s.pushBlob(gctx, named, r.Manifest.Layers[i], mountCandidates(named, sources[r.Manifest.Layers[i].Digest]), ids[i], rep)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return s.pushBlob(ctx, named, r.Manifest.Config, mountCandidates(named, sources[r.Manifest.Config.Digest]), "", nil)
}

// mountCandidates are the other repositories of named's registry that
// have a blob.
func mountCandidates(named reference.Named, repos []string) []reference.Named {
	var out []reference.Named
	for _, repo := range repos {
		n, err := reference.ParseNormalizedNamed(repo)
		if err != nil || reference.Domain(n) != reference.Domain(named) || n.Name() == named.Name() {
			continue
		}
		out = append(out, n)
	}
	return out
}

// pushBlob pushes one blob from the content store; id names it in progress
// events (rep may be nil).
func (s *Store) pushBlob(ctx context.Context, named reference.Named, desc ocispec.Descriptor, from []reference.Named, id string, rep *reporter) error {
	open := func() (io.ReadCloser, error) {
		ra, err := s.content.ReaderAt(ctx, desc.Digest)
		if err != nil {
			return nil, err
		}
		var r io.Reader = io.NewSectionReader(ra, 0, ra.Size())
		if rep != nil {
			r = &progressReader{r: r, rep: rep, id: id, action: ActionPushing, total: ra.Size()}
		}
		return struct {
			io.Reader
			io.Closer
		}{r, ra}, nil
	}
	res, err := s.registry.PushBlob(ctx, named, desc, open, from)
	if err != nil {
		return err
	}
	switch res.Status {
	case registry.Exists:
		rep.status(id, ActionLayerExists)
	case registry.Mounted:
		rep.status(id, "Mounted from "+reference.FamiliarName(res.MountedFrom))
	default:
		rep.status(id, ActionPushed)
	}
	return nil
}

// recordPush notes that the image's blobs are in named's repository and
// adds the pushed digest reference.
func (s *Store) recordPush(named reference.Named, img Image, r resolved) error {
	blobs := []digest.Digest{r.ManifestDesc.Digest, r.Manifest.Config.Digest}
	for _, l := range r.Manifest.Layers {
		blobs = append(blobs, l.Digest)
	}
	dname, err := withDigest(named.Name(), r.ManifestDesc.Digest)
	if err != nil {
		return err
	}
	pushed := Image{Target: r.ManifestDesc, Manifest: r.ManifestDesc.Digest, ID: img.ID, Labels: img.Labels}
	return s.db.update(func(tx *bolt.Tx) error {
		if err := addSources(tx, named.Name(), blobs); err != nil {
			return err
		}
		return setName(tx, dname, pushed)
	})
}
