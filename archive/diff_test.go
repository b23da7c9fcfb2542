package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/testutil"
	"golang.org/x/sys/unix"
)

// builder makes files in a directory for the Diff and WriteDir tests.
type builder struct {
	t   *testing.T
	dir string
}

func (b builder) path(rel string) string { return filepath.Join(b.dir, rel) }

func (b builder) must(err error) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
}

func (b builder) mkdir(rel string, mode os.FileMode) {
	b.t.Helper()
	b.must(os.MkdirAll(b.path(rel), 0o755))
	b.must(os.Chmod(b.path(rel), mode))
}

func (b builder) file(rel, body string, mode os.FileMode) {
	b.t.Helper()
	b.must(os.WriteFile(b.path(rel), []byte(body), 0o600))
	b.must(os.Chmod(b.path(rel), mode))
}

func (b builder) xattr(rel, name, value string) {
	b.t.Helper()
	b.must(unix.Lsetxattr(b.path(rel), name, []byte(value), 0))
}

func (b builder) chown(rel string, uid, gid int) {
	b.t.Helper()
	b.must(os.Lchown(b.path(rel), uid, gid))
}

// times sets every file's times to whole seconds, directories last
// (deepest first), so that the tree can be compared after a round trip.
func (b builder) times(mtime time.Time) {
	b.t.Helper()
	var dirs []string
	b.must(filepath.Walk(b.dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == b.dir {
			return err
		}
		if fi.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	}))
	for i := len(dirs) - 1; i >= 0; i-- {
		b.must(os.Chtimes(dirs[i], mtime, mtime))
	}
}

