package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// What `docker cp` needs on the engine's side: the stat of a path inside a
// container's root filesystem (HEAD /containers/{id}/archive), a tar of it
// (GET) and the extraction of a tar into a directory of it (PUT, in
// copy_extract.go). The root is a host directory; the path is the
// container's, and every lookup is made inside the root as if it were "/"
// (openat2 RESOLVE_IN_ROOT, or a walk of readlinkat from the root's
// descriptor), so a symlink the container planted never leads outside.

// PathStat is what StatPath reports of a path, the fields of the Engine
// API's container.PathStat.
type PathStat struct {
	// Name is the path's last element as the request named it ("etc" for
	// "/etc/", "." for "/etc/.", "/" for "/").
	Name string
	Size int64
	// Mode is as os.Lstat gives it (type bits included).
	Mode    os.FileMode
	ModTime time.Time
	// LinkTarget is, for a symlink, the absolute path inside the root that
	// it leads to after every symlink is followed (as far as the path
	// exists).
	LinkTarget string
}

// StatPath stats the path p of the tree root as docker's daemon does for
// HEAD /containers/{id}/archive: a final symlink is not followed (its
// LinkTarget is resolved) unless p ends in "/" or "/.", which also require
// a directory. A missing path is an error that matches fs.ErrNotExist.
func StatPath(root, p string) (PathStat, error) {
	r, err := openRoot(root)
	if err != nil {
		return PathStat{}, err
	}
	defer r.close()
	l, err := locate(r, p)
	if err != nil {
		return PathStat{}, err
	}
	defer l.close()
	return l.stat(r)
}

// located is what a container path names, found inside a root.
type located struct {
	// abs is the path made absolute, its trailing "/" or "/." kept; rel
	// the cleaned path relative to the root ("" for the root itself).
	abs, rel string
	// dirfd, when not -1, is the directory the path named (opened for
	// reading, its last symlink followed: the path asserted a directory,
	// or is the root); else pfd is the parent's descriptor (owned by the
	// root) and base the final name, not followed.
	dirfd int
	pfd   int
	base  string
	st    unix.Stat_t
}

// locate finds p in r.
func locate(r *root, p string) (*located, error) {
	abs := PreserveTrailingDotOrSeparator(path.Join("/", p), p)
	l := &located{abs: abs, rel: cleanName(abs), dirfd: -1, pfd: -1}
	if l.rel == "" || assertsDirectory(abs) {
		fd, err := r.open(l.rel, unix.O_RDONLY|unix.O_DIRECTORY)
		if err != nil {
			return nil, &os.PathError{Op: "lstat", Path: abs, Err: err}
		}
		l.dirfd = fd
		if err := unix.Fstat(fd, &l.st); err != nil {
			unix.Close(fd)
			return nil, &os.PathError{Op: "lstat", Path: abs, Err: err}
		}
		return l, nil
	}
	parent, base := splitPath(l.rel)
	pfd, err := r.dir(parent)
	if err == nil {
		err = unix.Fstatat(pfd, base, &l.st, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return nil, &os.PathError{Op: "lstat", Path: abs, Err: err}
	}
	l.pfd, l.base = pfd, base
	return l, nil
}

func (l *located) close() {
	if l.dirfd >= 0 {
		unix.Close(l.dirfd)
		l.dirfd = -1
	}
}

// name is the path's last element as docker names it (filepath.Base).
func (l *located) name() string {
	if l.rel == "" && !specifiesCurrentDir(l.abs) {
		return "/"
	}
	return path.Base(l.abs)
}

// stat turns what was found into a PathStat.
func (l *located) stat(r *root) (PathStat, error) {
	ps := PathStat{Name: l.name(), Size: l.st.Size, Mode: fileMode(&l.st),
		ModTime: time.Unix(l.st.Mtim.Sec, l.st.Mtim.Nsec)}
	if ps.Mode&os.ModeSymlink != 0 {
		target, err := r.resolve(l.rel)
		if err != nil {
			return PathStat{}, &os.PathError{Op: "resolve", Path: l.abs, Err: err}
		}
		ps.LinkTarget = "/" + target
	}
	return ps, nil
}

// fileMode converts a stat mode to Go's os.FileMode, as os.Lstat does.
func fileMode(st *unix.Stat_t) os.FileMode {
	m := os.FileMode(st.Mode & 0o777)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFBLK:
		m |= os.ModeDevice
	case unix.S_IFCHR:
		m |= os.ModeDevice | os.ModeCharDevice
	case unix.S_IFDIR:
		m |= os.ModeDir
	case unix.S_IFIFO:
		m |= os.ModeNamedPipe
	case unix.S_IFLNK:
		m |= os.ModeSymlink
	case unix.S_IFSOCK:
		m |= os.ModeSocket
	}
	if st.Mode&unix.S_ISUID != 0 {
		m |= os.ModeSetuid
	}
	if st.Mode&unix.S_ISGID != 0 {
		m |= os.ModeSetgid
	}
	if st.Mode&unix.S_ISVTX != 0 {
		m |= os.ModeSticky
	}
	return m
}

