package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/testutil"
	"golang.org/x/sys/unix"
)

// cpTree makes a small container root: dirs, files, symlinks of each kind.
func cpTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"etc/ssl", "usr/lib", "data/sub"} {
		mustMkdir(t, filepath.Join(root, d))
	}
	for p, body := range map[string]string{"etc/passwd": "root:x:0:0::/root:/bin/sh\n", "etc/ssl/cert": "C",
		"usr/lib/libc.so": "elf", "data/a": "a", "data/sub/b": "bb"} {
		mustWrite(t, filepath.Join(root, p), body)
	}
	for link, target := range map[string]string{"lib": "usr/lib", "abs": "/etc", "chain": "abs/ssl",
		"dangling": "/nope/x", "etc/up": "../usr/lib/libc.so", "loop": "loop"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func mustMkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, p, body string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestStatPath(t *testing.T) {
	root := cpTree(t)
	tests := []struct {
		path, name, target string
		mode               fs.FileMode // type bits only
	}{
		{"/etc/passwd", "passwd", "", 0},
		{"etc/passwd", "passwd", "", 0},
		{"/etc", "etc", "", fs.ModeDir},
		{"/etc/", "etc", "", fs.ModeDir},
		{"/etc/.", ".", "", fs.ModeDir},
		{"/", "/", "", fs.ModeDir},
		{"/lib", "lib", "/usr/lib", fs.ModeSymlink},
		{"/lib/", "lib", "", fs.ModeDir},
		{"/abs", "abs", "/etc", fs.ModeSymlink},
		{"/chain", "chain", "/etc/ssl", fs.ModeSymlink},
		{"/etc/up", "up", "/usr/lib/libc.so", fs.ModeSymlink},
		{"/dangling", "dangling", "/nope/x", fs.ModeSymlink},
		{"/lib/libc.so", "libc.so", "", 0},
		{"/abs/../usr/lib", "lib", "", fs.ModeDir},
	}
	for _, tc := range tests {
		st, err := StatPath(root, tc.path)
		if err != nil {
			t.Errorf("StatPath(%q): %v", tc.path, err)
			continue
		}
		if st.Name != tc.name || st.LinkTarget != tc.target || st.Mode.Type() != tc.mode {
			t.Errorf("StatPath(%q) = name %q target %q mode %v, want %q %q %v", tc.path, st.Name, st.LinkTarget,
				st.Mode, tc.name, tc.target, tc.mode)
		}
	}
	if st, _ := StatPath(root, "/etc/passwd"); st.Size != 26 || st.Mode.Perm() != 0o644 || st.ModTime.IsZero() {
		t.Errorf("stat of a file: %+v", st)
	}
	for _, p := range []string{"/nope", "/etc/nope", "/dangling/"} {
		if _, err := StatPath(root, p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("StatPath(%q) = %v, want not exist", p, err)
		}
	}
	if _, err := StatPath(root, "/etc/passwd/"); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("a file asserted a directory: %v", err)
	}
	if _, err := StatPath(root, "/loop"); err == nil || !errors.Is(err, unix.ELOOP) {
		t.Errorf("a symlink loop: %v", err)
	}
}

// tarNames reads a tar and returns its entry names, and the content of the
// regular files.
func tarNames(t *testing.T, r io.Reader) ([]string, map[string]string) {
	t.Helper()
	tr := tar.NewReader(r)
	var names []string
	bodies := map[string]string{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names, bodies
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		n := hdr.Name
		if hdr.Typeflag == tar.TypeSymlink {
			n += " -> " + hdr.Linkname
		}
		names = append(names, n)
		if hdr.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			bodies[hdr.Name] = string(b)
		}
	}
}

func archiveNames(t *testing.T, root, p string) ([]string, map[string]string, PathStat) {
	t.Helper()
	rc, st, err := ArchivePath(context.Background(), root, p)
	if err != nil {
		t.Fatalf("ArchivePath(%q): %v", p, err)
	}
	defer rc.Close()
	names, bodies := tarNames(t, rc)
	return names, bodies, st
}

