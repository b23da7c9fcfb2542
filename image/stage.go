package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/archive"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/snapshot"
)

// maxParallelUnpack bounds the layers unpacked at once. Creating files is
// slow on many disks and scales with concurrency: several layers at once
// finish much sooner than one after the other.
const maxParallelUnpack = 4

// inPlaceRetries counts staged layers unpacked again in place (for tests).
var inPlaceRetries atomic.Int64

// layerJob is one layer of an image to unpack.
type layerJob struct {
	desc   ocispec.Descriptor
	diffID digest.Digest
	chain  digest.Digest
	parent string          // chain ID of the layer below, "" for none
	ready  <-chan struct{} // closed once the blob is stored; nil if it is
	// stream, when not nil, is the blob as it downloads: the layer is
	// unpacked from it at once, without waiting for ready.
	stream *layerStream
}

// stagedLayer is a layer unpacked ahead of the layers below it into a
// scratch snapshot of its own, to be moved onto its parent once that is
// committed.
type stagedLayer struct {
	key    string // the scratch snapshot; "" when unpacked in place
	dir    string
	scan   *layerScan
	size   int64
	err    error
	direct bool // unpacked and committed in place
}

// unpackLayers unpacks jobs (in image order, each on the previous one),
// several at once: a layer whose parent is not committed yet is unpacked
// into a scratch snapshot and moved onto its parent afterwards, in order.
// done(i) is called, in order, as each layer is committed.
func (s *Store) unpackLayers(ctx context.Context, lease string, jobs []layerJob, rep *reporter, done func(int)) error {
	g, gctx := errgroup.WithContext(ctx)
	staged := make([]chan *stagedLayer, len(jobs))
	sem := make(chan struct{}, maxParallelUnpack)
	for i, j := range jobs {
		staged[i] = make(chan *stagedLayer, 1)
		direct := i == 0 || j.parent != jobs[i-1].chain.String()
		g.Go(func() error {
			// A streamed layer is bounded by the downloads, not by sem:
			// its download waits for it.
			if j.stream == nil {
				if err := waitReady(gctx, j.ready, sem); err != nil {
					return err
				}
				defer func() { <-sem }()
			}
			if direct {
				err := s.unpackLayer(gctx, lease, j, rep)
				j.stream.abort(err)
				staged[i] <- &stagedLayer{direct: true, err: err}
				return err
			}
			staged[i] <- s.stageLayer(gctx, lease, j, rep)
			return nil
		})
	}
	g.Go(func() error { return s.mergeLayers(gctx, lease, jobs, staged, rep, done) })
	err := g.Wait()
	for _, ch := range staged { // scratch snapshots a failure left
		select {
		case st := <-ch:
			if st.key != "" {
				_ = s.snapshots.Remove(context.WithoutCancel(ctx), st.key)
			}
		default:
		}
	}
	return err
}

