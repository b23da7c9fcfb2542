package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"

	"github.com/corral-dev/corral/content"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
	"github.com/corral-dev/corral/snapshot"
)

// PullOptions tune Pull.
type PullOptions struct {
	// Platform is what to pick from an index; the zero value means the
	// store's platform.
	Platform ocispec.Platform
	// Progress receives progress events, one call at a time.
	Progress func(Progress)
}

// pull is the state of one Pull.
type pull struct {
	s        *Store
	named    reference.Named
	platform ocispec.Platform
	rep      *reporter
	lease    string
	fetched  atomic.Bool // a blob was downloaded
}

// Pull fetches the image ref names ("busybox", "localhost:5000/x@sha256:…")
// from its registry: the manifest for the platform (from an index or
// manifest list if the name points at one), its config and layers, several
// at once, each verified; layers are unpacked in order, each once, while
// later ones download. It records the name (and, for a tag, the digest
// reference too) and returns the image. An interrupted or failed pull
// leaves nothing that the collector does not reclaim.
func (s *Store) Pull(ctx context.Context, ref string, opts PullOptions) (Image, error) {
	named, err := ParseReference(ref)
	if err != nil {
		return Image{}, err
	}
	if s.registry == nil {
		return Image{}, errdefs.Wrap(errdefs.ErrNotImplemented, errors.New("pull: no registry client configured"))
	}
	p := &pull{s: s, named: named, platform: opts.Platform, rep: newReporter(opts.Progress)}
	if p.platform.OS == "" {
		p.platform = s.platform
	}
	var img Image
	err = s.withLease(ctx, "pull", func(lease string) error {
		p.lease = lease
		img, err = p.run(ctx)
		return err
	})
	if err != nil {
		return Image{}, fmt.Errorf("pull %s: %w", FamiliarString(named), err)
	}
	return img, nil
}

// withLease runs fn holding the store lock shared and a temporary lease;
// when fn fails, what it wrote is collected (now if no other verb runs).
func (s *Store) withLease(ctx context.Context, purpose string, fn func(lease string) error) error {
	unlock, err := s.shared(ctx)
	if err != nil {
		return err
	}
	lease, err := s.db.createLease(purpose)
	if err != nil {
		unlock()
		return err
	}
	err = fn(lease)
	cleanupCtx := context.WithoutCancel(ctx)
	if derr := s.db.deleteLease(lease); derr != nil && err == nil {
		err = derr
	}
	unlock()
	if err != nil {
		_, _ = s.tryGC(cleanupCtx)
	}
	return err
}

func (p *pull) run(ctx context.Context) (Image, error) {
	p.rep.status(refPart(p.named), "Pulling from "+reference.Path(p.named))
	desc, err := p.s.registry.Resolve(ctx, p.named)
	if err != nil {
		return Image{}, err
	}
	top, data, err := p.manifestBlob(ctx, desc)
	if err != nil {
		return Image{}, err
	}
	mdesc, man, err := p.platformManifest(ctx, top, data)
	if err != nil {
		return Image{}, err
	}
	cfg, err := p.config(ctx, man.Config)
	if err != nil {
		return Image{}, err
	}
	if err := p.layers(ctx, man, cfg); err != nil {
		return Image{}, err
	}
	return p.record(ctx, top, mdesc, man)
}

// refPart is what Docker prints before "Pulling from": the tag or digest.
func refPart(named reference.Named) string {
	if d, ok := named.(reference.Digested); ok {
		return d.Digest().String()
	}
	if t, ok := named.(reference.Tagged); ok {
		return t.Tag()
	}
	return "latest"
}

// manifestBlob gets a manifest or index (from the store if present) and
// stores it; the returned descriptor has its real media type.
func (p *pull) manifestBlob(ctx context.Context, desc ocispec.Descriptor) (ocispec.Descriptor, []byte, error) {
	if err := p.s.db.addToLease(p.lease, leaseRef{Content: []digest.Digest{desc.Digest}}); err != nil {
		return desc, nil, err
	}
	data, err := p.s.readBlob(ctx, desc.Digest)
	if err != nil {
		if data, _, err = p.s.registry.FetchManifest(ctx, p.named, desc.Digest.String()); err != nil {
			return desc, nil, err
		}
		if got := desc.Digest.Algorithm().FromBytes(data); got != desc.Digest {
			return desc, nil, errdefs.InvalidArgument(fmt.Errorf("manifest digest mismatch: expected %s, got %s", desc.Digest, got))
		}
		if _, err := p.s.writeBlob(ctx, data, "manifest-"+desc.Digest.Encoded()); err != nil {
			return desc, nil, err
		}
	}
	mt, err := detectMediaType(data, desc.MediaType)
	if err != nil {
		return desc, nil, err
	}
	desc.MediaType, desc.Size = mt, int64(len(data))
	return desc, data, nil
}

