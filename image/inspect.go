package image

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/corral-dev/corral/content"
	"github.com/corral-dev/corral/snapshot"
)

// InspectResult is `docker image inspect`'s document (the Engine API's
// ImageInspect), with Docker's field names.
type InspectResult struct {
	ID            string              `json:"Id"`
	RepoTags      []string            `json:"RepoTags"`
	RepoDigests   []string            `json:"RepoDigests"`
	Parent        string              `json:"Parent"`
	Comment       string              `json:"Comment"`
	Created       string              `json:"Created,omitempty"`
	DockerVersion string              `json:"DockerVersion"`
	Author        string              `json:"Author"`
	Config        *ContainerConfig    `json:"Config"`
	Architecture  string              `json:"Architecture"`
	Variant       string              `json:"Variant,omitempty"`
	Os            string              `json:"Os"`
	OsVersion     string              `json:"OsVersion,omitempty"`
	Size          int64               `json:"Size"`
	GraphDriver   GraphDriver         `json:"GraphDriver"`
	RootFS        RootFS              `json:"RootFS"`
	Metadata      Metadata            `json:"Metadata"`
	Descriptor    *ocispec.Descriptor `json:"Descriptor,omitempty"`
}

// GraphDriver names the storage driver, as Docker's containerd store does.
type GraphDriver struct {
	Name string            `json:"Name"`
	Data map[string]string `json:"Data"`
}

// RootFS lists an image's layers by diff ID.
type RootFS struct {
	Type   string   `json:"Type"`
	Layers []string `json:"Layers,omitempty"`
}

// Metadata is local metadata of an image.
type Metadata struct {
	LastTagTime time.Time `json:"LastTagTime,omitempty"`
}

// Summary is one image of `docker images` (the Engine API's ImageSummary):
// all the names of one image ID.
type Summary struct {
	ID          string            `json:"Id"`
	ParentID    string            `json:"ParentId"`
	RepoTags    []string          `json:"RepoTags"`
	RepoDigests []string          `json:"RepoDigests"`
	Created     int64             `json:"Created"`
	Size        int64             `json:"Size"`
	SharedSize  int64             `json:"SharedSize"`
	Labels      map[string]string `json:"Labels"`
	Containers  int64             `json:"Containers"`
	// Target is the manifest or index a name points at.
	Target ocispec.Descriptor `json:"-"`
}

// HistoryItem is one line of `docker image history`.
type HistoryItem struct {
	ID        string   `json:"Id"`
	Created   int64    `json:"Created"`
	CreatedBy string   `json:"CreatedBy"`
	Tags      []string `json:"Tags"`
	Size      int64    `json:"Size"`
	Comment   string   `json:"Comment"`
}

// names splits the records of image id into familiar tags and digest
// references, sorted, and returns the newest record time.
func names(imgs []Image, id digest.Digest) (tags, digests []string, last time.Time) {
	tags, digests = []string{}, []string{}
	for _, img := range imgs {
		if img.ID != id || img.Name == "" {
			continue
		}
		if isTag(img.Name) {
			tags = append(tags, familiar(img.Name))
		} else {
			digests = append(digests, familiar(img.Name))
		}
		if img.Created.After(last) {
			last = img.Created
		}
	}
	sort.Strings(tags)
	sort.Strings(digests)
	return tags, digests, last
}

