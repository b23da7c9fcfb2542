package image

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// A lease keeps blobs and snapshots from the collector while a verb (pull,
// load, import) builds an image that no record references yet. The verb
// holds the store lock shared for as long as it runs, so once the collector
// holds it exclusively every temporary lease belongs to a verb that has
// ended, finished or crashed, and is dropped.
type lease struct {
	Created   time.Time `json:"created"`
	Temporary bool      `json:"temporary"`
	PID       int       `json:"pid"`
	Purpose   string    `json:"purpose"`
}

// leaseRef says what a lease protects.
type leaseRef struct {
	Content   []digest.Digest
	Snapshots []string
}

func randomID(prefix string) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("read random bytes: %v", err))
	}
	return prefix + hex.EncodeToString(b[:])
}

// createLease records a temporary lease for purpose and returns its ID.
func (d *db) createLease(purpose string) (string, error) {
	id := randomID(purpose + "-")
	l := lease{Created: time.Now().UTC(), Temporary: true, PID: os.Getpid(), Purpose: purpose}
	v, err := json.Marshal(l)
	if err != nil {
		return "", err
	}
	err = d.update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketLeases).CreateBucket([]byte(id))
		if err != nil {
			return err
		}
		if _, err := b.CreateBucket(bucketContent); err != nil {
			return err
		}
		if _, err := b.CreateBucket(bucketSnaps); err != nil {
			return err
		}
		return b.Put(keyLeaseMeta, v)
	})
	if err != nil {
		return "", fmt.Errorf("create lease: %w", err)
	}
	return id, nil
}

// addToLease adds resources to lease id; it must be called before they are
// written.
func (d *db) addToLease(id string, ref leaseRef) error {
	err := d.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLeases).Bucket([]byte(id))
		if b == nil {
			return fmt.Errorf("lease %s is gone", id)
		}
		for _, dg := range ref.Content {
			if err := b.Bucket(bucketContent).Put([]byte(dg), nil); err != nil {
				return err
			}
		}
		for _, k := range ref.Snapshots {
			if err := b.Bucket(bucketSnaps).Put([]byte(k), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add to lease: %w", err)
	}
	return nil
}

// deleteLeaseTx removes lease id within a transaction.
func deleteLeaseTx(tx *bolt.Tx, id string) error {
	err := tx.Bucket(bucketLeases).DeleteBucket([]byte(id))
	if errors.Is(err, bolterrors.ErrBucketNotFound) {
		return nil
	}
	return err
}

func (d *db) deleteLease(id string) error {
	return d.update(func(tx *bolt.Tx) error { return deleteLeaseTx(tx, id) })
}

// leaseRoots collects what the leases of tx protect; when dropTemporary is
// true (the caller holds the store lock exclusively) temporary leases are
// deleted instead.
func leaseRoots(tx *bolt.Tx, dropTemporary bool) (leaseRef, error) {
	var roots leaseRef
	var dead [][]byte
	c := tx.Bucket(bucketLeases).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v != nil {
			continue
		}
		b := tx.Bucket(bucketLeases).Bucket(k)
		var l lease
		if err := json.Unmarshal(b.Get(keyLeaseMeta), &l); err != nil || (l.Temporary && dropTemporary) {
			dead = append(dead, append([]byte(nil), k...))
			continue
		}
		_ = b.Bucket(bucketContent).ForEach(func(k, _ []byte) error {
			roots.Content = append(roots.Content, digest.Digest(k))
			return nil
		})
		_ = b.Bucket(bucketSnaps).ForEach(func(k, _ []byte) error {
			roots.Snapshots = append(roots.Snapshots, string(k))
			return nil
		})
	}
	for _, k := range dead {
		if err := tx.Bucket(bucketLeases).DeleteBucket(k); err != nil {
			return roots, fmt.Errorf("drop stale lease %s: %w", k, err)
		}
	}
	return roots, nil
}

// hasTemporaryLeases reports whether a temporary lease is recorded: a verb
// is running, or one crashed and left garbage.
func hasTemporaryLeases(tx *bolt.Tx) bool {
	found := false
	_ = tx.Bucket(bucketLeases).ForEach(func(k, v []byte) error {
		var l lease
		if b := tx.Bucket(bucketLeases).Bucket(k); b != nil && json.Unmarshal(b.Get(keyLeaseMeta), &l) == nil && l.Temporary {
			found = true
		}
		return nil
	})
	return found
}