func waitReady(ctx context.Context, ready <-chan struct{}, sem chan struct{}) error {
	if ready != nil {
		select {
		case <-ready:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// mergeLayers commits the layers in order as their staging completes.
func (s *Store) mergeLayers(ctx context.Context, lease string, jobs []layerJob, staged []chan *stagedLayer, rep *reporter, done func(int)) error {
	for i, j := range jobs {
		var st *stagedLayer
		select {
		case st = <-staged[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !st.direct {
			if err := s.mergeLayer(ctx, lease, j, st, rep); err != nil {
				return err
			}
		} else if st.err != nil {
			return st.err
		}
		if done != nil {
			done(i)
		}
	}
	return nil
}

// stageLayer unpacks a layer into a scratch snapshot without parents,
// scanning its tar for what needs the layers below. A streamed layer's
// download has ended, successfully or not, when it returns.
func (s *Store) stageLayer(ctx context.Context, lease string, j layerJob, rep *reporter) *stagedLayer {
	st := s.stageLayerFiles(ctx, lease, j, rep)
	if j.stream != nil {
		// Drain what staging left (all of it if it failed early), so that
		// the download completes, for a retry in place if need be.
		if err := j.stream.wait(ctx, rep, j.desc); err != nil {
			st.err = err // the download failed: what was unpacked is of no use
		}
	}
	return st
}

// stageLayerFiles is stageLayer but for the stream: the scratch snapshot
// and the files in it.
func (s *Store) stageLayerFiles(ctx context.Context, lease string, j layerJob, rep *reporter) *stagedLayer {
	st := &stagedLayer{key: randomID(extractPrefix)}
	if st.err = s.db.addToLease(lease, leaseRef{Snapshots: []string{st.key}}); st.err != nil {
		st.key = ""
		return st
	}
	mounts, err := s.snapshots.Prepare(ctx, st.key, "", snapshot.WithLabels(map[string]string{labelChainID: j.chain.String()}))
	if err != nil {
		st.key, st.err = "", err
		return st
	}
	if st.dir, st.err = snapshot.WritableDir(mounts); st.err != nil {
		return st
	}
	src, closeSrc, err := s.layerReader(ctx, j, rep)
	if err != nil {
		st.err = err
		return st
	}
	var got digest.Digest
	got, st.size, st.scan, st.err = applyScanned(ctx, st.dir, src)
	closeSrc()
	if st.err == nil && got != j.diffID {
		st.err = errdefs.InvalidArgument(fmt.Errorf("unpack layer %s: uncompressed digest %s, but the image config says %s",
			ShortID(j.desc.Digest), got, j.diffID))
	}
	return st
}

// applyScanned is applyLayer without parents, scanning the tar as it goes.
func applyScanned(ctx context.Context, dir string, r io.Reader) (digest.Digest, int64, *layerScan, error) {
	sc := newLayerScan()
	got, n, err := applyLayerOpts(ctx, dir, r, archive.ApplyOptions{Whiteouts: archive.OverlayWhiteouts, Observe: sc.add})
	return got, n, sc, err
}

// mergeLayer moves a staged layer onto its parent and commits it; when
// staging failed for want of the layers below (hardlinks into them) or the
// move fails, the layer is unpacked again in place.
func (s *Store) mergeLayer(ctx context.Context, lease string, j layerJob, st *stagedLayer, rep *reporter) error {
	err := st.err
	if err == nil {
		if err = s.moveStaged(ctx, lease, j, st); err == nil {
			return nil
		}
	} else if !(st.scan != nil && st.scan.foreignLinks) && (errdefs.IsInvalidArgument(err) || ctx.Err() != nil) {
		return fmt.Errorf("unpack layer %s: %w", ShortID(j.desc.Digest), err)
	}
	slog.Debug("unpack layer in place", "layer", j.desc.Digest, "reason", err)
	inPlaceRetries.Add(1)
	if st.key != "" {
		_ = s.snapshots.Remove(ctx, st.key)
		st.key = ""
	}
	j.stream = nil // consumed: the blob is in the content store now
	return s.unpackLayer(ctx, lease, j, rep)
}

// moveStaged prepares the layer's snapshot on its parent, gives the
// directories the layer created implicitly their attributes from below,
// moves the staged files in and commits.
func (s *Store) moveStaged(ctx context.Context, lease string, j layerJob, st *stagedLayer) error {
	key := randomID(extractPrefix)
	if err := s.db.addToLease(lease, leaseRef{Snapshots: []string{key, j.chain.String()}}); err != nil {
		return err
	}
	mounts, err := s.snapshots.Prepare(ctx, key, j.parent, snapshot.WithLabels(map[string]string{labelChainID: j.chain.String()}))
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			_ = s.snapshots.Remove(context.WithoutCancel(ctx), key)
		}
	}()
	upper, err := snapshot.WritableDir(mounts)
	if err != nil {
		return err
	}
	if err := copyUpDirs(st.dir, st.scan.implicit(), lowerDirs(mounts)); err != nil {
		return err
	}
	if err := moveEntries(st.dir, upper); err != nil {
		return err
	}
	err = s.snapshots.Commit(ctx, j.chain.String(), key)
	if err != nil && !errdefs.IsAlreadyExists(err) {
		return err
	}
	committed = err == nil
	_ = s.snapshots.Remove(ctx, st.key)
	st.key = ""
	return s.db.update(func(tx *bolt.Tx) error { return putSize(tx, bucketDiffs, j.diffID, st.size) })
}

// openIn opens rel under the directory root without following symlinks
// out of it (or, with noSymlinks, at all).
func openIn(root int, rel string, flags int, noSymlinks bool) (int, error) {
	resolve := uint64(unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS)
	if noSymlinks {
		resolve |= unix.RESOLVE_NO_SYMLINKS
	}
	for {
		fd, err := unix.Openat2(root, rel, &unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC | unix.O_NOFOLLOW), Resolve: resolve})
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
}

// copyUpDirs gives each directory of dirs (parents first) in the staged
// tree the owner, mode, xattrs (but overlayfs's) and times of the same
// directory in the topmost lower layer that has something there, as
// archive.Apply does with Parents.
func copyUpDirs(staged string, dirs []string, lowers []string) error {
	if len(dirs) == 0 || len(lowers) == 0 {
		return nil
	}
	root, err := unix.Open(staged, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(root)
	var lowerFDs []int
	defer func() {
		for _, fd := range lowerFDs {
			unix.Close(fd)
		}
	}()
	for _, l := range lowers {
		fd, err := unix.Open(l, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		lowerFDs = append(lowerFDs, fd)
	}
	for _, d := range dirs {
		if err := copyUpDir(root, d, lowerFDs); err != nil {
			return fmt.Errorf("copy attributes of %s from below: %w", d, err)
		}
	}
	return nil
}

func copyUpDir(root int, rel string, lowers []int) error {
	dst, err := openIn(root, rel, unix.O_RDONLY|unix.O_DIRECTORY, true)
	if err != nil {
		return nil //nolint:nilerr // replaced by the layer itself: nothing to do
	}
	defer unix.Close(dst)
	for _, l := range lowers {
		src, err := openIn(l, rel, unix.O_RDONLY|unix.O_DIRECTORY, false)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return nil //nolint:nilerr // something else is there: keep the default
		}
		defer unix.Close(src)
		return copyDirMeta(src, dst)
	}
	return nil
}

func copyDirMeta(src, dst int) error {
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return err
	}
	if err := unix.Fchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if err := unix.Fchmod(dst, st.Mode&0o7777); err != nil {
		return err
	}
	if err := copyXattrs(src, dst, func(name string) bool { return !strings.HasPrefix(name, "trusted.overlay.") }); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	return unix.UtimesNanoAt(dst, "", ts, unix.AT_EMPTY_PATH)
}

// copyXattrs copies the extended attributes that keep accepts.
func copyXattrs(src, dst int, keep func(string) bool) error {
	names, err := listXattrs(src)
	if err != nil {
		return err
	}
	for _, n := range names {
		if !keep(n) {
			continue
		}
		buf := make([]byte, 64<<10)
		sz, err := unix.Fgetxattr(src, n, buf)
		if err != nil {
			return fmt.Errorf("get xattr %s: %w", n, err)
		}
		if err := unix.Fsetxattr(dst, n, buf[:sz], 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("set xattr %s: %w", n, err)
		}
	}
	return nil
}

func listXattrs(fd int) ([]string, error) {
	buf := make([]byte, 64<<10)
	n, err := unix.Flistxattr(fd, buf)
	if errors.Is(err, unix.ENOTSUP) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list xattrs: %w", err)
	}
	var names []string
	for _, s := range strings.Split(string(buf[:n]), "\x00") {
		if s != "" {
			names = append(names, s)
		}
	}
	return names, nil
}

// moveEntries moves everything in the directory from into the empty
// directory to (same filesystem), and the overlay opaque marker of from
// itself.
func moveEntries(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Open(to)
	if err != nil {
		return err
	}
	defer dst.Close()
	names, err := src.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := unix.Renameat2(int(src.Fd()), n, int(dst.Fd()), n, unix.RENAME_NOREPLACE); err != nil {
			return fmt.Errorf("move %s into the layer: %w", n, err)
		}
	}
	return copyXattrs(int(src.Fd()), int(dst.Fd()), func(name string) bool { return name == "trusted.overlay.opaque" })
}
