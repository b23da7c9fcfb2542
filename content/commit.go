package content

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/errdefs"
)

// Commit verifies what was written against size and expected (and the
// WriterOpts), then publishes the blob. A blob already committed under the
// same digest is errdefs.ErrAlreadyExists and stays as it was. Either way the
// Writer is finished: its ingest file is gone.
func (w *localWriter) Commit(ctx context.Context, size int64, expected digest.Digest) error {
	if w.f == nil {
		return fmt.Errorf("commit %s: %w", w.name(), errFinished)
	}
	err := w.commit(ctx, size, expected)
	if derr := w.discard(); err == nil {
		err = derr
	}
	return err
}

func (w *localWriter) commit(ctx context.Context, size int64, expected digest.Digest) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("commit %s: %w", w.name(), err)
	}
	dgst, err := w.verify(size, expected)
	if err != nil {
		return err
	}
	return w.publish(dgst)
}

// verify checks the bytes written against every size and digest the caller
// gave, and returns their digest.
func (w *localWriter) verify(size int64, expected digest.Digest) (digest.Digest, error) {
	for _, want := range []int64{size, w.opts.Size} {
		if want != 0 && want != w.offset {
			return "", errdefs.InvalidArgument(fmt.Errorf("commit %s: size mismatch: expected %d bytes, got %d",
				w.name(), want, w.offset))
		}
	}
	actual := w.digester.Digest()
	for _, want := range []digest.Digest{expected, w.opts.Expected} {
		if want != "" && want != actual {
			return "", errdefs.InvalidArgument(fmt.Errorf("commit %s: digest mismatch: expected %s, got %s",
				w.name(), want, actual))
		}
	}
	return actual, nil
}

// publish makes the verified ingest file durable and renames it into place
// without replacing a blob another writer published first.
func (w *localWriter) publish(dgst digest.Digest) error {
	target, err := w.l.blobPath(dgst)
	if err != nil {
		return fmt.Errorf("commit %s: %w", w.name(), err)
	}
	if err := w.f.Chmod(0o444); err != nil {
		return fmt.Errorf("commit %s: %w", w.name(), err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("commit %s: sync ingest: %w", w.name(), err)
	}
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("commit %s: %w", w.name(), err)
	}
	err = renameNoReplace(w.path, target)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("commit %s: %w", dgst, errdefs.ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("commit %s: publish: %w", w.name(), err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("commit %s: %w", w.name(), err)
	}
	return nil
}

// renameNoReplace renames oldpath to newpath unless newpath exists (an error
// matching fs.ErrExist then). Where renameat2 lacks RENAME_NOREPLACE it
// links and unlinks, which is as atomic for a reader.
func renameNoReplace(oldpath, newpath string) error {
	err := unix.Renameat2(unix.AT_FDCWD, oldpath, unix.AT_FDCWD, newpath, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		if err = unix.Link(oldpath, newpath); err == nil {
			err = unix.Unlink(oldpath)
		}
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
