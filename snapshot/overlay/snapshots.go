package overlay

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/snapshot"
)

// Stat returns the snapshot key.
func (s *Snapshotter) Stat(ctx context.Context, key string) (snapshot.Info, error) {
	var info snapshot.Info
	err := s.withDB(false, func(db *bolt.DB) error {
		return db.View(func(tx *bolt.Tx) error {
			r, err := getRecord(tx, key)
			info = r.info(key)
			return err
		})
	})
	if err != nil {
		return snapshot.Info{}, fmt.Errorf("stat snapshot %s: %w", key, err)
	}
	return info, nil
}

// Prepare creates active snapshot key on the committed snapshot parent (""
// for none) and returns its mounts.
func (s *Snapshotter) Prepare(ctx context.Context, key, parent string, opts ...snapshot.Opt) ([]snapshot.Mount, error) {
	m, err := s.create(ctx, snapshot.KindActive, key, parent, opts)
	if err != nil {
		return nil, fmt.Errorf("prepare snapshot %s: %w", key, err)
	}
	return m, nil
}

// View creates read-only snapshot key of the committed snapshot parent and
// returns its mounts.
func (s *Snapshotter) View(ctx context.Context, key, parent string, opts ...snapshot.Opt) ([]snapshot.Mount, error) {
	m, err := s.create(ctx, snapshot.KindView, key, parent, opts)
	if err != nil {
		return nil, fmt.Errorf("view snapshot %s: %w", key, err)
	}
	return m, nil
}

func (s *Snapshotter) create(ctx context.Context, kind snapshot.Kind, key, parent string, opts []snapshot.Opt) ([]snapshot.Mount, error) {
	if err := checkKey("key", key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var info snapshot.Info
	for _, o := range opts {
		o(&info)
	}
	now := time.Now().UTC()
	r := record{Kind: kind, Parent: parent, Labels: info.Labels, Created: now, Updated: now}
	var mounts []snapshot.Mount
	err := s.withDB(true, func(db *bolt.DB) error {
		var err error
		mounts, err = s.createLocked(db, key, r)
		return err
	})
	return mounts, err
}

// createLocked makes the directories under a temporary name and renames
// them to the new id inside the transaction that records it; on any
// failure (of the transaction's commit too) both names are removed.
func (s *Snapshotter) createLocked(db *bolt.DB, key string, r record) ([]snapshot.Mount, error) {
	tmp, err := os.MkdirTemp(s.snapshotsDir(), "new-")
	if err != nil {
		return nil, err
	}
	if err := makeDirs(tmp); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	var mounts []snapshot.Mount
	var final string
	err = db.Update(func(tx *bolt.Tx) error {
		var err error
		mounts, final, err = s.createTx(tx, key, r, tmp)
		return err
	})
	if err != nil {
		os.RemoveAll(tmp)
		if final != "" {
			os.RemoveAll(final)
		}
		return nil, err
	}
	return mounts, nil
}

// createTx records snapshot key with a new id and renames dir tmp to that
// id's; it returns the snapshot's mounts and the new directory (once
// renamed, "" before).
func (s *Snapshotter) createTx(tx *bolt.Tx, key string, r record, tmp string) ([]snapshot.Mount, string, error) {
	if exists(tx, key) {
		return nil, "", errdefs.ErrAlreadyExists
	}
	parents, err := parentIDs(tx, r.Parent)
	if err != nil {
		return nil, "", err
	}
	if r.ID, err = tx.Bucket(bucketSnapshots).NextSequence(); err != nil {
		return nil, "", err
	}
	if err := putRecord(tx, key, r); err != nil {
		return nil, "", err
	}
	if err := setChild(tx, r.Parent, key, true); err != nil {
		return nil, "", err
	}
	if err := os.Rename(tmp, s.idDir(r.ID)); err != nil {
		return nil, "", err
	}
	// The rename must be on disk before the record that names it.
	if err := syncDir(s.snapshotsDir()); err != nil {
		return nil, s.idDir(r.ID), err
	}
	return s.mounts(r, parents), s.idDir(r.ID), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func makeDirs(dir string) error {
	if err := os.Mkdir(filepath.Join(dir, "fs"), 0o755); err != nil {
		return err
	}
	return os.Mkdir(filepath.Join(dir, "work"), 0o700)
}

// Commit turns active snapshot key into committed snapshot name, keeping
// its directory (nothing is copied). The labels of key are kept and opts
// add to them.
func (s *Snapshotter) Commit(ctx context.Context, name, key string, opts ...snapshot.Opt) error {
	if err := checkKey("name", name); err != nil {
		return fmt.Errorf("commit snapshot %s: %w", key, err)
	}
	err := s.withDB(true, func(db *bolt.DB) error {
		return db.Update(func(tx *bolt.Tx) error { return commitTx(tx, name, key, opts) })
	})
	if err != nil {
		return fmt.Errorf("commit snapshot %s as %s: %w", key, name, err)
	}
	return nil
}

func commitTx(tx *bolt.Tx, name, key string, opts []snapshot.Opt) error {
	r, err := getRecord(tx, key)
	if err != nil {
		return err
	}
	if r.Kind != snapshot.KindActive {
		return errdefs.InvalidArgument(fmt.Errorf("it is %s; only active snapshots can be committed", r.Kind))
	}
	if exists(tx, name) {
		return errdefs.ErrAlreadyExists
	}
	info := snapshot.Info{Labels: r.Labels}
	for _, o := range opts {
		o(&info)
	}
	now := time.Now().UTC()
	r.Kind, r.Labels, r.Created, r.Updated = snapshot.KindCommitted, info.Labels, now, now
	if err := tx.Bucket(bucketSnapshots).Delete([]byte(key)); err != nil {
		return err
	}
	if err := putRecord(tx, name, r); err != nil {
		return err
	}
	if err := setChild(tx, r.Parent, key, false); err != nil {
		return err
	}
	return setChild(tx, r.Parent, name, true)
}

// Remove deletes snapshot key and its directory; a snapshot with children
// is errdefs.ErrConflict. The record goes first: if the directory cannot
// be removed (a mount still on it), Remove logs it and New removes it later.
func (s *Snapshotter) Remove(ctx context.Context, key string) error {
	err := s.withDB(true, func(db *bolt.DB) error {
		var id uint64
		err := db.Update(func(tx *bolt.Tx) error {
			r, err := getRecord(tx, key)
			if err != nil {
				return err
			}
			if child := firstChild(tx, key); child != "" {
				return fmt.Errorf("has children (%s): %w", child, errdefs.ErrConflict)
			}
			id = r.ID
			if err := tx.Bucket(bucketSnapshots).Delete([]byte(key)); err != nil {
				return err
			}
			return setChild(tx, r.Parent, key, false)
		})
		if err != nil {
			return err
		}
		if err := os.RemoveAll(s.idDir(id)); err != nil {
			slog.Warn("snapshot removed, its directory is left for the next start", "key", key, "err", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove snapshot %s: %w", key, err)
	}
	return nil
}

// Walk calls fn for every snapshot, in key order. fn runs outside the
// database lock, so it may call the Snapshotter.
func (s *Snapshotter) Walk(ctx context.Context, fn func(snapshot.Info) error) error {
	var infos []snapshot.Info
	err := s.withDB(false, func(db *bolt.DB) error {
		return db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketSnapshots).ForEach(func(k, v []byte) error {
				r, err := decodeRecord(v)
				infos = append(infos, r.info(string(k)))
				return err
			})
		})
	})
	if err != nil {
		return fmt.Errorf("walk snapshots: %w", err)
	}
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("walk snapshots: %w", err)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}
