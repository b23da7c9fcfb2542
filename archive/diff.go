package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/corral-dev/corral/errdefs"
	"golang.org/x/sys/unix"
)

// DiffOptions tune Diff.
type DiffOptions struct {
	// SourceDateEpoch, when set, clamps every modification time after it to
	// it, for reproducible layers.
	SourceDateEpoch *time.Time
}

// Diff writes to w the tar of an overlay upper dir: the layer that it holds
// (a container's or a build step's changes). Whiteouts (0:0 character
// devices) become `.wh.<name>` entries and opaque directories
// (trusted.overlay.opaque=y) a `.wh..wh..opq` entry after the directory's;
// files hardlinked to each other within upper become tar hardlinks;
// extended attributes go into PAX records, except overlayfs's own and the
// SELinux label. Entries are in sorted order with times truncated to
// seconds, so the same tree always gives the same tar.
//
// An upper dir written by an overlay mount with redirect_dir or metacopy
// holds references into the lower layers and is refused: the snapshot
// mounts must use neither.
func Diff(ctx context.Context, upper string, w io.Writer, opts DiffOptions) error {
	return writeTree(ctx, upper, w, &treeWriter{overlay: true, epoch: opts.SourceDateEpoch})
}

// WriteDir writes to w the tar of the plain directory dir (the directory's
// own entry excluded), for export and tests: every file as it is, devices
// included, in sorted order.
func WriteDir(ctx context.Context, dir string, w io.Writer) error {
	return writeTree(ctx, dir, w, &treeWriter{})
}

// treeWriter writes the tar of one tree.
type treeWriter struct {
	ctx     context.Context
	tw      *tar.Writer
	overlay bool
	epoch   *time.Time
	// links maps an inode with several links to the name it was first
	// written under.
	links map[devIno]string
	buf   *[]byte
}

type devIno struct{ dev, ino uint64 }

func writeTree(ctx context.Context, dir string, w io.Writer, t *treeWriter) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	t.ctx, t.tw, t.links, t.buf = ctx, tar.NewWriter(w), make(map[devIno]string), getBuf()
	defer putBuf(t.buf)
	if err := t.walk(fd, ""); err != nil {
		return fmt.Errorf("archive %s: %w", dir, err)
	}
	if err := t.tw.Close(); err != nil {
		return fmt.Errorf("archive %s: %w", dir, err)
	}
	return nil
}

// walk writes the entries of the directory fd, whose path is rel, in name
// order, depth first.
func (t *treeWriter) walk(fd int, rel string) error {
	names, err := readDirNames(fd)
	if err != nil {
		return fmt.Errorf("list %s: %w", rel, err)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := t.ctx.Err(); err != nil {
			return err
		}
		if err := t.entry(fd, rel, n); err != nil {
			return err
		}
	}
	return nil
}

// entry writes the file name of the directory dirfd (path parent).
func (t *treeWriter) entry(dirfd int, parent, name string) error {
	rel := joinPath(parent, name)
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return nil // removed while we walk
		}
		return fmt.Errorf("stat %s: %w", rel, err)
	}
	hdr := t.header(rel, &st)
	kind := st.Mode & unix.S_IFMT
	switch {
	case kind == unix.S_IFDIR:
		return t.dir(dirfd, name, hdr)
	case kind == unix.S_IFSOCK:
		return nil // a socket cannot be archived
	case t.overlay && isWhiteout(&st):
		return t.write(&tar.Header{Typeflag: tar.TypeReg, Name: joinPath(parent, whiteoutPrefix+name),
			ModTime: hdr.ModTime, Format: tar.FormatPAX}, nil)
	}
	if st.Nlink > 1 {
		key := devIno{uint64(st.Dev), st.Ino}
		if first, ok := t.links[key]; ok {
			return t.write(&tar.Header{Typeflag: tar.TypeLink, Name: rel, Linkname: first,
				Mode: hdr.Mode, Uid: hdr.Uid, Gid: hdr.Gid, ModTime: hdr.ModTime, Format: tar.FormatPAX}, nil)
		}
		t.links[key] = rel
	}
	if kind == unix.S_IFREG {
		return t.file(dirfd, name, hdr, &st)
	}
	return t.special(dirfd, name, hdr, &st)
}

