package image

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/corral-dev/corral/errdefs"
)

// Buckets of images.db:
//
//	images/<name>                   record (JSON); dangling records are "<none>@<target digest>"
//	sources/<blob digest>/<repo>    repositories a blob was pulled from or pushed to (for mounts)
//	layers/<chain id>               unpacked size of a layer snapshot (8 bytes, big endian)
//	diffs/<diff id>                 size of a layer's uncompressed tar (8 bytes, big endian)
//	leases/<id>/meta                lease (JSON); leases/<id>/content/<digest>, leases/<id>/snapshots/<key>
//	meta/gc                         "pending" when a removal left garbage for the next collection
//	buildcache/<key>                image ID a build step with that cache key made (see build)
var (
	bucketImages  = []byte("images")
	bucketSources = []byte("sources")
	bucketLayers  = []byte("layers")
	bucketDiffs   = []byte("diffs")
	bucketLeases  = []byte("leases")
	bucketMeta    = []byte("meta")
	bucketContent = []byte("content")
	bucketSnaps   = []byte("snapshots")
	bucketBuild   = []byte("buildcache")
	keyLeaseMeta  = []byte("meta")
	keyGCPending  = []byte("gc")
)

// dbTimeout bounds the wait for another process's transaction.
const dbTimeout = 60 * time.Second

// db is images.db, opened for each transaction so that several processes
// can share it (bbolt holds an flock while open).
type db struct {
	path string
	// mu serialises this process's transactions, so that they queue here
	// rather than poll bbolt's flock.
	mu sync.Mutex
}

func newDB(path string) (*db, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create image metadata dir: %w", err)
	}
	d := &db{path: path}
	err := d.update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketImages, bucketSources, bucketLayers, bucketDiffs, bucketLeases, bucketMeta, bucketBuild} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

func (d *db) open(readOnly bool) (*bolt.DB, error) {
	b, err := bolt.Open(d.path, 0o600, &bolt.Options{Timeout: dbTimeout, ReadOnly: readOnly})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", d.path, err)
	}
	return b, nil
}

// update runs fn in a read-write transaction.
func (d *db) update(fn func(tx *bolt.Tx) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, err := d.open(false)
	if err != nil {
		return err
	}
	if err := b.Update(fn); err != nil {
		b.Close()
		return err
	}
	return b.Close()
}

// view runs fn in a read-only transaction.
func (d *db) view(fn func(tx *bolt.Tx) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, err := d.open(true)
	if err != nil {
		return err
	}
	defer b.Close()
	return b.View(fn)
}

// danglingKey is the key of the record that keeps an image without names.
func danglingKey(target digest.Digest) string {
	return "<none>@" + target.String()
}

func getRecord(tx *bolt.Tx, key string) (Image, error) {
	var img Image
	v := tx.Bucket(bucketImages).Get([]byte(key))
	if v == nil {
		return img, errdefs.NotFound(fmt.Errorf("no such image: %s", familiar(key)))
	}
	if err := json.Unmarshal(v, &img); err != nil {
		return img, fmt.Errorf("decode image record %s: %w", key, err)
	}
	return img, nil
}

func putRecord(tx *bolt.Tx, key string, img Image) error {
	v, err := json.Marshal(img)
	if err != nil {
		return fmt.Errorf("encode image record: %w", err)
	}
	return tx.Bucket(bucketImages).Put([]byte(key), v)
}

func listRecords(tx *bolt.Tx) ([]Image, error) {
	var out []Image
	err := tx.Bucket(bucketImages).ForEach(func(k, v []byte) error {
		var img Image
		if err := json.Unmarshal(v, &img); err != nil {
			return fmt.Errorf("decode image record %s: %w", k, err)
		}
		out = append(out, img)
		return nil
	})
	return out, err
}

// addSources records that blobs are in repository repo.
func addSources(tx *bolt.Tx, repo string, blobs []digest.Digest) error {
	for _, d := range blobs {
		b, err := tx.Bucket(bucketSources).CreateBucketIfNotExists([]byte(d))
		if err != nil {
			return err
		}
		if err := b.Put([]byte(repo), nil); err != nil {
			return err
		}
	}
	return nil
}

// sourcesOf lists the repositories blob is known to be in.
func sourcesOf(tx *bolt.Tx, blob digest.Digest) []string {
	b := tx.Bucket(bucketSources).Bucket([]byte(blob))
	if b == nil {
		return nil
	}
	var repos []string
	_ = b.ForEach(func(k, _ []byte) error {
		repos = append(repos, string(k))
		return nil
	})
	return repos
}

func putSize(tx *bolt.Tx, bucket []byte, key digest.Digest, size int64) error {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(size))
	return tx.Bucket(bucket).Put([]byte(key), v[:])
}

func getSize(tx *bolt.Tx, bucket []byte, key digest.Digest) (int64, bool) {
	v := tx.Bucket(bucket).Get([]byte(key))
	if len(v) != 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(v)), true
}

func putLayerSize(tx *bolt.Tx, chainID digest.Digest, size int64) error {
	return putSize(tx, bucketLayers, chainID, size)
}

func getLayerSize(tx *bolt.Tx, chainID digest.Digest) (int64, bool) {
	return getSize(tx, bucketLayers, chainID)
}

func setGCPending(tx *bolt.Tx, pending bool) error {
	if pending {
		return tx.Bucket(bucketMeta).Put(keyGCPending, []byte("pending"))
	}
	return tx.Bucket(bucketMeta).Delete(keyGCPending)
}

func gcPending(tx *bolt.Tx) bool {
	return tx.Bucket(bucketMeta).Get(keyGCPending) != nil
}