// Inspect describes the image ref names (see Get for what it takes).
func (s *Store) Inspect(ctx context.Context, ref string) (InspectResult, error) {
	imgs, err := s.List(ctx)
	if err != nil {
		return InspectResult{}, err
	}
	img, err := lookup(imgs, ref)
	if err != nil {
		return InspectResult{}, err
	}
	r, err := s.resolve(ctx, img.Target)
	if err != nil {
		return InspectResult{}, fmt.Errorf("inspect %s: %w", ref, err)
	}
	size, err := s.imageSize(ctx, r.Config.RootFS.DiffIDs)
	if err != nil {
		return InspectResult{}, err
	}
	tags, digests, last := names(imgs, img.ID)
	c := r.Config
	out := InspectResult{
		ID: img.ID.String(), RepoTags: tags, RepoDigests: digests, Parent: c.Parent, Comment: c.Comment,
		DockerVersion: c.DockerVersion, Author: c.Author, Config: &c.Config, Architecture: c.Architecture,
		Variant: c.Variant, Os: c.OS, OsVersion: c.OSVersion, Size: size,
		GraphDriver: GraphDriver{Name: "overlayfs"}, RootFS: RootFS{Type: c.RootFS.Type},
		Metadata: Metadata{LastTagTime: last}, Descriptor: &img.Target,
	}
	if c.Created != nil {
		out.Created = c.Created.UTC().Format(time.RFC3339Nano)
	}
	for _, d := range c.RootFS.DiffIDs {
		out.RootFS.Layers = append(out.RootFS.Layers, d.String())
	}
	return out, nil
}

