package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/errdefs"
)

// On disk, each container has a directory <dir>/<id> (the daemon keeps the
// container's other files there too: hostname, hosts, logs) holding its
// record, recordFile. A record is replaced atomically: written to a
// temporary file in the same directory, fsynced, renamed over recordFile,
// and the directory fsynced; a crash at any point leaves the old record or
// the new one, and at most a temporary file that Open removes.
const (
	recordFile = "container.json"
	tempPrefix = ".container.json-"
)

// writeRecord replaces dir's record with data.
func writeRecord(dir string, data []byte) error {
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return fmt.Errorf("write container record: %w", err)
	}
	tmp := f.Name()
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, recordFile))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write container record in %s: %w", dir, err)
	}
	return syncDir(dir)
}

// syncDir makes the entries of dir (a rename, a new or removed file)
// durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// readRecord reads and decodes dir's record; it returns an error wrapping
// fs.ErrNotExist when there is none.
func readRecord(dir string) (*Container, error) {
	data, err := os.ReadFile(filepath.Join(dir, recordFile))
	if err != nil {
		return nil, err
	}
	c := new(Container)
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("decode %s: %w", filepath.Join(dir, recordFile), err)
	}
	return c, nil
}

// removeTemps removes the temporary files an interrupted writeRecord left
// in dir.
func removeTemps(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("clean %s: %w", dir, err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("clean %s: %w", dir, err)
			}
		}
	}
	return nil
}

// lockDir takes an exclusive, non-blocking flock on dir, held while the
// returned file stays open: one daemon per store. The kernel drops it when
// the process dies, so a killed daemon leaves no stale lock.
func lockDir(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lock container store: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errdefs.Unavailable(fmt.Errorf("container store %s is in use by another process", dir))
		}
		return nil, fmt.Errorf("lock container store %s: %w", dir, err)
	}
	return f, nil
}

// hasMounts reports whether anything is mounted at or below dir. Removing a
// directory with a mount below it would delete the mounted files (a bind
// mount of a host directory, say): removal refuses instead.
func hasMounts(dir string) (bool, error) {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return false, fmt.Errorf("list mounts under %s: %w", dir, err)
	}
	return len(mounts) > 0, nil
}

// removeDir removes a container's directory: its record first (the
// container is then gone, whatever happens next), then the rest. It refuses
// while something is mounted below dir.
func (s *Store) removeDir(dir string) error {
	mounted, err := s.mounted(dir)
	if err != nil {
		return err
	}
	if mounted {
		return errdefs.Conflict(fmt.Errorf("remove %s: something is still mounted below it", dir))
	}
	if err := os.Remove(filepath.Join(dir, recordFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove container record: %w", err)
	}
	if err := syncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove container directory: %w", err)
	}
	return syncDir(filepath.Dir(dir))
}