// platformManifest follows indexes down to the platform's manifest.
func (p *pull) platformManifest(ctx context.Context, desc ocispec.Descriptor, data []byte) (ocispec.Descriptor, ocispec.Manifest, error) {
	for depth := 0; isIndexType(desc.MediaType); depth++ {
		if depth > 4 {
			return desc, ocispec.Manifest{}, errdefs.InvalidArgument(errors.New("indexes nested too deep"))
		}
		idx, err := parseIndex(data)
		if err != nil {
			return desc, ocispec.Manifest{}, err
		}
		child, err := selectManifest(idx, p.platform)
		if err != nil {
			return desc, ocispec.Manifest{}, err
		}
		if desc, data, err = p.manifestBlob(ctx, child); err != nil {
			return desc, ocispec.Manifest{}, err
		}
	}
	man, err := parseManifest(data)
	return desc, man, err
}

// config fetches the image config and checks that it is for the platform.
func (p *pull) config(ctx context.Context, desc ocispec.Descriptor) (Config, error) {
	if err := p.s.db.addToLease(p.lease, leaseRef{Content: []digest.Digest{desc.Digest}}); err != nil {
		return Config{}, err
	}
	if !p.s.hasBlob(ctx, desc.Digest) {
		if err := p.fetchBlob(ctx, desc, nil, nil); err != nil {
			return Config{}, fmt.Errorf("fetch config: %w", err)
		}
	}
	raw, err := p.s.readBlob(ctx, desc.Digest)
	if err != nil {
		return Config{}, err
	}
	cfg, err := parseConfig(raw)
	if err != nil {
		return Config{}, err
	}
	have := ocispec.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
	if cfg.OS != "" && cfg.Architecture != "" {
		if _, ok := platformRank(p.platform, have); !ok {
			return Config{}, errdefs.NotFound(fmt.Errorf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s",
				FamiliarString(p.named), PlatformString(p.platform), PlatformString(NormalizePlatform(have))))
		}
	}
	return cfg, nil
}

// fetchBlob downloads a blob into the content store, verified; rep, when
// not nil, gets "Downloading" events; ls, when not nil, gets the blob's
// bytes as they arrive (it is not ended here).
func (p *pull) fetchBlob(ctx context.Context, desc ocispec.Descriptor, rep *reporter, ls *layerStream) error {
	rc, err := p.s.registry.FetchBlob(ctx, p.named, desc)
	if err != nil {
		return err
	}
	defer rc.Close()
	var r io.Reader = rc
	if rep != nil {
		r = &progressReader{r: rc, rep: rep, id: ShortID(desc.Digest), action: ActionDownloading, total: desc.Size}
	}
	if ls != nil {
		r = ls.tee(r)
	}
	p.fetched.Store(true)
	return p.s.copyBlob(ctx, r, content.WriterOpts{Ref: "pull-" + desc.Digest.Encoded(), Expected: desc.Digest, Size: desc.Size})
}

// committed reports whether the layer snapshot chainID exists.
func (s *Store) committed(ctx context.Context, chainID digest.Digest) bool {
	info, err := s.snapshots.Stat(ctx, chainID.String())
	return err == nil && info.Kind == snapshot.KindCommitted
}

// layers downloads the missing layer blobs, several at once, while a
// second goroutine unpacks them in order as they arrive.
func (p *pull) layers(ctx context.Context, man ocispec.Manifest, cfg Config) error {
	chain := ChainIDs(cfg.RootFS.DiffIDs)
	digests := make([]digest.Digest, len(man.Layers))
	for i, l := range man.Layers {
		digests[i] = l.Digest
	}
	if err := p.s.db.addToLease(p.lease, leaseRef{Content: digests}); err != nil {
		return err
	}
	plan := p.plan(ctx, man, chain)
	g, gctx := errgroup.WithContext(ctx)
	p.download(gctx, g, man, plan)
	g.Go(func() error { return p.unpack(gctx, man, cfg, chain, plan) })
	return g.Wait()
}

// layerPlan says what a pull does for each layer.
type layerPlan struct {
	fetch  []bool                          // download the blob (first occurrence)
	unpack []bool                          // unpack into a snapshot
	done   map[digest.Digest]chan struct{} // closed when a download completes
	// streams are the layers unpacked as they download (those both
	// fetched and unpacked), by index.
	streams map[int]*layerStream
}

