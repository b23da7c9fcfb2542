package image

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/corral-dev/corral/content"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/snapshot"
)

// extractPrefix starts the key of every active snapshot a layer is
// unpacked into; the collector removes those nothing leases.
const extractPrefix = "extract-"

// GCStats says what a collection removed.
type GCStats struct {
	Blobs      int   // content blobs deleted
	Snapshots  int   // snapshots removed
	BytesFreed int64 // their size on disk (blobs plus unpacked layers)
}

// GC collects garbage: content blobs and snapshots that no image record,
// lease or container snapshot reaches. It waits for running pulls, loads
// and imports to end (it takes the store lock exclusively) and drops the
// temporary leases of those that crashed.
func (s *Store) GC(ctx context.Context) (GCStats, error) {
	unlock, err := s.lock.lock(ctx, true)
	if err != nil {
		return GCStats{}, err
	}
	defer unlock()
	return s.collect(ctx)
}

// tryGC collects garbage if no other verb is running; otherwise it leaves a
// note for the next New or GC to do it.
func (s *Store) tryGC(ctx context.Context) (GCStats, error) {
	unlock, ok, err := s.lock.try(true)
	if err != nil {
		return GCStats{}, err
	}
	if !ok {
		return GCStats{}, s.db.update(func(tx *bolt.Tx) error { return setGCPending(tx, true) })
	}
	defer unlock()
	return s.collect(ctx)
}

// shared takes the store lock for a verb that adds or reads content. Its
// release runs a collection that an earlier removal had to leave pending
// because a verb was running, once no verb is: a long-lived daemon would
// otherwise keep that garbage until its next start.
func (s *Store) shared(ctx context.Context) (func(), error) {
	unlock, err := s.lock.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	return func() {
		unlock()
		if err := s.recover(context.WithoutCancel(ctx)); err != nil {
			slog.Warn("image store: pending garbage collection", "err", err)
		}
	}, nil
}

// recover runs at start: a pending collection or a lease left by a crashed
// verb means there may be garbage.
func (s *Store) recover(ctx context.Context) error {
	dirty := false
	err := s.db.view(func(tx *bolt.Tx) error {
		dirty = gcPending(tx) || hasTemporaryLeases(tx)
		return nil
	})
	if err != nil || !dirty {
		return err
	}
	if _, err := s.tryGC(ctx); err != nil {
		return fmt.Errorf("reclaim garbage: %w", err)
	}
	return nil
}

// marks is what the mark phase reached.
type marks struct {
	blobs map[digest.Digest]bool
	snaps map[string]bool
}

// collect is mark and sweep; the caller holds the store lock exclusively.
func (s *Store) collect(ctx context.Context) (GCStats, error) {
	var imgs []Image
	var leased leaseRef
	err := s.db.update(func(tx *bolt.Tx) error {
		var err error
		if leased, err = leaseRoots(tx, true); err != nil {
			return err
		}
		imgs, err = listRecords(tx)
		return err
	})
	if err != nil {
		return GCStats{}, fmt.Errorf("gc: read roots: %w", err)
	}
	m := marks{blobs: map[digest.Digest]bool{}, snaps: map[string]bool{}}
	for _, d := range leased.Content {
		m.blobs[d] = true
	}
	for _, k := range leased.Snapshots {
		m.snaps[k] = true
	}
	for _, img := range imgs {
		if err := s.markDesc(ctx, &m, img.Target, 0); err != nil {
			return GCStats{}, fmt.Errorf("gc: mark %s: %w", img.Name, err)
		}
	}
	var st GCStats
	if sw, ok := s.content.(interface{ Sweep(context.Context) error }); ok {
		if err := sw.Sweep(ctx); err != nil {
			return st, fmt.Errorf("gc: %w", err)
		}
	}
	if err := s.sweepSnapshots(ctx, &m, &st); err != nil {
		return st, err
	}
	if err := s.sweepContent(ctx, &m, &st); err != nil {
		return st, err
	}
	return st, s.db.update(func(tx *bolt.Tx) error { return setGCPending(tx, false) })
}