func TestArchivePathNames(t *testing.T) {
	root := cpTree(t)
	tests := []struct {
		path string
		want string
	}{
		{"/etc", "etc/ etc/passwd etc/ssl/ etc/ssl/cert etc/up -> ../usr/lib/libc.so"},
		{"/etc/", "etc/ etc/passwd etc/ssl/ etc/ssl/cert etc/up -> ../usr/lib/libc.so"},
		{"/etc/.", "./ ./passwd ./ssl/ ./ssl/cert ./up -> ../usr/lib/libc.so"},
		{"/etc/passwd", "passwd"},
		{"/lib", "lib -> usr/lib"},
		{"/lib/", "lib/ lib/libc.so"},
		{"/chain/.", "./ ./cert"},
		{"/data/sub", "sub/ sub/b"},
	}
	for _, tc := range tests {
		names, _, _ := archiveNames(t, root, tc.path)
		if got := strings.Join(names, " "); got != tc.want {
			t.Errorf("ArchivePath(%q):\n got %s\nwant %s", tc.path, got, tc.want)
		}
	}
	names, bodies, st := archiveNames(t, root, "/")
	if names[0] != "/" || names[1] != "abs -> /etc" || bodies["data/sub/b"] != "bb" || st.Name != "/" {
		t.Errorf("ArchivePath(/) = %v (%q)", names, st.Name)
	}
	if _, _, err := ArchivePath(context.Background(), root, "/nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ArchivePath of a missing path: %v", err)
	}
}

// TestArchivePathStopsOnClose closes the tar before it is read: the writer
// must end (the root's descriptors closed) rather than block.
func TestArchivePathStopsOnClose(t *testing.T) {
	root := cpTree(t)
	mustWrite(t, filepath.Join(root, "big"), strings.Repeat("x", 1<<20))
	rc, _, err := ArchivePath(context.Background(), root, "/")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	if _, err := io.ReadFull(rc, buf); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if _, err := rc.Read(buf); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("read after close: %v", err)
	}
}

func TestExtract(t *testing.T) {
	testutil.RequireRoot(t)
	root := cpTree(t)
	data := mkTar(t, dirE("new", 0o750), fileE("new/f", "f", 0o600), symlinkE("new/l", "/etc"),
		linkE("new/h", "new/f"), fileE(".wh.x", "not a whiteout", 0o644))
	data = setOwner(t, data, 1000, 1001)
	if err := Extract(context.Background(), root, "/lib/", bytes.NewReader(data), ExtractOptions{}); err != nil {
		t.Fatalf("Extract: %v", err)
	}
	got := tree(t, filepath.Join(root, "usr/lib"))
	if s := got["new/f"]; s.Uid != 1000 || s.Gid != 1001 || s.Mode.Perm() != 0o600 || s.Size != 1 {
		t.Errorf("new/f = %v", s)
	}
	if got["new/h"].Link != "=>new/f" || got["new/l"].Link != "/etc" || got[".wh.x"].Size != 14 {
		t.Errorf("extracted tree: %v", got)
	}
	// With Chown every entry takes the container user.
	data = mkTar(t, fileE("owned", "o", 0o644))
	err := Extract(context.Background(), root, "/data", bytes.NewReader(data), ExtractOptions{Chown: &Owner{UID: 7, GID: 8}})
	if s, _ := stateOf(filepath.Join(root, "data/owned")); err != nil || s.Uid != 7 || s.Gid != 8 {
		t.Errorf("Extract with Chown: %v, %v", err, s)
	}
}

// setOwner rewrites the owners of every entry of a tar.
func setOwner(t *testing.T, data []byte, uid, gid int) []byte {
	t.Helper()
	var out bytes.Buffer
	tr, tw := tar.NewReader(bytes.NewReader(data)), tar.NewWriter(&out)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		hdr.Uid, hdr.Gid = uid, gid
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	return out.Bytes()
}

func TestExtractRefusals(t *testing.T) {
	root := cpTree(t)
	ctx := context.Background()
	opts := ExtractOptions{NoLchown: true, NoOverwriteDirNonDir: true}
	tests := []struct {
		name, dir string
		data      []byte
		want      string
	}{
		{"dir over file", "/", mkTar(t, dirE("etc/passwd", 0o755)), "cannot overwrite non-directory \"/etc/passwd\" with directory \"/\""},
		{"file over dir", "/etc", mkTar(t, fileE("ssl", "x", 0o644)), "cannot overwrite directory \"/etc/ssl\" with non-directory \"/etc\""},
		{"into a file", "/etc/passwd", mkTar(t, fileE("x", "x", 0o644)), "extraction point is not a directory"},
		{"missing dir", "/nope", mkTar(t, fileE("x", "x", 0o644)), "no such file or directory"},
		{"climbing name", "/data", mkTar(t, fileE("../x", "x", 0o644)), "\"../x\" is outside of \"/data\""},
		{"climbing hardlink", "/data", mkTar(t, linkE("h", "../etc/passwd")), "invalid hardlink"},
	}
	for _, tc := range tests {
		err := Extract(ctx, root, tc.dir, bytes.NewReader(tc.data), opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	err := Extract(ctx, root, "/etc/passwd", bytes.NewReader(mkTar(t)), opts)
	if !errdefs.IsInvalidArgument(err) {
		t.Errorf("extraction into a file: %v, want invalid argument", err)
	}
	if _, err := os.Stat(filepath.Join(root, "x")); err == nil {
		t.Error("a refused entry was written")
	}
}
