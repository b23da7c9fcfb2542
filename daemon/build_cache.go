package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/build"

	"github.com/corral-dev/corral/api"
	cbuild "github.com/corral-dev/corral/build"
	"github.com/corral-dev/corral/errdefs"
)

// Builds is the Dockerfile builder of POST /build with what it keeps:
// the layer cache (entries of the image store and the images they name)
// and the RUN --mount cache dirs, which builder prune frees and system
// df counts.
type Builds struct {
	*cbuild.Builder
	images *Images
}

// BuildPrune is POST /build/prune: the cache entries whose image nothing
// keeps (with all, every entry) and those images, then every cache mount.
func (b *Builds) BuildPrune(ctx context.Context, opts api.BuildPruneOptions) (build.CachePruneReport, error) {
	if keys := opts.Filters.Keys(); len(keys) > 0 {
		return build.CachePruneReport{}, errdefs.InvalidArgument(fmt.Errorf("build cache prune: filter %q is not supported", keys[0]))
	}
	rep, err := b.images.store.CachePrune(ctx, opts.All, b.images.inUse)
	out := build.CachePruneReport{CachesDeleted: append([]string{}, rep.Keys...), SpaceReclaimed: rep.SpaceReclaimed}
	if err != nil {
		return out, err
	}
	ids, freed, err := b.PruneCacheMounts()
	for _, id := range ids {
		out.CachesDeleted = append(out.CachesDeleted, "cache mount "+id)
	}
	out.SpaceReclaimed += uint64(freed)
	return out, err
}

// diskUsage is the build cache of GET /system/df: one record per cache
// entry (a shared one's layers belong to images kept anyway) and per
// cache mount.
func (b *Builds) diskUsage(ctx context.Context) (*build.DiskUsage, error) {
	entries, err := b.images.store.CacheEntries(ctx, b.images.inUse)
	if err != nil {
		return nil, err
	}
	recs := []build.CacheRecord{}
	for _, e := range entries {
		recs = append(recs, build.CacheRecord{ID: shortKey(e.Key), Type: "regular", Description: e.Image.ID,
			Shared: e.Shared, InUse: e.InUse, Size: e.Size, CreatedAt: time.Unix(e.Image.Created, 0), UsageCount: 1})
	}
	mounts, err := b.CacheMounts()
	if err != nil {
		return nil, err
	}
	for _, m := range mounts {
		recs = append(recs, build.CacheRecord{ID: shortKey(m.Dir), Type: "exec.cachemount",
			Description: "cached mount " + m.ID, Size: m.Size, CreatedAt: m.Created, UsageCount: 1})
	}
	return api.BuildCacheUsage(recs), nil
}

// shortKey is a cache key or path as a record ID: its last 12 hex digits.
func shortKey(k string) string {
	if len(k) > 12 {
		return k[len(k)-12:]
	}
	return k
}

// inUse says whether a container was made from image id.
func (i *Images) inUse(id string) bool {
	return i.users != nil && len(i.users(id)) > 0
}
