package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/corral-dev/corral/content"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
	"github.com/corral-dev/corral/registry"
	"github.com/corral-dev/corral/snapshot"
)

// Fetcher is what Pull needs of a registry (registry.Client has it).
type Fetcher interface {
	Resolve(ctx context.Context, ref reference.Named) (ocispec.Descriptor, error)
	FetchManifest(ctx context.Context, ref reference.Named, dgstOrTag string) ([]byte, ocispec.Descriptor, error)
	FetchBlob(ctx context.Context, repo reference.Named, desc ocispec.Descriptor) (io.ReadCloser, error)
}

// Pusher is what Push needs of a registry (registry.Client has it).
type Pusher interface {
	BlobExists(ctx context.Context, repo reference.Named, dgst digest.Digest) (bool, error)
	PushBlob(ctx context.Context, repo reference.Named, desc ocispec.Descriptor,
		open func() (io.ReadCloser, error), mountFrom []reference.Named) (registry.PushResult, error)
	PushManifest(ctx context.Context, ref reference.Named, mediaType string, body []byte) (digest.Digest, error)
}

// Registry is a distribution client: *registry.Client.
type Registry interface {
	Fetcher
	Pusher
}

// Options configure a Store.
type Options struct {
	// Root is the engine's state dir (/var/lib/corral); the image metadata
	// is <Root>/image/images.db.
	Root        string
	Content     content.Store
	Snapshotter snapshot.Snapshotter
	// Registry is used by Pull and Push; nil leaves them failing.
	Registry Registry
	// Platform is what Pull, Load and Inspect pick from an index; the zero
	// value means DefaultPlatform().
	Platform ocispec.Platform
	// MaxConcurrentDownloads bounds the layers fetched (and pushed) at
	// once; 0 means 3.
	MaxConcurrentDownloads int
}

// Store is the image store: records naming images, over a content store and
// a snapshotter. It is safe for concurrent use, also by several processes.
type Store struct {
	root      string
	content   content.Store
	snapshots snapshot.Snapshotter
	registry  Registry
	platform  ocispec.Platform
	parallel  int
	db        *db
	lock      *storeLock
	closers   []func() error
}

