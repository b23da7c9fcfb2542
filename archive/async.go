package archive

import (
	"archive/tar"
	"fmt"
	"io"
	"math/bits"
	"sync"

	"golang.org/x/sys/unix"
)

// The entries Apply hands to its workers: regular files of at most
// maxPooledFile bytes and symlinks, each created where nothing is yet
// (replacing something is done in order, by Apply itself). Their parent
// directories are resolved by Apply, as for every entry, and a worker
// creates the final component relative to that directory's descriptor with
// O_EXCL|O_NOFOLLOW or symlinkat, never following anything: the workers
// change nothing about what a tar can reach. What they change is when an
// entry is created, so Apply waits for them (see pool) wherever an entry
// could depend on one still in flight.

// failed returns the error of a worker, if any.
func (a *applier) failed() error {
	if a.pool == nil {
		return nil
	}
	return a.pool.failed()
}

// drain waits for the entries in flight; it returns a worker's error.
func (a *applier) drain() error {
	if a.pool == nil {
		return nil
	}
	return a.pool.drain()
}

// quiesce is the root's hook before it removes anything or closes
// descriptors: it waits for the workers (their errors surface later).
func (a *applier) quiesce() { _ = a.drain() }

// claim is the root's hook before it creates a missing parent directory:
// a path that did not resolve may go through an entry in flight (a symlink
// not made yet), so all of them must be done first, and the path resolves
// as it would have in tar order.
func (a *applier) claim(int, string) error { return a.drain() }

// settle waits for the entries in flight if one of them is base in pfd.
func (a *applier) settle(pfd int, base string) error {
	if a.pool == nil {
		return nil
	}
	k, err := a.root.key(pfd, base)
	if err != nil {
		return err
	}
	if a.pool.busy(k) {
		return a.pool.drain()
	}
	return nil
}

// vacant reports whether nothing is at base in pfd.
func vacant(pfd int, base string) (bool, error) {
	var st unix.Stat_t
	switch err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err {
	case nil:
		return false, nil
	case unix.ENOENT:
		return true, nil
	default:
		return false, fmt.Errorf("stat: %w", err)
	}
}

// fileAsync reads the data of the regular file of hdr and hands the file
// to a worker; when something is at its place it is replaced in order.
func (a *applier) fileAsync(pfd int, base string, hdr *tar.Header) error {
	if ok, err := vacant(pfd, base); err != nil || !ok {
		if err != nil {
			return err
		}
		return a.file(pfd, base, hdr)
	}
	data := getData(int(hdr.Size))
	if _, err := io.ReadFull(a.tr, *data); err != nil {
		putData(data)
		return tarError(err)
	}
	return a.submit(pfd, base, hdr, len(*data), func() error {
		defer putData(data)
		err := a.newFile(pfd, base, hdr, func(fd int) error {
			if err := writeAll(fd, *data); err != nil {
				return fmt.Errorf("write file: %w", err)
			}
			return nil
		})
		if err == unix.EEXIST {
			return fmt.Errorf("create file: %w", err)
		}
		return err
	})
}

// symlinkAsync hands the symlink of hdr to a worker; when something is at
// its place it is replaced in order.
func (a *applier) symlinkAsync(pfd int, base string, hdr *tar.Header) error {
	if ok, err := vacant(pfd, base); err != nil || !ok {
		if err != nil {
			return err
		}
		return a.symlink(pfd, base, hdr)
	}
	return a.submit(pfd, base, hdr, 0, func() error {
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("symlink: %w", err)
		}
		return a.nameMeta(pfd, base, hdr)
	})
}

// submit queues run, which creates base in pfd for hdr holding size bytes.
func (a *applier) submit(pfd int, base string, hdr *tar.Header, size int, run func() error) error {
	k, err := a.root.key(pfd, base)
	if err != nil {
		return err
	}
	return a.pool.submit(job{key: k, size: size, run: func() error {
		if err := run(); err != nil {
			return fmt.Errorf("apply %q: %w", hdr.Name, err)
		}
		return nil
	}})
}

// File data buffers for the workers, pooled by size class (powers of two
// from 4 KiB to maxPooledFile, 1 MiB).
const (
	minDataShift = 12
	dataClasses  = 20 - minDataShift + 1
)

var dataPools [dataClasses]sync.Pool

func dataClass(n int) int {
	if n <= 1<<minDataShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minDataShift
}

// getData returns a buffer of n bytes, n at most maxPooledFile.
func getData(n int) *[]byte {
	c := dataClass(n)
	if b, ok := dataPools[c].Get().(*[]byte); ok {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<(c+minDataShift))
	return &b
}

func putData(b *[]byte) { dataPools[dataClass(cap(*b))].Put(b) }
