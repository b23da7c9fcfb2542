package content

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/errdefs"
)

// errFinished is returned by a Writer used after Commit or Close.
var errFinished = errors.New("writer already committed or closed")

// localWriter writes one blob of a Local into a locked ingest file.
type localWriter struct {
	l        *Local
	opts     WriterOpts
	path     string
	f        *os.File // nil once finished
	digester digest.Digester
	offset   int64
}

// Writer starts a blob. It hashes with the algorithm of opts.Expected (sha256
// when none is given). Writing more than opts.Size bytes fails at once.
// Commit finishes the Writer whatever its result: the ingest is published or
// removed, and a later Close does nothing.
func (l *Local) Writer(ctx context.Context, opts WriterOpts) (Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start blob %s: %w", opts.Ref, err)
	}
	alg := digest.Canonical
	if opts.Expected != "" {
		if err := checkDigest(opts.Expected); err != nil {
			return nil, fmt.Errorf("start blob %s: %w", opts.Ref, err)
		}
		alg = opts.Expected.Algorithm()
	}
	if opts.Size < 0 {
		return nil, errdefs.InvalidArgument(fmt.Errorf("start blob %s: negative size %d", opts.Ref, opts.Size))
	}
	f, path, err := l.createIngest()
	if err != nil {
		return nil, fmt.Errorf("start blob %s: %w", opts.Ref, err)
	}
	return &localWriter{l: l, opts: opts, path: path, f: f, digester: alg.Digester()}, nil
}

// createIngest creates a new ingest file and locks it. Sweep may remove an
// unlocked file between its creation and its lock; then the path no longer
// names the file and it tries another name.
func (l *Local) createIngest() (*os.File, string, error) {
	for range 5 {
		path := filepath.Join(l.ingestDir(), randomName())
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return nil, "", fmt.Errorf("create ingest file: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			os.Remove(path)
			return nil, "", fmt.Errorf("lock ingest file: %w", err)
		}
		if samePath(f, path) {
			return f, path, nil
		}
		f.Close()
	}
	return nil, "", errors.New("create ingest file: removed by a concurrent sweep five times")
}

// samePath reports whether path still names the open file f.
func samePath(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(path)
	return err == nil && os.SameFile(a, b)
}

func randomName() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b)
}

func (w *localWriter) name() string {
	if w.opts.Ref != "" {
		return w.opts.Ref
	}
	if w.opts.Expected != "" {
		return w.opts.Expected.String()
	}
	return "blob"
}

// Write appends p to the ingest and to the running digest.
func (w *localWriter) Write(p []byte) (int, error) {
	if w.f == nil {
		return 0, fmt.Errorf("write %s: %w", w.name(), errFinished)
	}
	if w.opts.Size > 0 && w.offset+int64(len(p)) > w.opts.Size {
		return 0, errdefs.InvalidArgument(fmt.Errorf("write %s: more than the expected %d bytes", w.name(), w.opts.Size))
	}
	n, err := w.f.Write(p)
	w.digester.Hash().Write(p[:n])
	w.offset += int64(n)
	if err != nil {
		return n, fmt.Errorf("write %s to ingest: %w", w.name(), err)
	}
	return n, nil
}

// Digest is the digest of the bytes written so far.
func (w *localWriter) Digest() digest.Digest { return w.digester.Digest() }

// Offset is the number of bytes written so far.
func (w *localWriter) Offset() int64 { return w.offset }

// Close discards the ingest unless Commit already finished the Writer.
func (w *localWriter) Close() error {
	if w.f == nil {
		return nil
	}
	return w.discard()
}

// discard removes the ingest file (while still holding its lock) and closes it.
func (w *localWriter) discard() error {
	err := os.Remove(w.path)
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	if cerr := w.f.Close(); err == nil && cerr != nil && !errors.Is(cerr, os.ErrClosed) {
		err = cerr
	}
	w.f = nil
	if err != nil {
		return fmt.Errorf("discard ingest of %s: %w", w.name(), err)
	}
	return nil
}