// imageSize is the unpacked size of an image's layers.
func (s *Store) imageSize(ctx context.Context, diffIDs []digest.Digest) (int64, error) {
	var total int64
	for _, c := range ChainIDs(diffIDs) {
		n, err := s.layerSize(ctx, c)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// layerSize is the disk a layer snapshot uses on its own, measured once and
// remembered (committed snapshots do not change); a missing layer is 0.
func (s *Store) layerSize(ctx context.Context, chainID digest.Digest) (int64, error) {
	if n := s.cachedLayerSize(chainID); n >= 0 {
		return n, nil
	}
	u, err := s.snapshots.Usage(ctx, chainID.String())
	if err != nil {
		return 0, nil //nolint:nilerr // a layer not unpacked takes no room
	}
	err = s.db.update(func(tx *bolt.Tx) error { return putLayerSize(tx, chainID, u.Size) })
	return u.Size, err
}

// Images lists the images as `docker images` shows them: one Summary per
// image ID with all its names, newest first.
func (s *Store) Images(ctx context.Context) ([]Summary, error) {
	imgs, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []Summary
	seen := map[digest.Digest]bool{}
	for _, img := range imgs {
		if seen[img.ID] {
			continue
		}
		seen[img.ID] = true
		sum, err := s.summary(ctx, imgs, img)
		if err != nil {
			return nil, err
		}
		out = append(out, sum)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created > out[j].Created })
	return out, nil
}

func (s *Store) summary(ctx context.Context, imgs []Image, img Image) (Summary, error) {
	r, err := s.resolve(ctx, img.Target)
	if err != nil {
		return Summary{}, fmt.Errorf("image %s: %w", img.ID, err)
	}
	size, err := s.imageSize(ctx, r.Config.RootFS.DiffIDs)
	if err != nil {
		return Summary{}, err
	}
	tags, digests, _ := names(imgs, img.ID)
	sum := Summary{ID: img.ID.String(), RepoTags: tags, RepoDigests: digests, Size: size, SharedSize: -1,
		Labels: r.Config.Config.Labels, Containers: -1, Target: img.Target, ParentID: r.Config.Parent}
	if r.Config.Created != nil {
		sum.Created = r.Config.Created.Unix()
	}
	return sum, nil
}

// History lists the steps that built the image ref names, newest first, as
// `docker image history` does: the top one carries the image ID and tags,
// so do those where an ancestor still here ends, the others "<missing>";
// steps that made a layer carry its size.
func (s *Store) History(ctx context.Context, ref string) ([]HistoryItem, error) {
	imgs, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	img, err := lookup(imgs, ref)
	if err != nil {
		return nil, err
	}
	r, err := s.resolve(ctx, img.Target)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", ref, err)
	}
	hist := r.Config.History
	if len(hist) == 0 {
		hist = make([]ocispec.History, len(r.Config.RootFS.DiffIDs))
	}
	chain := ChainIDs(r.Config.RootFS.DiffIDs)
	var out []HistoryItem
	layer := 0
	for _, h := range hist {
		item := HistoryItem{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment, Tags: []string{}}
		if h.Created != nil {
			item.Created = h.Created.Unix()
		}
		if !h.EmptyLayer && layer < len(chain) {
			if item.Size, err = s.layerSize(ctx, chain[layer]); err != nil {
				return nil, err
			}
			layer++
		}
		out = append(out, item)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if len(out) > 0 {
		out[0].ID = img.ID.String()
		out[0].Tags, _, _ = names(imgs, img.ID)
	}
	s.ancestorIDs(ctx, imgs, r.Config.Parent, out)
	return out, nil
}

// ancestorIDs names in out (newest first) the steps where the image's
// ancestors still here end, from parent up, as docker's history does for
// images built here; the others stay "<missing>".
func (s *Store) ancestorIDs(ctx context.Context, imgs []Image, parent string, out []HistoryItem) {
	for parent != "" {
		p, err := lookup(imgs, parent)
		if err != nil {
			return
		}
		r, err := s.resolve(ctx, p.Target)
		if err != nil || len(r.Config.History) == 0 || len(r.Config.History) > len(out) {
			return
		}
		it := &out[len(out)-len(r.Config.History)]
		it.ID = p.ID.String()
		it.Tags, _, _ = names(imgs, p.ID)
		parent = r.Config.Parent
	}
}

// DiskUsage is what `docker system df` reports for images, measured on
// disk: each layer and blob counted once however many images share it.
type DiskUsage struct {
	// Images have Size (all their layers) and SharedSize (the part in
	// layers other images use too).
	Images []Summary
	// LayersSize is the disk of every unpacked layer (committed snapshot).
	LayersSize int64
	// ContentSize is the disk of every blob (compressed layers, manifests,
	// configs).
	ContentSize int64
	// TotalSize is LayersSize + ContentSize: the images' share of the disk.
	TotalSize int64
}

// DiskUsage measures the disk the images use.
func (s *Store) DiskUsage(ctx context.Context) (DiskUsage, error) {
	var du DiskUsage
	sums, err := s.Images(ctx)
	if err != nil {
		return du, err
	}
	users := map[digest.Digest]int{} // chain ID → images using it
	chains := make([][]digest.Digest, len(sums))
	for i, sum := range sums {
		r, err := s.resolve(ctx, sum.Target)
		if err != nil {
			return du, err
		}
		chains[i] = ChainIDs(r.Config.RootFS.DiffIDs)
		for _, c := range uniq(chains[i]) {
			users[c]++
		}
	}
	for i := range sums {
		sums[i].SharedSize = 0
		for _, c := range uniq(chains[i]) {
			if users[c] > 1 {
				n, err := s.layerSize(ctx, c)
				if err != nil {
					return du, err
				}
				sums[i].SharedSize += n
			}
		}
	}
	du.Images = sums
	if du.LayersSize, err = s.allLayersSize(ctx); err != nil {
		return du, err
	}
	err = s.content.Walk(ctx, func(info content.Info) error {
		du.ContentSize += info.Size
		return nil
	})
	du.TotalSize = du.LayersSize + du.ContentSize
	return du, err
}

func (s *Store) allLayersSize(ctx context.Context) (int64, error) {
	var keys []string
	err := s.snapshots.Walk(ctx, func(info snapshot.Info) error {
		if info.Kind == snapshot.KindCommitted {
			keys = append(keys, info.Key)
		}
		return nil
	})
	var total int64
	for _, k := range keys {
		n, err := s.layerSize(ctx, digest.Digest(k))
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, err
}

func uniq(ds []digest.Digest) []digest.Digest {
	seen := map[digest.Digest]bool{}
	var out []digest.Digest
	for _, d := range ds {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}
