// Package content is corral's content-addressed blob store: every blob (layer,
// manifest, index, config) is stored once under its sha256 digest, verified
// while it is written and published atomically, so a reader never sees a
// partial or wrong blob. Store is the contract; Local is the implementation on
// a local directory; content/contenttest holds the conformance suite every
// implementation passes.
package content

import (
	"context"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
)

// Info describes a committed blob.
type Info struct {
	Digest    digest.Digest
	Size      int64
	CreatedAt time.Time
}

// ReaderAt reads a committed blob; Size is its length.
type ReaderAt interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// WriterOpts says what a Writer is about to write. Expected and Size are
// optional (zero values mean unknown); when given, Commit refuses content that
// differs.
type WriterOpts struct {
	// Ref names the ingest for logs and errors (for example a layer's digest
	// or "manifest-<ref>"); it need not be unique.
	Ref      string
	Expected digest.Digest
	Size     int64
}

// Writer writes one blob. Bytes go to a private ingest file; Commit verifies
// size and digest and publishes the blob atomically. Close without Commit
// discards the ingest. Concurrent writers of the same digest are safe: the
// first Commit publishes, later ones return an error of class
// errdefs.ErrAlreadyExists (and leave the published blob untouched).
type Writer interface {
	io.WriteCloser
	// Digest is the digest of what was written so far.
	Digest() digest.Digest
	// Offset is the number of bytes written so far.
	Offset() int64
	// Commit publishes the blob. size and expected, when non-zero, must
	// match what was written (errdefs.ErrInvalidArgument naming both if not).
	Commit(ctx context.Context, size int64, expected digest.Digest) error
}

// Store is the contract of a blob store. Missing blobs are errdefs.ErrNotFound.
type Store interface {
	Info(ctx context.Context, dgst digest.Digest) (Info, error)
	ReaderAt(ctx context.Context, dgst digest.Digest) (ReaderAt, error)
	Writer(ctx context.Context, opts WriterOpts) (Writer, error)
	Delete(ctx context.Context, dgst digest.Digest) error
	// Walk calls fn for every committed blob; an error from fn stops it.
	Walk(ctx context.Context, fn func(Info) error) error
}