// maxSymlinks bounds the symlinks resolve follows, as the kernel's
// (MAXSYMLINKS is 40; path resolution in Go's filepath allows 255).
const maxSymlinks = 255

// resolve follows every symlink of the cleaned relative path rel inside r,
// as if r were "/", and returns the symlink-free path it leads to (cleaned,
// relative). Once a component does not exist the rest is taken as it is,
// so a dangling link resolves to where its target would be. Each step reads
// one name with readlinkat relative to a descriptor of the directory
// resolved so far: nothing outside r is ever looked at.
func (r *root) resolve(rel string) (string, error) {
	todo := strings.Split(rel, "/")
	done := ""
	for links := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			done, _ = splitPath(done)
			continue
		}
		pfd, err := r.dir(done)
		if err != nil {
			return "", err
		}
		target, err := readlinkat(pfd, c, 256)
		switch {
		case err == unix.EINVAL:
			done = joinPath(done, c) // not a symlink
			continue
		case err == unix.ENOENT:
			return cleanName(joinPath(done, c) + "/" + strings.Join(todo, "/")), nil
		case err != nil:
			return "", err
		}
		if links++; links > maxSymlinks {
			return "", unix.ELOOP
		}
		if path.IsAbs(target) {
			done = ""
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return done, nil
}

// ArchivePath returns the tar of the path p of the tree root as docker's
// daemon answers GET /containers/{id}/archive, with p's stat. p is found as
// StatPath finds it. A directory gives its own entry, named as p's last
// element ("etc/"; "./" for "/etc/.", whose content comes without a
// directory of its own; "/" for the root), then its content; anything else
// gives one entry, a final symlink itself. The tree is written depth first
// in name order, never following a symlink, from descriptors of the
// directories it holds. Closing the reader early stops the writer.
func ArchivePath(ctx context.Context, root, p string) (io.ReadCloser, PathStat, error) {
	return archivePath(ctx, root, p, "")
}

// archivePath is ArchivePath, the top entry named top if not "".
func archivePath(ctx context.Context, root, p, top string) (io.ReadCloser, PathStat, error) {
	r, err := openRoot(root)
	if err != nil {
		return nil, PathStat{}, err
	}
	l, err := locate(r, p)
	if err != nil {
		r.close()
		return nil, PathStat{}, err
	}
	st, err := l.stat(r)
	if err == nil && l.dirfd < 0 && isDir(&l.st) {
		err = l.openDir()
	}
	if err != nil {
		l.close()
		r.close()
		return nil, PathStat{}, err
	}
	if top == "" {
		top = st.Name
	}
	pr, pw := io.Pipe()
	go func() {
		defer r.close()
		defer l.close()
		pw.CloseWithError(l.write(ctx, pw, top))
	}()
	return pr, st, nil
}

// openDir opens the directory that pfd and base name, without following.
func (l *located) openDir() error {
	fd, err := unix.Openat(l.pfd, l.base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: l.abs, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Ino != l.st.Ino || st.Dev != l.st.Dev {
		unix.Close(fd)
		return &os.PathError{Op: "open", Path: l.abs, Err: errors.New("replaced while being archived")}
	}
	l.dirfd = fd
	return nil
}

// write writes the tar of what l found to w, its top entry named top.
func (l *located) write(ctx context.Context, w io.Writer, top string) error {
	t := &treeWriter{ctx: ctx, tw: tar.NewWriter(w), links: make(map[devIno]string), buf: getBuf()}
	defer putBuf(t.buf)
	var err error
	if l.dirfd >= 0 {
		err = t.top(l.dirfd, &l.st, top)
	} else {
		err = t.single(l.pfd, l.base, &l.st, top)
	}
	if err != nil {
		return fmt.Errorf("archive %s: %w", l.abs, err)
	}
	if err := t.tw.Close(); err != nil {
		return fmt.Errorf("archive %s: %w", l.abs, err)
	}
	return nil
}

// top writes the entry of the directory fd, named name, and its content
// under that name ("/" names the root: its content comes without prefix).
func (t *treeWriter) top(fd int, st *unix.Stat_t, name string) error {
	hdr := t.header(name, st)
	if _, err := t.xattrs(hdr, fdLister(fd)); err != nil {
		return err
	}
	hdr.Typeflag = tar.TypeDir
	if !strings.HasSuffix(hdr.Name, "/") {
		hdr.Name += "/"
	}
	if err := t.write(hdr, nil); err != nil {
		return err
	}
	return t.walk(fd, strings.TrimSuffix(name, "/"))
}

// single writes the entry of the file base in pfd (not a directory, not
// followed), whose status is st, named name. A socket gives no entry.
func (t *treeWriter) single(pfd int, base string, st *unix.Stat_t, name string) error {
	hdr := t.header(name, st)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFSOCK:
		return nil
	case unix.S_IFREG:
		return t.file(pfd, base, hdr, st)
	}
	return t.special(pfd, base, hdr, st)
}