// header starts the tar header of rel from its status: mode with setuid,
// setgid and sticky bits, numeric owner (no names: they belong to the
// host), modification time in seconds, clamped to the epoch if any.
func (t *treeWriter) header(rel string, st *unix.Stat_t) *tar.Header {
	mtime := time.Unix(st.Mtim.Sec, 0)
	if t.epoch != nil && mtime.After(*t.epoch) {
		mtime = t.epoch.Truncate(time.Second)
	}
	return &tar.Header{
		Name:    rel,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: mtime,
		Format:  tar.FormatPAX,
	}
}

// dir writes a directory's entry (and its opaque marker) and its content.
func (t *treeWriter) dir(dirfd int, name string, hdr *tar.Header) error {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", hdr.Name, err)
	}
	defer unix.Close(fd)
	opaque, err := t.xattrs(hdr, fdLister(fd))
	if err != nil {
		return err
	}
	rel := hdr.Name
	hdr.Typeflag, hdr.Name = tar.TypeDir, rel+"/"
	if err := t.write(hdr, nil); err != nil {
		return err
	}
	if opaque {
		marker := &tar.Header{Typeflag: tar.TypeReg, Name: rel + "/" + opaqueMarker,
			ModTime: hdr.ModTime, Format: tar.FormatPAX}
		if err := t.write(marker, nil); err != nil {
			return err
		}
	}
	return t.walk(fd, rel)
}

// file writes a regular file's entry and data.
func (t *treeWriter) file(dirfd int, name string, hdr *tar.Header, st *unix.Stat_t) error {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", hdr.Name, err)
	}
	defer unix.Close(fd)
	var now unix.Stat_t
	if err := unix.Fstat(fd, &now); err != nil || now.Ino != st.Ino || now.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("open %s: replaced while being archived", hdr.Name)
	}
	if _, err := t.xattrs(hdr, fdLister(fd)); err != nil {
		return err
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	return t.write(hdr, func() error { return t.copyFile(fd, hdr) })
}

// copyFile copies exactly hdr.Size bytes of fd into the tar.
func (t *treeWriter) copyFile(fd int, hdr *tar.Header) error {
	buf := *t.buf
	for left := hdr.Size; left > 0; {
		n := int64(len(buf))
		if left < n {
			n = left
		}
		got, err := unix.Read(fd, buf[:n])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", hdr.Name, err)
		}
		if got == 0 {
			return fmt.Errorf("read %s: file shrank while being archived", hdr.Name)
		}
		if _, err := t.tw.Write(buf[:got]); err != nil {
			return fmt.Errorf("write tar: %w", err)
		}
		left -= int64(got)
	}
	return nil
}

// special writes a symlink, device or fifo entry.
func (t *treeWriter) special(dirfd int, name string, hdr *tar.Header, st *unix.Stat_t) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		target, err := readlinkat(dirfd, name, st.Size)
		if err != nil {
			return fmt.Errorf("readlink %s: %w", hdr.Name, err)
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil
	}
	fd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", hdr.Name, err)
	}
	_, err = t.xattrs(hdr, pathLister(fd))
	unix.Close(fd)
	if err != nil {
		return err
	}
	return t.write(hdr, nil)
}

// xattrs puts a file's extended attributes into hdr's PAX records and
// reports whether it is an opaque overlay directory.
func (t *treeWriter) xattrs(hdr *tar.Header, l xattrLister) (opaque bool, err error) {
	attrs, err := readXattrs(l)
	if err != nil {
		return false, fmt.Errorf("%s: %w", hdr.Name, err)
	}
	for name, value := range attrs {
		if t.overlay {
			switch name {
			case opaqueXattr:
				opaque = value == "y"
			case "trusted.overlay.redirect", "trusted.overlay.metacopy":
				return false, errdefs.Wrap(errdefs.ErrNotImplemented,
					fmt.Errorf("%s: upper dir uses overlay %s", hdr.Name, name))
			}
		}
		if privateXattr(name) {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = make(map[string]string)
		}
		hdr.PAXRecords[paxXattr+name] = value
	}
	return opaque, nil
}

// write writes hdr and, if data is not nil, calls it to write the data.
func (t *treeWriter) write(hdr *tar.Header, data func() error) error {
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write tar header of %s: %w", hdr.Name, err)
	}
	if data == nil {
		return nil
	}
	return data()
}

// readlinkat reads the symlink name in dirfd, whose length is about size.
func readlinkat(dirfd int, name string, size int64) (string, error) {
	n := int(size) + 1
	for {
		buf := make([]byte, n)
		got, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if got < n {
			return string(buf[:got]), nil
		}
		if n > 1<<20 {
			return "", errors.New("symlink target too long")
		}
		n *= 2
	}
}
