package image

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
)

// RemoveItem is one line of `docker rmi`'s answer (the Engine API's
// ImageDeleteResponseItem): a name untagged or an image or layer deleted.
type RemoveItem struct {
	Untagged string `json:"Untagged,omitempty"`
	Deleted  string `json:"Deleted,omitempty"`
}

// Remove is `docker rmi ref`. Given a name it untags it (a tag also takes
// the digest references of its repository along when it was the
// repository's last tag) and deletes the image once nothing names it. Given
// an image ID it deletes the image, untagging its names first when they are
// at most one tag within one repository; more need force. Freed layers and
// blobs are collected and reported.
func (s *Store) Remove(ctx context.Context, ref string, force bool) ([]RemoveItem, error) {
	unlock, err := s.lock.lock(ctx, false) // not shared(): it collects itself, and reports what went
	if err != nil {
		return nil, err
	}
	var items []RemoveItem
	var deleted Image
	err = s.db.update(func(tx *bolt.Tx) error {
		items, deleted, err = removeTx(tx, ref, force)
		return err
	})
	unlock()
	if err != nil || deleted.ID == "" {
		return items, err
	}
	return s.collectDeleted(ctx, items, []Image{deleted})
}

// collectDeleted runs the collector after images were deleted and adds a
// Deleted line for each of their layers that went.
func (s *Store) collectDeleted(ctx context.Context, items []RemoveItem, gone []Image) ([]RemoveItem, error) {
	var chains []digest.Digest
	for _, img := range gone {
		if r, err := s.resolve(ctx, img.Target); err == nil {
			chains = append(chains, ChainIDs(r.Config.RootFS.DiffIDs)...)
		}
	}
	if _, err := s.tryGC(ctx); err != nil {
		return items, fmt.Errorf("collect garbage: %w", err)
	}
	for i := len(chains) - 1; i >= 0; i-- {
		if _, err := s.snapshots.Stat(ctx, chains[i].String()); errdefs.IsNotFound(err) {
			items = append(items, RemoveItem{Deleted: chains[i].String()})
		}
	}
	return items, nil
}

// removeTx does Remove's bookkeeping in one transaction; it returns the
// image if it was deleted.
func removeTx(tx *bolt.Tx, ref string, force bool) ([]RemoveItem, Image, error) {
	imgs, err := listRecords(tx)
	if err != nil {
		return nil, Image{}, err
	}
	img, err := lookup(imgs, ref)
	if err != nil {
		return nil, Image{}, err
	}
	named := recordNamed(imgs, ref)
	var items []RemoveItem
	if named != "" {
		items, err = untagName(tx, imgs, named, img.ID)
		if err != nil || len(namedRecords(tx, img.ID)) > 0 {
			return items, Image{}, err
		}
	} else {
		refs := namedRecords(tx, img.ID)
		if !singleRepo(refs) && !force {
			return nil, Image{}, errdefs.Conflict(fmt.Errorf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", ShortID(img.ID)))
		}
		for _, r := range refs {
			if err := deleteRecord(tx, r.Name); err != nil {
				return nil, Image{}, err
			}
			items = append(items, RemoveItem{Untagged: familiar(r.Name)})
		}
	}
	if err := deleteImage(tx, img.ID); err != nil {
		return nil, Image{}, err
	}
	return append(items, RemoveItem{Deleted: img.ID.String()}), img, nil
}

// recordNamed returns the record name ref is, if it is a name (not an ID).
func recordNamed(imgs []Image, ref string) string {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return ""
	}
	for _, img := range imgs {
		if img.Name == named.String() {
			return img.Name
		}
	}
	return ""
}

// untagName removes name; when it was a tag and its repository has no
// other tag of the image left, the repository's digest references go too.
func untagName(tx *bolt.Tx, imgs []Image, name string, id digest.Digest) ([]RemoveItem, error) {
	if err := deleteRecord(tx, name); err != nil {
		return nil, err
	}
	items := []RemoveItem{{Untagged: familiar(name)}}
	if !isTag(name) {
		return items, nil
	}
	repo := repoOf(name)
	for _, r := range namedRecords(tx, id) {
		if isTag(r.Name) && repoOf(r.Name) == repo {
			return items, nil
		}
	}
	for _, r := range namedRecords(tx, id) {
		if repoOf(r.Name) == repo {
			if err := deleteRecord(tx, r.Name); err != nil {
				return nil, err
			}
			items = append(items, RemoveItem{Untagged: familiar(r.Name)})
		}
	}
	return items, nil
}

