package archive

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/internal/openat2"
)

// maxCachedDirs bounds the directory descriptors a root keeps open.
const maxCachedDirs = 256

// root is a directory tree that paths are resolved in with
// openat2(RESOLVE_IN_ROOT): `..` stops at the root and absolute symlinks
// are taken relative to it, so no lookup leaves the tree.
//
// It caches descriptors of the directories it resolved, keyed by their
// cleaned path relative to the root ("" is the root). A cached descriptor
// stays valid while its directory exists; anything that removes a directory
// or a symlink (which could change what a cached path resolves to) calls
// invalidate. Invalidated descriptors are closed only at the next
// checkpoint, so that descriptors handed out for the current entry stay
// open; with Apply's workers, whose jobs hold descriptors of the root,
// quiesce runs first.
type root struct {
	fd      int
	dirs    map[string]int
	retired []int
	// ids caches the identity of the descriptors dir returned, for keys.
	ids map[int]entryKey
	// quiesce, when set, is called before anything is removed and before
	// retired descriptors are closed: Apply waits for its workers then.
	quiesce func()
	// claim, when set, is called before mkdirAll creates base in the
	// directory pfd (after rel did not resolve).
	claim func(pfd int, base string) error
}

// openRoot opens dir as a root.
func openRoot(dir string) (*root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", dir, err)
	}
	return &root{fd: fd, dirs: make(map[string]int), ids: make(map[int]entryKey)}, nil
}

// close closes every descriptor of r.
func (r *root) close() {
	r.invalidate()
	r.checkpoint()
	unix.Close(r.fd)
}

// invalidate forgets the cached directories.
func (r *root) invalidate() {
	for k, fd := range r.dirs {
		r.retired = append(r.retired, fd)
		delete(r.dirs, k)
	}
}

// checkpoint closes invalidated descriptors and, when the cache is full,
// empties it. Callers hold no descriptor from dir across a checkpoint.
func (r *root) checkpoint() {
	if len(r.dirs) > maxCachedDirs {
		r.invalidate()
	}
	if len(r.retired) > 0 && r.quiesce != nil {
		r.quiesce()
	}
	for _, fd := range r.retired {
		delete(r.ids, fd)
		unix.Close(fd)
	}
	r.retired = r.retired[:0]
}

// key returns the key of the entry base in the directory pfd, which is
// the root's descriptor or one that dir returned.
func (r *root) key(pfd int, base string) (entryKey, error) {
	k, ok := r.ids[pfd]
	if !ok {
		var st unix.Stat_t
		if err := unix.Fstat(pfd, &st); err != nil {
			return k, fmt.Errorf("stat directory: %w", err)
		}
		k = entryKey{dev: st.Dev, ino: st.Ino}
		r.ids[pfd] = k
	}
	k.name = base
	return k, nil
}

// dir returns a descriptor of the directory rel (cleaned, relative to the
// root), resolved inside the root, symlinks included. The root owns it: do
// not close it, nor use it after the next checkpoint.
func (r *root) dir(rel string) (int, error) {
	if rel == "" {
		return r.fd, nil
	}
	if fd, ok := r.dirs[rel]; ok {
		return fd, nil
	}
	fd, err := r.open(rel, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return -1, err
	}
	r.dirs[rel] = fd
	return fd, nil
}

// remember caches fd as the descriptor of the directory rel; the root takes
// ownership of it.
func (r *root) remember(rel string, fd int) {
	if old, ok := r.dirs[rel]; ok {
		r.retired = append(r.retired, old)
	}
	r.dirs[rel] = fd
}

// open opens rel inside the root with flags (O_CLOEXEC is added). The
// caller closes the descriptor.
func (r *root) open(rel string, flags int) (int, error) {
	if rel == "" {
		rel = "."
	}
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := openat2.Open(r.fd, rel, &how)
	if errors.Is(err, unix.EAGAIN) {
		return -1, fmt.Errorf("openat2 %s: %w", rel, err)
	}
	return fd, err
}

// mkdirAll returns a descriptor of the directory rel as dir does, creating
// it and its missing parents (mode 0755) first. created, when not nil, is
// called for each directory made, with its path and parent descriptor.
func (r *root) mkdirAll(rel string, created func(rel string, pfd int) error) (int, error) {
	fd, err := r.dir(rel)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	parent, base := splitPath(rel)
	pfd, err := r.mkdirAll(parent, created)
	if err != nil {
		return -1, err
	}
	if r.claim != nil {
		if err := r.claim(pfd, base); err != nil {
			return -1, err
		}
	}
	switch err := unix.Mkdirat(pfd, base, 0o755); {
	case err == nil:
		if created != nil {
			if err := created(rel, pfd); err != nil {
				return -1, err
			}
		}
	case err != unix.EEXIST:
		return -1, fmt.Errorf("mkdir %s: %w", rel, err)
	}
	fd, err = r.dir(rel)
	if err != nil {
		// EEXIST and still no directory: a dangling symlink or a file.
		return -1, fmt.Errorf("parent directory %s: %w", rel, err)
	}
	return fd, nil
}

// removeAll removes name in the directory pfd and, if it is a directory,
// everything under it. It never follows a symlink: a symlink is removed,
// not its target. A missing name is no error.
func (r *root) removeAll(pfd int, name string) error {
	// What is removed may be a directory or a symlink that cached paths
	// resolved through.
	if r.quiesce != nil {
		r.quiesce()
	}
	r.invalidate()
	err := unix.Unlinkat(pfd, name, 0)
	if err == nil || err == unix.ENOENT {
		return nil
	}
	if err != unix.EISDIR {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return removeTree(pfd, name)
}

// removeTree removes the directory name in pfd and its contents.
func removeTree(pfd int, name string) error {
	fd, err := unix.Openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	names, err := readDirNames(fd)
	if err == nil {
		for _, n := range names {
			if err = unix.Unlinkat(fd, n, 0); err == unix.EISDIR {
				err = removeTree(fd, n)
			}
			if err != nil && err != unix.ENOENT {
				err = fmt.Errorf("remove %s/%s: %w", name, n, err)
				break
			}
			err = nil
		}
	}
	unix.Close(fd)
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(pfd, name, unix.AT_REMOVEDIR); err != nil && err != unix.ENOENT {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// readDirNames lists the directory fd (without "." and ".."), unsorted.
func readDirNames(fd int) ([]string, error) {
	buf := getBuf()
	defer putBuf(buf)
	var names []string
	for {
		n, err := unix.Getdents(fd, *buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read directory: %w", err)
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent((*buf)[:n], -1, names)
	}
}

// splitPath splits a cleaned relative path into its parent ("" for the
// root) and its last component.
func splitPath(rel string) (parent, base string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return "", rel
	}
	return rel[:i], rel[i+1:]
}

// joinPath joins a cleaned relative parent path and a name.
func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "/" + name
}
