package overlay

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/snapshot"
)

// The buckets of metadata.db: snapshots maps a key to its record (and its
// sequence numbers the directories); children holds "<parent>\x00<child>"
// for every snapshot with a parent.
var (
	bucketSnapshots = []byte("snapshots")
	bucketChildren  = []byte("children")
)

// record is what metadata.db keeps of one snapshot.
type record struct {
	ID      uint64            `json:"id"`
	Kind    snapshot.Kind     `json:"kind"`
	Parent  string            `json:"parent,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Created time.Time         `json:"created"`
	Updated time.Time         `json:"updated"`
}

func (r record) info(key string) snapshot.Info {
	return snapshot.Info{Key: key, Parent: r.Parent, Kind: r.Kind, Labels: r.Labels,
		Created: r.Created, Updated: r.Updated}
}

func createBuckets(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketSnapshots, bucketChildren} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

func decodeRecord(v []byte) (record, error) {
	var r record
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("decode snapshot record: %w", err)
	}
	return r, nil
}

// checkKey refuses keys the metadata cannot hold.
func checkKey(what, key string) error {
	if key == "" || strings.ContainsRune(key, 0) || len(key) > 4096 {
		return errdefs.InvalidArgument(fmt.Errorf("%s %q: must be 1 to 4096 bytes without NUL", what, key))
	}
	return nil
}

func getRecord(tx *bolt.Tx, key string) (record, error) {
	v := tx.Bucket(bucketSnapshots).Get([]byte(key))
	if v == nil {
		return record{}, errdefs.ErrNotFound
	}
	return decodeRecord(v)
}

func putRecord(tx *bolt.Tx, key string, r record) error {
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode snapshot record: %w", err)
	}
	if err := tx.Bucket(bucketSnapshots).Put([]byte(key), v); err != nil {
		return fmt.Errorf("store snapshot %s: %w", key, err)
	}
	return nil
}

func exists(tx *bolt.Tx, key string) bool {
	return tx.Bucket(bucketSnapshots).Get([]byte(key)) != nil
}

func childKey(parent, child string) []byte { return []byte(parent + "\x00" + child) }

// setChild records (add) or forgets child as a child of parent.
func setChild(tx *bolt.Tx, parent, child string, add bool) error {
	if parent == "" {
		return nil
	}
	b := tx.Bucket(bucketChildren)
	if add {
		return b.Put(childKey(parent, child), nil)
	}
	return b.Delete(childKey(parent, child))
}

// firstChild returns a child of key, or "" when it has none.
func firstChild(tx *bolt.Tx, key string) string {
	prefix := []byte(key + "\x00")
	k, _ := tx.Bucket(bucketChildren).Cursor().Seek(prefix)
	if k == nil || !strings.HasPrefix(string(k), string(prefix)) {
		return ""
	}
	return string(k[len(prefix):])
}

// parentIDs returns the directory ids of parent and its ancestors, nearest
// first (overlay's lowerdir order). parent must be a committed snapshot.
func parentIDs(tx *bolt.Tx, parent string) ([]uint64, error) {
	var ids []uint64
	for p := parent; p != ""; {
		r, err := getRecord(tx, p)
		if err != nil {
			return nil, fmt.Errorf("parent %s: %w", p, err)
		}
		if r.Kind != snapshot.KindCommitted {
			return nil, errdefs.InvalidArgument(fmt.Errorf("parent %s is %s, not committed", p, r.Kind))
		}
		ids = append(ids, r.ID)
		p = r.Parent
	}
	return ids, nil
}