// singleRepo reports whether refs hold at most one tag, all in one
// repository.
func singleRepo(refs []Image) bool {
	tags, repo := 0, ""
	for _, r := range refs {
		if isTag(r.Name) {
			tags++
		}
		if repo != "" && repoOf(r.Name) != repo {
			return false
		}
		repo = repoOf(r.Name)
	}
	return tags <= 1
}

// namedRecords returns the records naming image id (not the dangling one).
func namedRecords(tx *bolt.Tx, id digest.Digest) []Image {
	imgs, _ := listRecords(tx)
	var out []Image
	for _, img := range imgs {
		if img.ID == id && img.Name != "" {
			out = append(out, img)
		}
	}
	return out
}

func deleteRecord(tx *bolt.Tx, key string) error {
	return tx.Bucket(bucketImages).Delete([]byte(key))
}

// deleteImage removes every record of image id and leaves a note for the
// collector.
func deleteImage(tx *bolt.Tx, id digest.Digest) error {
	imgs, err := listRecords(tx)
	if err != nil {
		return err
	}
	for _, img := range imgs {
		if img.ID != id {
			continue
		}
		key := img.Name
		if key == "" {
			key = danglingKey(img.Target.Digest)
		}
		if err := deleteRecord(tx, key); err != nil {
			return err
		}
	}
	return setGCPending(tx, true)
}

// PruneOptions select what Prune removes.
type PruneOptions struct {
	// All removes every image, not only dangling ones (images without a
	// tag).
	All bool
	// Until keeps images created after it (zero: no limit).
	Until time.Time
	// Labels keep only images matching all of them: "key", "key=value",
	// and "!key", "!key=value" for images without.
	Labels []string
	// InUse, when set, keeps the images it reports (by ID, "sha256:..."):
	// those containers were made from.
	InUse func(id string) bool
}

// PruneReport is `docker image prune`'s answer.
type PruneReport struct {
	ImagesDeleted  []RemoveItem
	SpaceReclaimed uint64
}

// Prune removes dangling images (or, with All, every image) that match
// opts, then collects garbage.
func (s *Store) Prune(ctx context.Context, opts PruneOptions) (PruneReport, error) {
	var rep PruneReport
	sums, err := s.Images(ctx)
	if err != nil {
		return rep, err
	}
	unlock, err := s.lock.lock(ctx, false) // not shared(): it collects itself, and reports what went
	if err != nil {
		return rep, err
	}
	var gone []Image
	err = s.db.update(func(tx *bolt.Tx) error {
		for _, sum := range sums {
			if !pruneMatch(sum, opts) {
				continue
			}
			id := digest.Digest(sum.ID)
			for _, r := range namedRecords(tx, id) {
				rep.ImagesDeleted = append(rep.ImagesDeleted, RemoveItem{Untagged: familiar(r.Name)})
			}
			if err := deleteImage(tx, id); err != nil {
				return err
			}
			rep.ImagesDeleted = append(rep.ImagesDeleted, RemoveItem{Deleted: sum.ID})
			gone = append(gone, Image{ID: id, Target: sum.Target})
		}
		return nil
	})
	unlock()
	if err != nil || len(gone) == 0 {
		return rep, err
	}
	st, err := s.GC(ctx)
	rep.SpaceReclaimed = uint64(st.BytesFreed)
	return rep, err
}

func pruneMatch(sum Summary, opts PruneOptions) bool {
	if !opts.All && len(sum.RepoTags) > 0 || opts.InUse != nil && opts.InUse(sum.ID) {
		return false
	}
	if !opts.Until.IsZero() && sum.Created > opts.Until.Unix() {
		return false
	}
	for _, l := range opts.Labels {
		neg := strings.HasPrefix(l, "!")
		k, v, hasV := strings.Cut(strings.TrimPrefix(l, "!"), "=")
		got, ok := sum.Labels[k]
		match := ok && (!hasV || got == v)
		if match == neg {
			return false
		}
	}
	return true
}