// Image is an image record: a name and the manifest or index it points at.
type Image struct {
	// Name is the normalised reference, a tag
	// ("docker.io/library/busybox:latest") or a digest reference
	// ("docker.io/library/busybox@sha256:..."); "" for a dangling image.
	Name string `json:"name,omitempty"`
	// Target is the manifest or index the name points at.
	Target ocispec.Descriptor `json:"target"`
	// Manifest is the digest of the platform's manifest (Target's own
	// digest when Target is a manifest).
	Manifest digest.Digest `json:"manifest"`
	// ID is the image ID: the digest of the image's config.
	ID digest.Digest `json:"id"`
	// Created is when the record was written (Docker's LastTagTime).
	Created time.Time         `json:"created"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// New opens the image store. It reclaims what a crashed pull or an
// interrupted removal left behind when no other process is using the store.
func New(ctx context.Context, opts Options) (*Store, error) {
	if opts.Content == nil || opts.Snapshotter == nil || opts.Root == "" {
		return nil, errdefs.InvalidArgument(errors.New("image store: root, content and snapshotter are required"))
	}
	d, err := newDB(filepath.Join(opts.Root, "image", "images.db"))
	if err != nil {
		return nil, err
	}
	s := &Store{
		root: opts.Root, content: opts.Content, snapshots: opts.Snapshotter, registry: opts.Registry,
		platform: opts.Platform, parallel: opts.MaxConcurrentDownloads, db: d,
		lock: &storeLock{path: filepath.Join(opts.Root, "image", "lock")},
	}
	if s.platform.OS == "" {
		s.platform = DefaultPlatform()
	}
	if s.parallel <= 0 {
		s.parallel = 3
	}
	if err := s.recover(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Close releases what New or Open acquired.
func (s *Store) Close() error {
	var errs []error
	for _, c := range s.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// Content returns the content store under the image store.
func (s *Store) Content() content.Store { return s.content }

// Snapshotter returns the snapshotter layers are unpacked into.
func (s *Store) Snapshotter() snapshot.Snapshotter { return s.snapshots }

// List returns every image record, dangling ones included, sorted by name.
func (s *Store) List(ctx context.Context) ([]Image, error) {
	var imgs []Image
	err := s.db.view(func(tx *bolt.Tx) error {
		var err error
		imgs, err = listRecords(tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	sort.Slice(imgs, func(i, j int) bool { return imgs[i].Name < imgs[j].Name })
	return imgs, nil
}

// Get finds the image s names, as Docker's commands take it: a name
// ("busybox", "busybox:1.36", "busybox@sha256:..."), a full image ID
// ("sha256:<hex>" or "<hex>") or a prefix of one. A name wins over an ID
// prefix that looks the same. Unknown is errdefs.ErrNotFound, an ambiguous
// prefix errdefs.ErrInvalidArgument.
func (s *Store) Get(ctx context.Context, ref string) (Image, error) {
	imgs, err := s.List(ctx)
	if err != nil {
		return Image{}, err
	}
	return lookup(imgs, ref)
}

func lookup(imgs []Image, s string) (Image, error) {
	if prefix, _, ok := parseID(s); ok && (strings.HasPrefix(s, "sha256:") || len(prefix) == 64) {
		return byID(imgs, prefix, s)
	}
	if named, err := reference.ParseDockerRef(s); err == nil {
		if img, ok := byName(imgs, named); ok {
			return img, nil
		}
	}
	if prefix, _, ok := parseID(s); ok {
		return byID(imgs, prefix, s)
	}
	return Image{}, errdefs.NotFound(fmt.Errorf("no such image: %s", s))
}

// byName finds a record by its name, or for a digest reference a record of
// the same repository whose target or platform manifest has that digest.
func byName(imgs []Image, named reference.Named) (Image, bool) {
	for _, img := range imgs {
		if img.Name == named.String() {
			return img, true
		}
	}
	c, ok := named.(reference.Canonical)
	if !ok {
		return Image{}, false
	}
	for _, img := range imgs {
		if img.Name != "" && repoOf(img.Name) == named.Name() && (img.Target.Digest == c.Digest() || img.Manifest == c.Digest()) {
			return img, true
		}
	}
	return Image{}, false
}

// byID finds the image whose ID starts with hex prefix; of its records it
// returns a tag first, then a digest reference, then the dangling one.
func byID(imgs []Image, prefix, orig string) (Image, error) {
	var found []Image
	ids := map[digest.Digest]bool{}
	for _, img := range imgs {
		if strings.HasPrefix(img.ID.Encoded(), prefix) {
			found = append(found, img)
			ids[img.ID] = true
		}
	}
	switch {
	case len(ids) == 0:
		return Image{}, errdefs.NotFound(fmt.Errorf("no such image: %s", orig))
	case len(ids) > 1:
		return Image{}, errdefs.InvalidArgument(fmt.Errorf("image ID prefix %s is ambiguous (%d images)", orig, len(ids)))
	}
	sort.SliceStable(found, func(i, j int) bool { return recordRank(found[i]) < recordRank(found[j]) })
	return found[0], nil
}

func recordRank(img Image) int {
	switch {
	case img.Name == "":
		return 2
	case isTag(img.Name):
		return 0
	}
	return 1
}

// Tag gives the image source the name target (a tag; a digest is refused).
// The image target named before becomes dangling if nothing else names it.
func (s *Store) Tag(ctx context.Context, source, target string) error {
	unlock, err := s.shared(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	img, err := s.Get(ctx, source)
	if err != nil {
		return err
	}
	named, err := ParseReference(target)
	if err != nil {
		return err
	}
	if _, ok := named.(reference.Digested); ok {
		return errdefs.InvalidArgument(fmt.Errorf("tag %s: refusing to create a tag with a digest reference", target))
	}
	return s.db.update(func(tx *bolt.Tx) error { return setName(tx, named.String(), img) })
}

// setName points name at img's target within tx, keeping the image it named
// before as a dangling image when nothing else names that.
func setName(tx *bolt.Tx, name string, img Image) error {
	old, err := getRecord(tx, name)
	hadOld := err == nil
	if err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	img.Name = name
	img.Created = time.Now().UTC()
	if err := putRecord(tx, name, img); err != nil {
		return err
	}
	if err := tx.Bucket(bucketImages).Delete([]byte(danglingKey(img.Target.Digest))); err != nil {
		return err
	}
	if !hadOld || old.ID == img.ID {
		return nil
	}
	return keepDangling(tx, old)
}

// keepDangling adds a dangling record for img if no record has its ID.
func keepDangling(tx *bolt.Tx, img Image) error {
	imgs, err := listRecords(tx)
	if err != nil {
		return err
	}
	for _, o := range imgs {
		if o.ID == img.ID {
			return nil
		}
	}
	img.Name = ""
	return putRecord(tx, danglingKey(img.Target.Digest), img)
}

// Untag removes the name (a tag or digest reference) and returns the image
// it named; the image stays, dangling if nothing else names it. Use Remove
// for `rmi` semantics.
func (s *Store) Untag(ctx context.Context, name string) (Image, error) {
	named, err := ParseReference(name)
	if err != nil {
		return Image{}, err
	}
	unlock, err := s.shared(ctx)
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	var img Image
	err = s.db.update(func(tx *bolt.Tx) error {
		img, err = getRecord(tx, named.String())
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketImages).Delete([]byte(named.String())); err != nil {
			return err
		}
		return keepDangling(tx, img)
	})
	return img, err
}
