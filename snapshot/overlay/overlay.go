// Package overlay is the overlayfs Snapshotter. Its directory holds
//
//	metadata.db              bbolt: snapshot key → record (id, kind, parent, labels, times)
//	snapshots/<id>/fs        the snapshot's own files (an overlay upperdir)
//	snapshots/<id>/work      its overlay workdir
//
// where <id> is a short decimal number from a sequence that never reuses a
// value, so that many lower layers fit in the options of one mount.
//
// Mounts: an active snapshot with parents is one overlay mount
// (lowerdir=nearest:...:base, upperdir=<its fs>, workdir=<its work>, and
// index=off, redirect_dir=off, metacopy=off when the kernel knows them); one
// without parents is a rw bind of its fs dir. A view is a ro bind (of its
// empty fs dir, or of its single parent's) or a lowerdir-only overlay.
// snapshot.WritableDir returns the upperdir (or bind source) that image
// unpacking writes into directly, without mounting.
//
// Lower layers and the page limit: mount(2) takes the options in one page
// (4096 bytes). Under /var/lib/corral/snapshots/overlay each lower path is
// about 51 bytes, so some 75 layers fit. snapshot.MountAll passes longer
// option lists one lower layer at a time through fsconfig "lowerdir+"
// (Linux 6.8 and later), which leaves overlayfs's own limit of 500 layers,
// each path shorter than 256 bytes; older kernels fail such mounts.
//
// Every change is one bbolt transaction plus directory operations ordered so
// that a crash at any point leaves at most directories that the database
// does not know: Prepare creates the directories under a temporary name and
// renames them to <id> inside the transaction that records <id>; Remove
// deletes the record first and the directory after. New removes every
// directory under snapshots/ that the database does not know.
//
// The database is opened for each operation and closed after it, under a
// mutex in the process and bbolt's flock between processes, so several
// processes (CLI commands running side by side) can share one directory;
// directory changes happen while the lock is held.
package overlay

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/snapshot"
)

// lockTimeout bounds the wait for another process's operation.
const lockTimeout = 2 * time.Minute

// Snapshotter implements snapshot.Snapshotter on overlayfs. It is safe for
// concurrent use.
type Snapshotter struct {
	dir     string
	options []string // overlay options every mount gets (index=off, ...)

	// mu serializes the operations of this process: writers hold it
	// exclusively, readers shared, while the database is open.
	mu     sync.RWMutex
	closed bool
}

var _ snapshot.Snapshotter = (*Snapshotter)(nil)

// New opens (creating it if needed) the snapshotter in dir, conventionally
// <corral root>/snapshots/overlay, and removes the directories of snapshots
// that a crash left unrecorded. dir may not contain ',' or ':' (they would
// split overlay options).
func New(dir string) (*Snapshotter, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open snapshotter %s: %w", dir, err)
	}
	if strings.ContainsAny(abs, ",:") {
		return nil, errdefs.InvalidArgument(fmt.Errorf("open snapshotter %s: the path may not contain ',' or ':'", abs))
	}
	if err := os.MkdirAll(filepath.Join(abs, "snapshots"), 0o700); err != nil {
		return nil, fmt.Errorf("open snapshotter: %w", err)
	}
	s := &Snapshotter{dir: abs, options: kernelOptions()}
	if err := s.withDB(true, s.init); err != nil {
		return nil, fmt.Errorf("open snapshotter %s: %w", abs, err)
	}
	return s, nil
}

// Close releases the Snapshotter; later calls fail.
func (s *Snapshotter) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *Snapshotter) snapshotsDir() string { return filepath.Join(s.dir, "snapshots") }

func (s *Snapshotter) idDir(id uint64) string {
	return filepath.Join(s.snapshotsDir(), strconv.FormatUint(id, 10))
}

func (s *Snapshotter) fsDir(id uint64) string   { return filepath.Join(s.idDir(id), "fs") }
func (s *Snapshotter) workDir(id uint64) string { return filepath.Join(s.idDir(id), "work") }

// withDB runs fn with the database open, holding the process's mutex and
// the database's flock (exclusive when write).
func (s *Snapshotter) withDB(write bool, fn func(db *bolt.DB) error) error {
	if write {
		s.mu.Lock()
		defer s.mu.Unlock()
	} else {
		s.mu.RLock()
		defer s.mu.RUnlock()
	}
	if s.closed {
		return errors.New("snapshotter is closed")
	}
	db, err := bolt.Open(filepath.Join(s.dir, "metadata.db"), 0o600,
		&bolt.Options{Timeout: lockTimeout, ReadOnly: !write})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return errdefs.Unavailable(fmt.Errorf("open snapshot metadata: locked by another process for %v", lockTimeout))
	}
	if err != nil {
		return fmt.Errorf("open snapshot metadata: %w", err)
	}
	err = fn(db)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close snapshot metadata: %w", cerr)
	}
	return err
}

// init creates the buckets and removes unrecorded snapshot directories.
func (s *Snapshotter) init(db *bolt.DB) error {
	ids := map[string]bool{}
	err := db.Update(func(tx *bolt.Tx) error {
		if err := createBuckets(tx); err != nil {
			return err
		}
		return tx.Bucket(bucketSnapshots).ForEach(func(_, v []byte) error {
			rec, err := decodeRecord(v)
			ids[strconv.FormatUint(rec.ID, 10)] = true
			return err
		})
	})
	if err != nil {
		return err
	}
	return s.removeOrphans(ids)
}

// removeOrphans removes every entry of snapshots/ not named in ids: the
// leftovers of a crash in Prepare or Remove. What cannot be removed (a
// mount on it, say) is logged and left for next time.
func (s *Snapshotter) removeOrphans(ids map[string]bool) error {
	entries, err := os.ReadDir(s.snapshotsDir())
	if err != nil {
		return fmt.Errorf("clean up snapshots: %w", err)
	}
	for _, e := range entries {
		if ids[e.Name()] {
			continue
		}
		path := filepath.Join(s.snapshotsDir(), e.Name())
		if err := os.RemoveAll(path); err != nil {
			slog.Warn("cannot remove unrecorded snapshot directory", "path", path, "err", err)
		}
	}
	return nil
}
