package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ent is one tar entry for mkTar: a header and, for regular files, a body.
type ent struct {
	hdr  tar.Header
	body string
}

var testTime = time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)

func dirE(name string, mode int64) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: testTime}}
}

func fileE(name, body string, mode int64) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)),
		ModTime: testTime}, body: body}
}

func symlinkE(name, target string) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777,
		ModTime: testTime}}
}

func linkE(name, target string) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, ModTime: testTime}}
}

func charE(name string, major, minor int64) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeChar, Name: name, Mode: 0o666, Devmajor: major,
		Devminor: minor, ModTime: testTime}}
}

// mkTar writes the entries as a tar (PAX where needed) with the
// end-of-archive marker.
func mkTar(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("write header %s: %v", h.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatalf("write %s: %v", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// applyTar applies data to root and returns Apply's error.
func applyTar(t testing.TB, root string, data []byte, opts ApplyOptions) error {
	t.Helper()
	n, err := Apply(context.Background(), root, bytes.NewReader(data), opts)
	if err == nil && n != int64(len(data)) {
		t.Errorf("Apply read %d bytes of %d", n, len(data))
	}
	return err
}

func mustApply(t testing.TB, root string, data []byte, opts ApplyOptions) {
	t.Helper()
	if err := applyTar(t, root, data, opts); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// plain is the options for applying into a plain directory as any user.
var plain = ApplyOptions{Whiteouts: RemoveWhiteouts, NoLchown: os.Geteuid() != 0}

// fileState is what tree records of one file.
type fileState struct {
	Mode   fs.FileMode
	Uid    uint32
	Gid    uint32
	Size   int64
	Mtime  int64
	Link   string
	Rdev   uint64
	Sum    string
	Xattrs string
	Ino    uint64 // kept apart: compared through links
}

func (s fileState) String() string {
	return fmt.Sprintf("%v %d:%d size=%d mtime=%d link=%q rdev=%d sum=%.12s xattrs=%s",
		s.Mode, s.Uid, s.Gid, s.Size, s.Mtime, s.Link, s.Rdev, s.Sum, s.Xattrs)
}

// tree records every file under dir (dir itself excluded) by relative path.
// With hardlinks, the relative path of the first name of the inode (in walk
// order) is stored in Link prefixed with "=>".
func tree(t testing.TB, dir string) map[string]fileState {
	t.Helper()
	out := make(map[string]fileState)
	inodes := make(map[uint64]string)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		s, err := stateOf(p)
		if err != nil {
			return err
		}
		if !s.Mode.IsDir() {
			if first, ok := inodes[s.Ino]; ok {
				s.Link = "=>" + first
			} else {
				inodes[s.Ino] = rel
			}
		}
		s.Ino = 0
		out[rel] = s
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return out
}

func stateOf(p string) (fileState, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return fileState{}, err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return fileState{}, err
	}
	s := fileState{Mode: fi.Mode(), Uid: st.Uid, Gid: st.Gid, Mtime: st.Mtim.Sec, Rdev: st.Rdev, Ino: st.Ino}
	switch {
	case fi.Mode().IsRegular():
		b, err := os.ReadFile(p)
		if err != nil {
			return s, err
		}
		sum := sha256.Sum256(b)
		s.Size, s.Sum = int64(len(b)), hex.EncodeToString(sum[:])
	case fi.Mode()&fs.ModeSymlink != 0:
		s.Link, _ = os.Readlink(p)
	}
	s.Xattrs = xattrString(p)
	return s, nil
}

// xattrString lists a file's xattrs (not following symlinks), sorted.
func xattrString(p string) string {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err != nil || n == 0 {
		return ""
	}
	var parts []string
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name == "" || name == "security.selinux" {
			continue
		}
		v := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(p, name, v)
		if err != nil {
			continue
		}
		parts = append(parts, name+"="+string(v[:m]))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// diffTrees reports the differences between two trees.
func diffTrees(t testing.TB, want, got map[string]fileState) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		w, wok := want[k]
		g, gok := got[k]
		switch {
		case !gok:
			t.Errorf("%s: missing (want %v)", k, w)
		case !wok:
			t.Errorf("%s: unexpected %v", k, g)
		case w != g:
			t.Errorf("%s:\n got %v\nwant %v", k, g, w)
		}
	}
}

// arena is a root to extract into and, beside it, a sentinel directory
// that no extraction may touch.
type arena struct {
	base, root, outside string
	before              map[string]fileState
	self                fileState
}

func newArena(t testing.TB) *arena {
	t.Helper()
	base := t.TempDir()
	a := &arena{base: base, root: filepath.Join(base, "root"), outside: filepath.Join(base, "outside")}
	for _, d := range []string{a.root, a.outside, filepath.Join(a.outside, "etc")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"secret", "target", "etc/passwd"} {
		if err := os.WriteFile(filepath.Join(a.outside, f), []byte("sentinel "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a.before = tree(t, a.outside)
	a.self, _ = stateOf(a.outside)
	t.Cleanup(func() { a.check(t) })
	return a
}

// check fails the test if anything in the sentinel changed.
func (a *arena) check(t testing.TB) {
	t.Helper()
	if self, err := stateOf(a.outside); err != nil || self != a.self {
		t.Errorf("sentinel dir %s changed: %v: %v, was %v", a.outside, err, self, a.self)
	}
	diffTrees(t, a.before, tree(t, a.outside))
}

// rel returns the path from root to p, through "..".
func (a *arena) rel(p string) string {
	r, _ := filepath.Rel(a.root, p)
	return r
}