// richTree fills dir with every kind of file an image has; with root, owners,
// devices and trusted.* xattrs too.
func richTree(t *testing.T, dir string, root bool) {
	b := builder{t, dir}
	b.mkdir("etc", 0o755)
	b.file("etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o644)
	b.mkdir("tmp", 0o1777)
	b.mkdir("srv/private", 0o700)
	b.mkdir("var/mail", 0o2775)
	b.mkdir("bin", 0o755)
	b.file("bin/busybox", strings.Repeat("\x7fELF", 100000), 0o4755)
	b.must(os.Link(b.path("bin/busybox"), b.path("bin/sh")))
	b.must(os.Link(b.path("bin/busybox"), b.path("etc/zz-last-link")))
	b.must(os.Symlink("busybox", b.path("bin/ls")))
	b.must(os.Symlink("/etc/passwd", b.path("srv/abs-link")))
	b.must(os.Symlink("../nowhere", b.path("srv/dangling")))
	b.file("empty", "", 0o600)
	b.must(unix.Mkfifo(b.path("srv/fifo"), 0o640))
	b.xattr("etc/passwd", "user.checked", "yes")
	b.xattr("srv", "user.dir", "1")
	if root {
		b.chown("srv/private", 1000, 1000)
		b.chown("var/mail", 0, 8)
		b.chown("srv/abs-link", 33, 33)
		b.mkdir("dev", 0o755)
		b.must(unix.Mknod(b.path("dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
		b.must(unix.Mknod(b.path("dev/whiteout-looking"), unix.S_IFCHR|0o600, 0))
		b.must(unix.Mknod(b.path("dev/sda"), unix.S_IFBLK|0o660, int(unix.Mkdev(8, 0))))
		b.xattr("bin/busybox", "security.capability", string([]byte{0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}))
		b.xattr("srv/abs-link", "trusted.sym", "s")
		b.xattr("dev/null", "trusted.dev", "d")
		b.chown("bin/busybox", 0, 0)
		b.must(os.Chmod(b.path("bin/busybox"), 0o4755)) // chown cleared setuid
	}
	b.times(time.Date(2022, 2, 2, 2, 2, 2, 0, time.UTC))
}

// TestWriteDirRoundTrip archives a tree and applies the tar elsewhere: the
// two trees must be identical, and archiving twice gives the same bytes.
func TestWriteDirRoundTrip(t *testing.T) {
	root := os.Geteuid() == 0
	src, dst := t.TempDir(), t.TempDir()
	richTree(t, src, root)
	var one, two bytes.Buffer
	if err := WriteDir(context.Background(), src, &one); err != nil {
		t.Fatal(err)
	}
	if err := WriteDir(context.Background(), src, &two); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(one.Bytes(), two.Bytes()) {
		t.Error("WriteDir is not deterministic")
	}
	mustApply(t, dst, one.Bytes(), plain)
	diffTrees(t, tree(t, src), tree(t, dst))
}

// TestDiff writes the tar of a hand-made overlay upper dir and checks its
// entries, then applies it into a fresh upper dir: the same tree.
func TestDiff(t *testing.T) {
	testutil.RequireRoot(t)
	upper := t.TempDir()
	b := builder{t, upper}
	b.mkdir("etc", 0o755)
	b.xattr("etc", "trusted.overlay.impure", "y")
	b.file("etc/new", "new", 0o644)
	b.xattr("etc/new", "trusted.overlay.origin", "xyz")
	b.must(unix.Mknod(b.path("etc/removed"), unix.S_IFCHR, 0))
	b.mkdir("var/cache", 0o755)
	b.xattr("var/cache", opaqueXattr, "y")
	b.file("var/cache/fresh", "f", 0o600)
	b.mkdir("bin", 0o755)
	b.file("bin/a", "same inode", 0o755)
	b.must(os.Link(b.path("bin/a"), b.path("bin/b")))
	b.mkdir("dev", 0o755)
	b.must(unix.Mknod(b.path("dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	b.times(time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC))

	var buf bytes.Buffer
	if err := Diff(context.Background(), upper, &buf, DiffOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"bin/ 5", "bin/a 0", "bin/b 1 bin/a", "dev/ 5", "dev/null 3", "etc/ 5", "etc/new 0",
		"etc/.wh.removed 0", "var/ 5", "var/cache/ 5", "var/cache/.wh..wh..opq 0", "var/cache/fresh 0"}
	got := listTar(t, buf.Bytes())
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Diff entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	again := t.TempDir()
	mustApply(t, again, buf.Bytes(), ApplyOptions{})
	wantTree := tree(t, upper)
	for _, p := range []string{"etc", "etc/new"} { // overlay's own xattrs are not carried
		s := wantTree[p]
		s.Xattrs = ""
		wantTree[p] = s
	}
	diffTrees(t, wantTree, tree(t, again))
}

// listTar lists a tar's entries as "name type [linkname]", checking that no
// entry carries an overlay xattr.
func listTar(t *testing.T, data []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		for k := range hdr.PAXRecords {
			if strings.Contains(k, "overlay") {
				t.Errorf("%s carries %s", hdr.Name, k)
			}
		}
		line := hdr.Name + " " + string(rune('0'+hdr.Typeflag-'0'))
		if hdr.Linkname != "" {
			line += " " + hdr.Linkname
		}
		out = append(out, line)
	}
}

func TestDiffRefusesRedirect(t *testing.T) {
	testutil.RequireRoot(t)
	upper := t.TempDir()
	b := builder{t, upper}
	b.mkdir("moved", 0o755)
	b.xattr("moved", "trusted.overlay.redirect", "/old")
	err := Diff(context.Background(), upper, io.Discard, DiffOptions{})
	if !errors.Is(err, errdefs.ErrNotImplemented) {
		t.Fatalf("Diff: %v", err)
	}
}

func TestDiffSourceDateEpoch(t *testing.T) {
	upper := t.TempDir()
	b := builder{t, upper}
	b.file("old", "o", 0o644)
	b.file("new", "n", 0o644)
	old, epoch := time.Unix(1000, 0), time.Unix(2000, 0)
	b.must(os.Chtimes(b.path("old"), old, old))
	var buf bytes.Buffer
	if err := Diff(context.Background(), upper, &buf, DiffOptions{SourceDateEpoch: &epoch}); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]time.Time{"old": old, "new": epoch}[hdr.Name]
		if !hdr.ModTime.Equal(want) {
			t.Errorf("%s: mtime %v, want %v", hdr.Name, hdr.ModTime, want)
		}
	}
}
