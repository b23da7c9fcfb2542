package image

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/corral-dev/corral/archive"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/snapshot"
)

// labelChainID marks an unpack snapshot with the chain ID it becomes.
const labelChainID = "corral.image/chain-id"

// unpackLayer unpacks the layer blob j.desc (compressed or not, from the
// content store or, streamed, from its download) on top of snapshot
// j.parent ("" for none) and commits it as snapshot j.chain, checking that
// the uncompressed tar has digest j.diffID. A chain ID that appears
// meanwhile (another pull) is fine.
func (s *Store) unpackLayer(ctx context.Context, lease string, j layerJob, rep *reporter) error {
	desc, chainID, parent := j.desc, j.chain, j.parent
	key := randomID(extractPrefix)
	if err := s.db.addToLease(lease, leaseRef{Snapshots: []string{key, chainID.String()}}); err != nil {
		return err
	}
	mounts, err := s.snapshots.Prepare(ctx, key, parent, snapshot.WithLabels(map[string]string{labelChainID: chainID.String()}))
	if err != nil {
		return fmt.Errorf("prepare snapshot for layer %s: %w", ShortID(desc.Digest), err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = s.snapshots.Remove(context.WithoutCancel(ctx), key)
		}
	}()
	err = s.applyBlob(ctx, j, mounts, rep)
	if j.stream != nil {
		// A failed download explains a failed unpack (a corrupt blob makes
		// a wrong uncompressed digest): it comes first.
		if werr := j.stream.wait(ctx, rep, desc); werr != nil {
			return werr
		}
	}
	if err != nil {
		return err
	}
	err = s.snapshots.Commit(ctx, chainID.String(), key)
	if err != nil && !errdefs.IsAlreadyExists(err) {
		return fmt.Errorf("commit layer %s: %w", ShortID(desc.Digest), err)
	}
	committed = err == nil
	return nil
}

// applyBlob extracts the blob of j into the writable dir of mounts.
func (s *Store) applyBlob(ctx context.Context, j layerJob, mounts []snapshot.Mount, rep *reporter) error {
	desc, diffID := j.desc, j.diffID
	dir, err := snapshot.WritableDir(mounts)
	if err != nil {
		return fmt.Errorf("unpack layer %s: %w", ShortID(desc.Digest), err)
	}
	src, closeSrc, err := s.layerReader(ctx, j, rep)
	if err != nil {
		return fmt.Errorf("unpack layer %s: %w", ShortID(desc.Digest), err)
	}
	defer closeSrc()
	got, n, err := applyLayer(ctx, dir, src, lowerDirs(mounts))
	if err != nil {
		return fmt.Errorf("unpack layer %s: %w", ShortID(desc.Digest), err)
	}
	if got != diffID {
		return errdefs.InvalidArgument(fmt.Errorf("unpack layer %s: uncompressed digest %s, but the image config says %s",
			ShortID(desc.Digest), got, diffID))
	}
	return s.db.update(func(tx *bolt.Tx) error { return putSize(tx, bucketDiffs, diffID, n) })
}

// layerReader returns the compressed blob of j to unpack, reporting
// extraction progress: its download as it arrives when j is streamed, else
// the blob in the content store. Call the returned func when done.
func (s *Store) layerReader(ctx context.Context, j layerJob, rep *reporter) (io.Reader, func(), error) {
	if j.stream != nil {
		// Its download reports the progress (it goes at the unpacker's
		// pace); the stream's wait reports the extraction once it is done.
		r, done := j.stream.reader(ctx)
		return r, done, nil
	}
	ra, err := s.content.ReaderAt(ctx, j.desc.Digest)
	if err != nil {
		return nil, nil, err
	}
	return &progressReader{r: io.NewSectionReader(ra, 0, ra.Size()), rep: rep, id: ShortID(j.desc.Digest),
		action: rep.extractAction(), total: ra.Size()}, func() { ra.Close() }, nil
}

// applyLayer decompresses the layer r and applies it to dir (an overlay
// upper dir over parents, topmost first); it returns the digest of the
// uncompressed tar and its size. Decompression and hashing run ahead in their own
// goroutine while Apply creates the files.
func applyLayer(ctx context.Context, dir string, r io.Reader, parents []string) (digest.Digest, int64, error) {
	return applyLayerOpts(ctx, dir, r, archive.ApplyOptions{Whiteouts: archive.OverlayWhiteouts, Parents: parents})
}

// applyLayerOpts decompresses the layer r and applies it to dir with opts;
// it returns the digest of the uncompressed tar and its size. The digest is
// computed as Apply reads (decompression runs ahead in its own goroutine).
func applyLayerOpts(ctx context.Context, dir string, r io.Reader, opts archive.ApplyOptions) (digest.Digest, int64, error) {
	dr, _, err := archive.Decompress(r)
	if err != nil {
		return "", 0, err
	}
	defer dr.Close()
	h := digest.SHA256.Hash()
	tee := io.TeeReader(dr, h)
	n, err := archive.Apply(ctx, dir, tee, opts)
	if err != nil {
		return "", 0, err
	}
	// Apply reads to the end; anything after it still counts for the digest.
	rest, err := io.Copy(io.Discard, tee)
	if err != nil {
		return "", 0, err
	}
	return digest.NewDigest(digest.SHA256, h), n + rest, nil
}

// lowerDirs returns the lowerdirs of an overlay mount, topmost first.
func lowerDirs(mounts []snapshot.Mount) []string {
	for _, m := range mounts {
		if m.Type != "overlay" {
			continue
		}
		for _, o := range m.Options {
			if v, ok := strings.CutPrefix(o, "lowerdir="); ok {
				return strings.Split(v, ":")
			}
		}
	}
	return nil
}
