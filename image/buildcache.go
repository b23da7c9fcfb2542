package image

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// CacheGet answers the image a build step with cache key made, if that
// image still exists: the builder's layer cache, kept with the images so
// that it outlives the daemon.
func (s *Store) CacheGet(ctx context.Context, key string) (Image, bool, error) {
	var id string
	err := s.db.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketBuild); b != nil {
			id = string(b.Get([]byte(key)))
		}
		return nil
	})
	if err != nil || id == "" {
		return Image{}, false, err
	}
	img, err := s.Get(ctx, id)
	if err != nil {
		return Image{}, false, nil //nolint:nilerr // an image removed since is a miss
	}
	return img, true, nil
}

// CachePut records that the build step with cache key made image id.
func (s *Store) CachePut(key string, id digest.Digest) error {
	err := s.db.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketBuild)
		if err != nil {
			return err
		}
		return b.Put([]byte(key), []byte(id.String()))
	})
	if err != nil {
		return fmt.Errorf("record build cache: %w", err)
	}
	return nil
}
