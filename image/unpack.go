package image

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/corral-dev/corral/archive"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/snapshot"
)

// labelChainID marks an unpack snapshot with the chain ID it becomes.
const labelChainID = "corral.image/chain-id"

// unpackLayer unpacks the layer blob desc (compressed or not, from the
// content store) on top of snapshot parent ("" for none) and commits it as
// snapshot chainID, checking that the uncompressed tar has digest diffID. A
// chainID that appears meanwhile (another pull) is fine.
func (s *Store) unpackLayer(ctx context.Context, lease string, desc ocispec.Descriptor, diffID, chainID digest.Digest, parent string, rep *reporter) error {
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
	if err := s.applyBlob(ctx, desc, diffID, mounts, rep); err != nil {
		return err
	}
	err = s.snapshots.Commit(ctx, chainID.String(), key)
	if err != nil && !errdefs.IsAlreadyExists(err) {
		return fmt.Errorf("commit layer %s: %w", ShortID(desc.Digest), err)
	}
	committed = err == nil
	return nil
}

// applyBlob extracts blob desc into the writable dir of mounts.
func (s *Store) applyBlob(ctx context.Context, desc ocispec.Descriptor, diffID digest.Digest, mounts []snapshot.Mount, rep *reporter) error {
	dir, err := snapshot.WritableDir(mounts)
	if err != nil {
		return fmt.Errorf("unpack layer %s: %w", ShortID(desc.Digest), err)
	}
	ra, err := s.content.ReaderAt(ctx, desc.Digest)
	if err != nil {
		return fmt.Errorf("unpack layer %s: %w", ShortID(desc.Digest), err)
	}
	defer ra.Close()
	src := &progressReader{r: io.NewSectionReader(ra, 0, ra.Size()), rep: rep, id: ShortID(desc.Digest),
		action: rep.extractAction(), total: ra.Size()}
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

// applyLayer decompresses the layer r and applies it to dir (an overlay
// upper dir over parents, topmost first); it returns the digest of the
// uncompressed tar and its size. Decompression and hashing run ahead in their own
// goroutine while Apply creates the files.
func applyLayer(ctx context.Context, dir string, r io.Reader, parents []string) (digest.Digest, int64, error) {
	dr, _, err := archive.Decompress(r)
	if err != nil {
		return "", 0, err
	}
	defer dr.Close()
	ahead := newReadAhead(dr, digest.SHA256.Hash(), nil)
	defer ahead.Close()
	n, err := archive.Apply(ctx, dir, ahead, archive.ApplyOptions{Whiteouts: archive.OverlayWhiteouts, Parents: parents})
	if err != nil {
		return "", 0, err
	}
	rest, err := io.Copy(io.Discard, ahead)
	if err != nil {
		return "", 0, err
	}
	return digest.NewDigest(digest.SHA256, ahead.h), n + rest, nil
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

// readAhead reads its source in a goroutine, hashing what it reads, and
// hands the data over in chunks: decompression runs on one core while the
// consumer (tar extraction) runs on another.
type readAhead struct {
	h hash.Hash
	// tee, if not nil, gets everything read too, from the reader goroutine.
	tee  io.Writer
	data chan []byte
	free chan []byte
	stop chan struct{}
	wg   sync.WaitGroup
	cur  []byte
	buf  []byte // the chunk cur points into, to recycle
	err  error  // the source's error, read after data is closed
	once sync.Once
}

const (
	aheadChunk  = 256 << 10
	aheadChunks = 16
)

func newReadAhead(src io.Reader, h hash.Hash, tee io.Writer) *readAhead {
	a := &readAhead{h: h, tee: tee, data: make(chan []byte, aheadChunks), free: make(chan []byte, aheadChunks+1), stop: make(chan struct{})}
	for range aheadChunks + 1 {
		a.free <- make([]byte, aheadChunk)
	}
	a.wg.Add(1)
	go a.fill(src)
	return a
}

func (a *readAhead) fill(src io.Reader) {
	defer a.wg.Done()
	defer close(a.data)
	for {
		var buf []byte
		select {
		case buf = <-a.free:
		case <-a.stop:
			return
		}
		n, err := io.ReadFull(src, buf)
		if n > 0 {
			a.h.Write(buf[:n])
			if a.tee != nil {
				_, _ = a.tee.Write(buf[:n])
			}
			a.data <- buf[:n]
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return
		}
		if err != nil {
			a.err = err
			return
		}
	}
}

func (a *readAhead) Read(p []byte) (int, error) {
	for len(a.cur) == 0 {
		if a.buf != nil {
			a.free <- a.buf[:cap(a.buf)]
			a.buf = nil
		}
		chunk, ok := <-a.data
		if !ok {
			if a.err != nil {
				return 0, a.err
			}
			return 0, io.EOF
		}
		a.cur, a.buf = chunk, chunk
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

// Close stops the reader goroutine and waits for it.
func (a *readAhead) Close() error {
	a.once.Do(func() {
		close(a.stop)
		for range a.data { // unblock a pending send
		}
		a.wg.Wait()
	})
	return nil
}
