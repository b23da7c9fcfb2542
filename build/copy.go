package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/corral-dev/corral/archive"
)

// copySpec is one COPY or ADD: which paths of src go where in the image,
// owned and moded how.
type copySpec struct {
	src  *source
	srcs []string // relative to src.dir, as match answered them
	dest string   // absolute path in the image
	// dirDest says dest is a directory the sources go into (a trailing
	// slash, several sources, wildcards).
	dirDest  bool
	uid, gid int
	// keepOwner keeps the source files' owners (COPY --from without
	// --chown, as docker and buildah do) instead of uid:gid.
	keepOwner bool
	// newDirs are the directories (absolute, top first) the copy
	// creates on the way to its files when --chown is given: they are
	// owned by uid:gid, as docker and buildah make them. Without
	// --chown, extraction makes them 0755 root's as docker does.
	newDirs []string
	mode    *int64 // --chmod, or nil
	unpack  bool   // ADD: local tar archives are unpacked into dest
	// inline are heredoc files (COPY <<EOF /dest).
	inline []instructions.SourceContent
}

// entry is one tar entry the copy makes; open reads a regular file's
// content (nil for the others).
type entry struct {
	hdr  *tar.Header
	open func() (io.ReadCloser, error)
}

// walk calls fn with the entries of the copy, in a stable order.
func (c *copySpec) walk(fn func(entry) error) error {
	for _, d := range c.newDirs {
		if err := fn(entry{hdr: dirHeader(d, c.uid, c.gid)}); err != nil {
			return err
		}
	}
	if err := c.walkInline(fn); err != nil {
		return err
	}
	for _, rel := range c.srcs {
		hp, err := securejoin.SecureJoin(c.src.dir, rel)
		if err != nil {
			return fmt.Errorf("resolve %s: %w", rel, err)
		}
		fi, err := os.Lstat(hp)
		if err != nil {
			return c.src.missing(rel)
		}
		switch {
		case fi.IsDir():
			err = c.walkDir(hp, rel, fn)
		case c.unpack && fi.Mode().IsRegular() && isArchive(hp):
			err = c.walkArchive(hp, fn)
		default:
			name := c.dest
			if c.dirDest {
				name = path.Join(c.dest, path.Base(rel))
			}
			err = c.emit(hp, fi, name, fn)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// walkInline emits the heredoc files (COPY <<EOF /dest), mode 0644 unless
// --chmod.
func (c *copySpec) walkInline(fn func(entry) error) error {
	for _, in := range c.inline {
		data := in.Data
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(path.Join(c.dest, in.Path), "/"),
			Mode: 0o644, Size: int64(len(data)), Uid: c.uid, Gid: c.gid, Format: tar.FormatPAX}
		if !c.dirDest {
			hdr.Name = strings.TrimPrefix(c.dest, "/")
		}
		if c.mode != nil {
			hdr.Mode = *c.mode
		}
		if err := fn(entry{hdr: hdr, open: func() (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(data)), nil
		}}); err != nil {
			return err
		}
	}
	return nil
}

// walkDir emits the contents of the directory hp (context path rel) below
// dest, without following symlinks, skipping excluded paths.
func (c *copySpec) walkDir(hp, rel string, fn func(entry) error) error {
	return filepath.WalkDir(hp, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		sub, _ := filepath.Rel(hp, p)
		sub = filepath.ToSlash(sub)
		if sub == "." {
			return nil // dest keeps its metadata, or is one of newDirs
		}
		if c.src.excluded(path.Join(rel, sub)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		return c.emit(p, fi, path.Join(c.dest, sub), fn)
	})
}

// emit makes the entry of host file hp (fi) named name in the image.
func (c *copySpec) emit(hp string, fi os.FileInfo, name string, fn func(entry) error) error {
	link := ""
	if fi.Mode()&os.ModeSymlink != 0 {
		var err error
		if link, err = os.Readlink(hp); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return fmt.Errorf("copy %s: %w", hp, err)
	}
	hdr.Name = strings.TrimPrefix(path.Clean(name), "/")
	if hdr.Name == "" {
		return nil // the root itself keeps what it has
	}
	if fi.IsDir() {
		hdr.Name += "/"
	}
	if !c.keepOwner {
		hdr.Uid, hdr.Gid = c.uid, c.gid
	}
	hdr.Uname, hdr.Gname = "", ""
	hdr.AccessTime, hdr.ChangeTime, hdr.Format = fi.ModTime(), fi.ModTime(), tar.FormatPAX
	if c.mode != nil && hdr.Typeflag != tar.TypeSymlink {
		hdr.Mode = hdr.Mode&^0o7777 | *c.mode
	}
	e := entry{hdr: hdr}
	if hdr.Typeflag == tar.TypeReg {
		e.open = func() (io.ReadCloser, error) { return os.Open(hp) }
	}
	return fn(e)
}

// isArchive says whether the file hp is a tar archive (plain or
// compressed), which ADD unpacks.
func isArchive(hp string) bool {
	f, err := os.Open(hp)
	if err != nil {
		return false
	}
	defer f.Close()
	rc, _, err := archive.Decompress(bufio.NewReader(f))
	if err != nil {
		return false
	}
	defer rc.Close()
	_, err = tar.NewReader(rc).Next()
	return err == nil
}

// walkArchive emits the entries of the archive hp below dest: names are
// confined to dest (a "../" cannot climb out of it), owners kept.
func (c *copySpec) walkArchive(hp string, fn func(entry) error) error {
	f, err := os.Open(hp)
	if err != nil {
		return err
	}
	defer f.Close()
	rc, _, err := archive.Decompress(bufio.NewReader(f))
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("unpack %s: %w", path.Base(hp), err)
		}
		hdr.Name = strings.TrimPrefix(path.Join(c.dest, path.Clean("/"+hdr.Name)), "/")
		if hdr.Typeflag == tar.TypeLink {
			hdr.Linkname = strings.TrimPrefix(path.Join(c.dest, path.Clean("/"+hdr.Linkname)), "/")
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return fmt.Errorf("unpack %s: %w", path.Base(hp), err)
		}
		if hdr.Name == "" {
			continue
		}
		e := entry{hdr: hdr}
		if hdr.Typeflag == tar.TypeReg {
			e.open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

// writeTar writes the copy as a layer tar to w.
func (c *copySpec) writeTar(w io.Writer) error {
	tw := tar.NewWriter(w)
	err := c.walk(func(e entry) error {
		if err := tw.WriteHeader(e.hdr); err != nil {
			return err
		}
		return copyContent(tw, e)
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

func copyContent(w io.Writer, e entry) error {
	if e.open == nil {
		return nil
	}
	r, err := e.open()
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.Copy(w, r)
	return err
}

// sourceDigest is the content digest of the copy for the cache key:
// every entry's name (below the source, not yet placed at the
// destination), type, mode, link and content; not its times, so a touched
// file still hits the cache, as with docker. The destination and owner are
// in the instruction's text, and the parent image in the key.
func (c *copySpec) sourceDigest() (string, error) {
	h := sha256.New()
	probe := *c
	probe.dest, probe.dirDest, probe.uid, probe.gid = "/", true, 0, 0
	for _, s := range c.srcs {
		fmt.Fprintf(h, "src %q\n", s)
	}
	err := probe.walk(func(e entry) error {
		hd := e.hdr
		fmt.Fprintf(h, "%q %c %o %d:%d %q %d\n", hd.Name, hd.Typeflag, hd.Mode, hd.Uid, hd.Gid, hd.Linkname, hd.Size)
		return copyContent(h, e)
	})
	if err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// dirsTar is a layer tar holding the directories dirs (absolute, top
// first), mode 0755, owned by uid:gid.
func dirsTar(dirs []string, uid, gid int) (io.Reader, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, d := range dirs {
		if err := tw.WriteHeader(dirHeader(d, uid, gid)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &b, nil
}

func dirHeader(dir string, uid, gid int) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(path.Clean(dir), "/") + "/", Mode: 0o755,
		Uid: uid, Gid: gid, Format: tar.FormatPAX}
}

// missingDirs are the components of the absolute dir (top first) that
// the root filesystem root lacks; all of them when root is "" (scratch).
func missingDirs(root, dir string) []string {
	var missing []string
	for d := path.Clean(dir); d != "/" && d != "."; d = path.Dir(d) {
		if root != "" {
			if hp, err := securejoin.SecureJoin(root, d); err == nil {
				if _, err := os.Lstat(hp); err == nil {
					break
				}
			}
		}
		missing = append([]string{d}, missing...)
	}
	return missing
}
