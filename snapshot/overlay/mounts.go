package overlay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/snapshot"
)

// overlayParams are overlay features this snapshotter turns off when the
// kernel knows them (a module parameter of that name exists), whatever the
// kernel's default: an index would tie an upper directory to one set of
// lower directories, which layers shared between images break; redirects
// and metacopy would leave files in an upper directory that a layer diff
// cannot read on its own.
var overlayParams = []string{"index", "redirect_dir", "metacopy"}

// kernelOptions returns "<feature>=off" for every overlay feature of
// overlayParams the running kernel has.
func kernelOptions() []string {
	var opts []string
	for _, p := range overlayParams {
		if _, err := os.Stat(filepath.Join("/sys/module/overlay/parameters", p)); err == nil {
			opts = append(opts, p+"=off")
		}
	}
	return opts
}

// Mounts returns the mounts of active snapshot or view key.
func (s *Snapshotter) Mounts(ctx context.Context, key string) ([]snapshot.Mount, error) {
	var mounts []snapshot.Mount
	err := s.withDB(false, func(db *bolt.DB) error {
		return db.View(func(tx *bolt.Tx) error {
			r, err := getRecord(tx, key)
			if err != nil {
				return err
			}
			if r.Kind == snapshot.KindCommitted {
				return errdefs.InvalidArgument(errors.New("it is committed; only active snapshots and views have mounts"))
			}
			parents, err := parentIDs(tx, r.Parent)
			mounts = s.mounts(r, parents)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("mounts of snapshot %s: %w", key, err)
	}
	return mounts, nil
}

// mounts returns how to mount snapshot r whose parents' ids are parents
// (nearest first):
//
//	active, no parent:      rw bind of its fs dir
//	active, parents:        overlay lowerdir=parents, upperdir=fs, workdir=work
//	view, no parent:        ro bind of its (empty) fs dir
//	view, one parent:       ro bind of the parent's fs dir
//	view, several parents:  overlay of lowerdirs only (read-only by nature)
//
// Paths are absolute; a mount whose options pass a page is mounted by
// snapshot.MountAll one lower layer at a time.
func (s *Snapshotter) mounts(r record, parents []uint64) []snapshot.Mount {
	switch {
	case r.Kind == snapshot.KindActive && len(parents) == 0:
		return []snapshot.Mount{bind(s.fsDir(r.ID), "rw")}
	case r.Kind == snapshot.KindView && len(parents) == 0:
		return []snapshot.Mount{bind(s.fsDir(r.ID), "ro")}
	case r.Kind == snapshot.KindView && len(parents) == 1:
		return []snapshot.Mount{bind(s.fsDir(parents[0]), "ro")}
	}
	lowers := make([]string, len(parents))
	for i, id := range parents {
		lowers[i] = s.fsDir(id)
	}
	opts := append(append([]string{}, s.options...), "lowerdir="+strings.Join(lowers, ":"))
	if r.Kind == snapshot.KindActive {
		opts = append(opts, "upperdir="+s.fsDir(r.ID), "workdir="+s.workDir(r.ID))
	}
	return []snapshot.Mount{{Type: "overlay", Source: "overlay", Options: opts}}
}

func bind(dir, mode string) snapshot.Mount {
	return snapshot.Mount{Type: "bind", Source: dir, Options: []string{"rbind", mode}}
}
