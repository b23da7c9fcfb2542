package image

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// CacheGet answers the image a build step with cache key made, if that
// image still exists: the builder's layer cache, kept with the images so
// that it outlives the daemon.
func (s *Store) CacheGet(ctx context.Context, key string) (Image, bool, error) {
	var id string
	err := s.db.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketBuild); b != nil {
			id = string(b.Get([]byte(key)))
		}
		return nil
	})
	if err != nil || id == "" {
		return Image{}, false, err
	}
	img, err := s.Get(ctx, id)
	if err != nil {
		return Image{}, false, nil //nolint:nilerr // an image removed since is a miss
	}
	return img, true, nil
}

// CachePut records that the build step with cache key made image id.
func (s *Store) CachePut(key string, id digest.Digest) error {
	err := s.db.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketBuild)
		if err != nil {
			return err
		}
		return b.Put([]byte(key), []byte(id.String()))
	})
	if err != nil {
		return fmt.Errorf("record build cache: %w", err)
	}
	return nil
}

// CacheEntry is one record of the build cache: the step's key, the image
// it made, and what that image is to the others.
type CacheEntry struct {
	Key   string
	Image Summary
	// Size is what the step added to its parent (its layer, if any).
	Size int64
	// Shared says the image is kept anyway: tagged, an ancestor of a
	// tagged image, or of an image in use; pruning it frees nothing.
	Shared bool
	// InUse says a container uses the image itself.
	InUse bool
}

// CacheEntries lists the build cache; inUse (may be nil) names the images
// containers use. Entries whose image is gone are left out.
func (s *Store) CacheEntries(ctx context.Context, inUse func(id string) bool) ([]CacheEntry, error) {
	sums, err := s.Images(ctx)
	if err != nil {
		return nil, err
	}
	byID, kept := keptImages(sums, inUse)
	raw, err := s.cacheRecords()
	if err != nil {
		return nil, err
	}
	var out []CacheEntry
	for _, kv := range raw {
		sum, ok := byID[kv[1]]
		if !ok {
			continue
		}
		e := CacheEntry{Key: kv[0], Image: sum, Size: sum.Size, Shared: kept[sum.ID], InUse: inUse != nil && inUse(sum.ID)}
		if p, ok := byID[sum.ParentID]; ok {
			e.Size = max(sum.Size-p.Size, 0)
		}
		out = append(out, e)
	}
	return out, nil
}

// keptImages indexes sums by ID and answers the images a prune must keep:
// tagged ones, those inUse, and their ancestors.
func keptImages(sums []Summary, inUse func(id string) bool) (map[string]Summary, map[string]bool) {
	byID := make(map[string]Summary, len(sums))
	for _, s := range sums {
		byID[s.ID] = s
	}
	kept := map[string]bool{}
	for _, s := range sums {
		if len(s.RepoTags) == 0 && (inUse == nil || !inUse(s.ID)) {
			continue
		}
		for id := s.ID; id != "" && !kept[id]; id = byID[id].ParentID {
			kept[id] = true
		}
	}
	return byID, kept
}

// cacheRecords are the (key, image ID) pairs of the build cache bucket.
func (s *Store) cacheRecords() ([][2]string, error) {
	var out [][2]string
	err := s.db.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketBuild)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out = append(out, [2]string{string(k), string(v)})
			return nil
		})
	})
	return out, err
}

// CachePruneReport is what CachePrune removed.
type CachePruneReport struct {
	Keys           []string // cache entries deleted
	ImagesDeleted  []string
	SpaceReclaimed uint64
}

// CachePrune deletes the build cache entries whose image no tagged or
// used image needs (with all, every entry), and those images themselves
// when no tagged or used image descends from them; then collects the
// layers they held.
func (s *Store) CachePrune(ctx context.Context, all bool, inUse func(id string) bool) (CachePruneReport, error) {
	var rep CachePruneReport
	entries, err := s.CacheEntries(ctx, inUse)
	if err != nil {
		return rep, err
	}
	stale, err := s.cacheRecords() // entries whose image is gone go too
	if err != nil {
		return rep, err
	}
	drop, images := pruneSet(entries, stale, all)
	unlock, err := s.lock.lock(ctx, false)
	if err != nil {
		return rep, err
	}
	err = s.db.update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketBuild); b != nil {
			for _, k := range drop {
				if err := b.Delete([]byte(k)); err != nil {
					return err
				}
			}
		}
		for _, id := range images {
			if len(namedRecords(tx, digest.Digest(id))) > 0 {
				continue // tagged meanwhile
			}
			if err := deleteImage(tx, digest.Digest(id)); err != nil {
				return err
			}
			rep.ImagesDeleted = append(rep.ImagesDeleted, id)
		}
		return nil
	})
	unlock()
	rep.Keys = drop
	if err != nil {
		return rep, fmt.Errorf("prune build cache: %w", err)
	}
	if len(rep.ImagesDeleted) > 0 {
		st, err := s.GC(ctx)
		rep.SpaceReclaimed = uint64(st.BytesFreed)
		return rep, err
	}
	return rep, nil
}

// pruneSet picks the keys and images a cache prune removes: entries not
// listed (their image gone), unshared ones, and with all every entry; the
// images of the removed entries that nothing keeps (with all too: a
// tagged or used image's ancestors stay, or its history would break).
func pruneSet(entries []CacheEntry, records [][2]string, all bool) (keys, images []string) {
	live := map[string]CacheEntry{}
	for _, e := range entries {
		live[e.Key] = e
	}
	seen := map[string]bool{}
	for _, kv := range records {
		e, ok := live[kv[0]]
		if ok && e.Shared && !all {
			continue
		}
		keys = append(keys, kv[0])
		if ok && !e.Shared && !seen[e.Image.ID] { // shared: tagged, used, or an ancestor of one

			seen[e.Image.ID] = true
			images = append(images, e.Image.ID)
		}
	}
	return keys, images
}
