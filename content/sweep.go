package content

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Sweep removes the ingest files of writers that died without Commit or
// Close (a crash, a kill): those whose lock nobody holds. Ingest files of
// live writers, in this process or another, are left alone.
func (l *Local) Sweep(ctx context.Context) error {
	entries, err := os.ReadDir(l.ingestDir())
	if err != nil {
		return fmt.Errorf("sweep ingest: %w", err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sweep ingest: %w", err)
		}
		path := filepath.Join(l.ingestDir(), e.Name())
		if err := sweepOne(path, e.Type()); err != nil {
			return fmt.Errorf("sweep ingest: %w", err)
		}
	}
	return nil
}

// sweepOne removes path if no writer holds it.
func sweepOne(path string, typ fs.FileMode) error {
	if !typ.IsRegular() {
		return os.RemoveAll(path) // never made by a writer
	}
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // finished meanwhile
	}
	if err != nil {
		return err
	}
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil // a live writer
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
