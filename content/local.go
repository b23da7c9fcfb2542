package content

import (
	"context"
	// The digest algorithms Local accepts need their hashes linked in.
	_ "crypto/sha256"
	_ "crypto/sha512"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"github.com/corral-dev/corral/errdefs"
)

// algorithms are the digest algorithms Local stores, sha256 first (the one
// images use; the others are accepted when a descriptor names them).
var algorithms = []digest.Algorithm{digest.SHA256, digest.SHA384, digest.SHA512}

// Local is a Store on a local directory:
//
//	<root>/blobs/<algorithm>/<hex>   committed blobs, mode 0444
//	<root>/ingest/<random>           one file per open Writer
//
// A Writer writes and hashes into its own ingest file, which it holds
// flock(LOCK_EX) on; Commit verifies size and digest, fsyncs, and renames the
// file into blobs/ without replacing an existing blob (renameat2
// RENAME_NOREPLACE, or link+unlink where that is not supported), then fsyncs
// the directory. A reader therefore sees either no blob or the whole,
// verified one, and concurrent writers of one digest (goroutines or
// processes sharing root) publish it exactly once. An ingest file whose lock
// nobody holds was left by a crash: Sweep removes it, and NewLocal sweeps.
//
// Local is safe for concurrent use; a Writer is not (one goroutine each).
type Local struct {
	root string
}

var _ Store = (*Local)(nil)

// NewLocal opens (creating it if needed) the store at root, conventionally
// <corral root>/content, and removes ingest files left by crashed writers.
func NewLocal(root string) (*Local, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open content store %s: %w", root, err)
	}
	l := &Local{root: abs}
	if err := os.MkdirAll(l.algorithmDir(digest.SHA256), 0o755); err != nil {
		return nil, fmt.Errorf("open content store: %w", err)
	}
	if err := os.MkdirAll(l.ingestDir(), 0o700); err != nil {
		return nil, fmt.Errorf("open content store: %w", err)
	}
	if err := l.Sweep(context.Background()); err != nil {
		return nil, fmt.Errorf("open content store: %w", err)
	}
	return l, nil
}

// Root returns the store's directory.
func (l *Local) Root() string { return l.root }

func (l *Local) ingestDir() string { return filepath.Join(l.root, "ingest") }

func (l *Local) algorithmDir(alg digest.Algorithm) string {
	return filepath.Join(l.root, "blobs", string(alg))
}

// blobPath returns where the blob dgst lives; an invalid digest or an
// algorithm Local does not store is ErrInvalidArgument.
func (l *Local) blobPath(dgst digest.Digest) (string, error) {
	if err := checkDigest(dgst); err != nil {
		return "", err
	}
	return filepath.Join(l.algorithmDir(dgst.Algorithm()), dgst.Encoded()), nil
}

func checkDigest(dgst digest.Digest) error {
	if err := dgst.Validate(); err != nil {
		return errdefs.InvalidArgument(fmt.Errorf("digest %q: %w", dgst, err))
	}
	for _, alg := range algorithms {
		if dgst.Algorithm() == alg {
			return nil
		}
	}
	return errdefs.InvalidArgument(fmt.Errorf("digest %s: unsupported algorithm", dgst))
}

func blobNotFound(dgst digest.Digest) error {
	return fmt.Errorf("blob %s: %w", dgst, errdefs.ErrNotFound)
}

// Info returns the size and commit time of blob dgst.
func (l *Local) Info(ctx context.Context, dgst digest.Digest) (Info, error) {
	p, err := l.blobPath(dgst)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, blobNotFound(dgst)
	}
	if err != nil {
		return Info{}, fmt.Errorf("stat blob %s: %w", dgst, err)
	}
	if !st.Mode().IsRegular() {
		return Info{}, fmt.Errorf("blob %s: %s is not a regular file", dgst, p)
	}
	return Info{Digest: dgst, Size: st.Size(), CreatedAt: st.ModTime()}, nil
}

// ReaderAt opens blob dgst for reading. Reading past its end gives io.EOF.
func (l *Local) ReaderAt(ctx context.Context, dgst digest.Digest) (ReaderAt, error) {
	p, err := l.blobPath(dgst)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, blobNotFound(dgst)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", dgst, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat blob %s: %w", dgst, err)
	}
	return &fileReader{f: f, size: st.Size()}, nil
}

// fileReader is the ReaderAt of a blob file.
type fileReader struct {
	f    *os.File
	size int64
}

func (r *fileReader) ReadAt(p []byte, off int64) (int, error) { return r.f.ReadAt(p, off) }
func (r *fileReader) Close() error                            { return r.f.Close() }
func (r *fileReader) Size() int64                             { return r.size }

// Delete removes blob dgst. Readers that have it open keep reading it.
func (l *Local) Delete(ctx context.Context, dgst digest.Digest) error {
	p, err := l.blobPath(dgst)
	if err != nil {
		return err
	}
	err = os.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		return blobNotFound(dgst)
	}
	if err != nil {
		return fmt.Errorf("delete blob %s: %w", dgst, err)
	}
	return nil
}

// Walk calls fn for every committed blob, sha256 ones first. Blobs deleted
// while it runs may or may not be reported.
func (l *Local) Walk(ctx context.Context, fn func(Info) error) error {
	for _, alg := range algorithms {
		if err := l.walkAlgorithm(ctx, alg, fn); err != nil {
			return err
		}
	}
	return nil
}

func (l *Local) walkAlgorithm(ctx context.Context, alg digest.Algorithm, fn func(Info) error) error {
	entries, err := os.ReadDir(l.algorithmDir(alg))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("walk blobs: %w", err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("walk blobs: %w", err)
		}
		dgst := digest.NewDigestFromEncoded(alg, e.Name())
		if dgst.Validate() != nil {
			continue // not a blob (a stray file); never ours to report
		}
		info, err := l.Info(ctx, dgst)
		if errdefs.IsNotFound(err) {
			continue // deleted since ReadDir
		}
		if err != nil {
			return fmt.Errorf("walk blobs: %w", err)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}