func (p *pull) plan(ctx context.Context, man ocispec.Manifest, chain []digest.Digest) layerPlan {
	n := len(man.Layers)
	pl := layerPlan{fetch: make([]bool, n), unpack: make([]bool, n), done: map[digest.Digest]chan struct{}{},
		streams: map[int]*layerStream{}}
	queued := 0
	for i, l := range man.Layers {
		pl.unpack[i] = !p.s.committed(ctx, chain[i])
		_, seen := pl.done[l.Digest]
		pl.fetch[i] = !seen && !p.s.hasBlob(ctx, l.Digest)
		id := ShortID(l.Digest)
		switch {
		case !pl.unpack[i] && !pl.fetch[i]:
			p.rep.status(id, ActionAlreadyExists)
		case pl.fetch[i]:
			pl.done[l.Digest] = make(chan struct{})
			if pl.unpack[i] {
				pl.streams[i] = newLayerStream()
			}
			p.rep.status(id, ActionPullingLayer)
			if queued >= p.s.parallel {
				p.rep.status(id, ActionWaiting)
			}
			queued++
		default:
			p.rep.status(id, ActionPullingLayer)
		}
	}
	return pl
}

// download starts the workers that fetch the planned layers in order.
func (p *pull) download(ctx context.Context, g *errgroup.Group, man ocispec.Manifest, pl layerPlan) {
	work := make(chan int)
	g.Go(func() error {
		defer close(work)
		for i := range man.Layers {
			if !pl.fetch[i] {
				continue
			}
			select {
			case work <- i:
			case <-ctx.Done():
				return nil
			}
		}
		return nil
	})
	for range p.s.parallel {
		g.Go(func() error {
			for i := range work {
				l := man.Layers[i]
				ls := pl.streams[i]
				err := p.fetchBlob(ctx, l, p.rep, ls)
				if err == nil {
					p.rep.status(ShortID(l.Digest), ActionVerifying)
					p.rep.status(ShortID(l.Digest), ActionDownloadComplete)
				}
				if ls != nil {
					ls.end(err) // after the statuses: the unpacker reports next
				}
				if err != nil {
					return fmt.Errorf("fetch layer %s: %w", ShortID(l.Digest), err)
				}
				if !pl.unpack[i] {
					p.rep.status(ShortID(l.Digest), ActionPullComplete)
				}
				close(pl.done[l.Digest])
			}
			return nil
		})
	}
}

// unpack unpacks the layers that need it, each once its blob is there,
// several at once (see unpackLayers).
func (p *pull) unpack(ctx context.Context, man ocispec.Manifest, cfg Config, chain []digest.Digest, pl layerPlan) error {
	var jobs []layerJob
	var idx []int
	for i, l := range man.Layers {
		if !pl.unpack[i] {
			continue
		}
		parent := ""
		if i > 0 {
			parent = chain[i-1].String()
		}
		jobs = append(jobs, layerJob{desc: l, diffID: cfg.RootFS.DiffIDs[i], chain: chain[i], parent: parent,
			ready: pl.done[l.Digest], stream: pl.streams[i]})
		idx = append(idx, i)
	}
	return p.s.unpackLayers(ctx, p.lease, jobs, p.rep, func(k int) {
		p.rep.status(ShortID(man.Layers[idx[k]].Digest), ActionPullComplete)
	})
}

// record names the pulled image: the tag (if the reference has one) and
// the digest reference, and notes which repository its blobs came from.
func (p *pull) record(ctx context.Context, top, mdesc ocispec.Descriptor, man ocispec.Manifest) (Image, error) {
	img := Image{Target: top, Manifest: mdesc.Digest, ID: man.Config.Digest}
	dname, err := withDigest(p.named.Name(), top.Digest)
	if err != nil {
		return Image{}, err
	}
	names := []string{dname}
	if _, ok := p.named.(reference.Tagged); ok {
		names = []string{p.named.String(), dname}
	}
	blobs := []digest.Digest{top.Digest, mdesc.Digest, man.Config.Digest}
	for _, l := range man.Layers {
		blobs = append(blobs, l.Digest)
	}
	upToDate := false
	err = p.s.db.update(func(tx *bolt.Tx) error {
		if old, err := getRecord(tx, names[0]); err == nil && old.Target.Digest == top.Digest {
			upToDate = true
		}
		for _, n := range names {
			if err := setName(tx, n, img); err != nil {
				return err
			}
		}
		if err := addSources(tx, p.named.Name(), blobs); err != nil {
			return err
		}
		return deleteLeaseTx(tx, p.lease)
	})
	if err != nil {
		return Image{}, fmt.Errorf("record image: %w", err)
	}
	p.rep.status("", "Digest: "+top.Digest.String())
	if upToDate && !p.fetched.Load() {
		p.rep.status("", "Status: Image is up to date for "+FamiliarString(p.named))
	} else {
		p.rep.status("", "Status: Downloaded newer image for "+FamiliarString(p.named))
	}
	img.Name = names[0]
	return img, nil
}
