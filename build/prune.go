package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// CacheMount is one RUN --mount=type=cache dir the daemon keeps.
type CacheMount struct {
	ID      string
	Dir     string
	Size    int64
	Created time.Time
}

// CacheMounts lists the cache mounts kept, with their sizes.
func (b *Builder) CacheMounts() ([]CacheMount, error) {
	root := b.opts.CacheMounts
	if root == "" {
		return nil, nil
	}
	ents, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list cache mounts: %w", err)
	}
	var out []CacheMount
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".id") {
			continue
		}
		dir := filepath.Join(root, strings.TrimSuffix(name, ".id"))
		id, err := os.ReadFile(filepath.Join(root, name))
		fi, serr := os.Stat(dir)
		if err != nil || serr != nil {
			continue // half made or half removed
		}
		out = append(out, CacheMount{ID: string(id), Dir: dir, Size: dirSize(dir), Created: fi.ModTime()})
	}
	return out, nil
}

// PruneCacheMounts removes every cache mount, once the builds under way
// are over (new ones wait meanwhile), and answers their ids and the bytes
// freed.
func (b *Builder) PruneCacheMounts() ([]string, int64, error) {
	b.active.Lock()
	defer b.active.Unlock()
	mounts, err := b.CacheMounts()
	if err != nil {
		return nil, 0, err
	}
	var ids []string
	var freed int64
	for _, m := range mounts {
		if err := os.RemoveAll(m.Dir); err != nil {
			return ids, freed, fmt.Errorf("remove cache mount %s: %w", m.ID, err)
		}
		_ = os.Remove(m.Dir + ".id")
		ids = append(ids, m.ID)
		freed += m.Size
	}
	// what a crash left half made
	if left, err := filepath.Glob(filepath.Join(b.opts.CacheMounts, ".new-*")); err == nil {
		for _, l := range left {
			_ = os.RemoveAll(l)
		}
	}
	return ids, freed, nil
}

// dirSize is the size of the regular files under dir (each inode once).
func dirSize(dir string) int64 {
	var n int64
	seen := map[uint64]bool{}
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil //nolint:nilerr // a file gone meanwhile counts nothing
		}
		fi, err := d.Info()
		if err != nil {
			return nil //nolint:nilerr // as above
		}
		if ino, ok := inode(fi); ok {
			if seen[ino] {
				return nil
			}
			seen[ino] = true
		}
		n += fi.Size()
		return nil
	})
	return n
}
