package overlay

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"

	bolt "go.etcd.io/bbolt"

	"github.com/corral-dev/corral/snapshot"
)

// Usage returns the disk snapshot key uses on its own, like du of its fs
// directory: the inodes below it (hard links counted once) and their
// allocated bytes. The database stays locked (shared) while it counts, so
// the snapshot cannot be removed meanwhile.
func (s *Snapshotter) Usage(ctx context.Context, key string) (snapshot.Usage, error) {
	var u snapshot.Usage
	err := s.withDB(false, func(db *bolt.DB) error {
		var id uint64
		err := db.View(func(tx *bolt.Tx) error {
			r, err := getRecord(tx, key)
			id = r.ID
			return err
		})
		if err != nil {
			return err
		}
		if u, err = diskUsage(ctx, s.fsDir(id)); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return snapshot.Usage{}, fmt.Errorf("usage of snapshot %s: %w", key, err)
	}
	return u, nil
}

// inode identifies a file across hard links.
type inode struct{ dev, ino uint64 }

// diskUsage counts the inodes below root and their 512-byte blocks.
func diskUsage(ctx context.Context, root string) (snapshot.Usage, error) {
	var u snapshot.Usage
	seen := map[inode]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if path == root {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("stat %s: no inode", path)
		}
		if in := (inode{uint64(st.Dev), st.Ino}); !seen[in] {
			seen[in] = true
			u.Inodes++
			u.Size += st.Blocks * 512
		}
		return nil
	})
	if err != nil {
		return snapshot.Usage{}, fmt.Errorf("count disk usage of %s: %w", root, err)
	}
	return u, nil
}