// markDesc marks a descriptor and, when its blob is present, what it
// references: an index's manifests, a manifest's config and layers, a
// config's layer snapshots.
func (s *Store) markDesc(ctx context.Context, m *marks, desc ocispec.Descriptor, depth int) error {
	m.blobs[desc.Digest] = true
	if depth > 4 || !s.hasBlob(ctx, desc.Digest) {
		return nil
	}
	switch {
	case isIndexType(desc.MediaType):
		data, err := s.readBlob(ctx, desc.Digest)
		if err != nil {
			return err
		}
		idx, err := parseIndex(data)
		if err != nil {
			return nil // an unreadable index keeps only itself
		}
		for _, d := range idx.Manifests {
			if err := s.markDesc(ctx, m, d, depth+1); err != nil {
				return err
			}
		}
	case isManifestType(desc.MediaType):
		return s.markManifest(ctx, m, desc)
	}
	return nil
}

func (s *Store) markManifest(ctx context.Context, m *marks, desc ocispec.Descriptor) error {
	data, err := s.readBlob(ctx, desc.Digest)
	if err != nil {
		return err
	}
	man, err := parseManifest(data)
	if err != nil {
		return nil
	}
	m.blobs[man.Config.Digest] = true
	for _, l := range man.Layers {
		m.blobs[l.Digest] = true
	}
	raw, err := s.readBlob(ctx, man.Config.Digest)
	if errdefs.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	cfg, err := parseConfig(raw)
	if err != nil {
		return nil
	}
	for _, c := range ChainIDs(cfg.RootFS.DiffIDs) {
		m.snaps[c.String()] = true
	}
	return nil
}

// sweepSnapshots removes the snapshots not marked. Active snapshots that
// are not unpack snapshots (containers' root filesystems) are roots; a
// marked snapshot keeps its parents. Children go before their parents.
func (s *Store) sweepSnapshots(ctx context.Context, m *marks, st *GCStats) error {
	parents := map[string]string{}
	err := s.snapshots.Walk(ctx, func(info snapshot.Info) error {
		parents[info.Key] = info.Parent
		if info.Kind != snapshot.KindCommitted && !strings.HasPrefix(info.Key, extractPrefix) {
			m.snaps[info.Key] = true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("gc: walk snapshots: %w", err)
	}
	for k := range m.snaps {
		for p := parents[k]; p != "" && !m.snaps[p]; p = parents[p] {
			m.snaps[p] = true
		}
	}
	var dead []string
	for k := range parents {
		if !m.snaps[k] {
			dead = append(dead, k)
		}
	}
	depth := func(k string) int {
		n := 0
		for p := parents[k]; p != "" && n < 1000; p = parents[p] {
			n++
		}
		return n
	}
	sort.Slice(dead, func(i, j int) bool { return depth(dead[i]) > depth(dead[j]) })
	for _, k := range dead {
		if err := s.removeSnapshot(ctx, k, st); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) removeSnapshot(ctx context.Context, key string, st *GCStats) error {
	size := s.cachedLayerSize(digest.Digest(key))
	if size < 0 {
		if u, err := s.snapshots.Usage(ctx, key); err == nil {
			size = u.Size
		}
	}
	if err := s.snapshots.Remove(ctx, key); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("gc: remove snapshot %s: %w", key, err)
	}
	slog.Debug("gc: removed snapshot", "key", key)
	st.Snapshots++
	st.BytesFreed += max(size, 0)
	return s.db.update(func(tx *bolt.Tx) error { return tx.Bucket(bucketLayers).Delete([]byte(key)) })
}

// cachedLayerSize is the recorded unpacked size of a layer, -1 if unknown.
func (s *Store) cachedLayerSize(chainID digest.Digest) int64 {
	size := int64(-1)
	_ = s.db.view(func(tx *bolt.Tx) error {
		if n, ok := getLayerSize(tx, chainID); ok {
			size = n
		}
		return nil
	})
	return size
}

func (s *Store) sweepContent(ctx context.Context, m *marks, st *GCStats) error {
	var dead []content.Info
	err := s.content.Walk(ctx, func(info content.Info) error {
		if !m.blobs[info.Digest] {
			dead = append(dead, info)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("gc: walk content: %w", err)
	}
	for _, info := range dead {
		if err := s.content.Delete(ctx, info.Digest); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("gc: delete blob %s: %w", info.Digest, err)
		}
		st.Blobs++
		st.BytesFreed += info.Size
	}
	return s.db.update(func(tx *bolt.Tx) error {
		for _, info := range dead {
			if err := tx.Bucket(bucketSources).DeleteBucket([]byte(info.Digest)); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
				return err
			}
		}
		return nil
	})
}
