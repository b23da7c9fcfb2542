package archive

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyOut copies src of the container root to the host path dst as the
// CLI does with what GET archive answers.
func copyOut(t *testing.T, root, src, dst string) error {
	t.Helper()
	rc, st, err := ArchivePath(context.Background(), root, src)
	if err != nil {
		return err
	}
	defer rc.Close()
	return CopyTo(context.Background(), rc, CopyInfo{Path: src, Exists: true, IsDir: st.Mode.IsDir()}, dst)
}

// copyIn copies the host path src into the container root at dst as the
// CLI does with HEAD and PUT archive.
func copyIn(t *testing.T, root, src, dst string) error {
	t.Helper()
	dstInfo := CopyInfo{Path: dst}
	if st, err := StatPath(root, dst); err == nil {
		dstInfo.Exists, dstInfo.IsDir = true, st.Mode.IsDir()
	}
	srcInfo, err := CopyInfoSourcePath(src, false)
	if err != nil {
		return err
	}
	tr, err := TarResource(context.Background(), srcInfo)
	if err != nil {
		return err
	}
	defer tr.Close()
	dir, rc, err := PrepareArchiveCopy(tr, srcInfo, dstInfo)
	if err != nil {
		return err
	}
	defer rc.Close()
	return Extract(context.Background(), root, dir, rc, ExtractOptions{NoLchown: true, NoOverwriteDirNonDir: true})
}

// TestCopyOut follows the cases of docker's `cp` reference, container to
// host.
func TestCopyOut(t *testing.T) {
	root := cpTree(t)
	tests := []struct {
		name, src, dst string // dst relative to a fresh host dir holding file "f" and dir "d"
		want           []string
		err            error
	}{
		{"file to new name", "/etc/passwd", "new", []string{"new"}, nil},
		{"file to new dir", "/etc/passwd", "new/", nil, ErrDirNotExists},
		{"file over file", "/etc/passwd", "f", []string{"f"}, nil},
		{"file into dir", "/etc/passwd", "d", []string{"d/passwd"}, nil},
		{"dir to new name", "/data", "new", []string{"new/a", "new/sub/b"}, nil},
		{"dir over file", "/data", "f", nil, ErrCannotCopyDir},
		{"dir into dir", "/data", "d", []string{"d/data/a", "d/data/sub/b"}, nil},
		{"dir content into dir", "/data/.", "d", []string{"d/a", "d/sub/b"}, nil},
		{"dir content to new name", "/data/.", "new", []string{"new/a", "new/sub/b"}, nil},
		{"symlink itself", "/lib", "d", []string{"d/lib"}, nil},
		{"symlinked dir", "/lib/", "new", []string{"new/libc.so"}, nil},
		{"root", "/", "new", []string{"new/etc/passwd", "new/usr/lib/libc.so"}, nil},
	}
	for _, tc := range tests {
		host := t.TempDir()
		mustMkdir(t, filepath.Join(host, "d"))
		mustWrite(t, filepath.Join(host, "f"), "old")
		err := copyOut(t, root, tc.src, host+"/"+tc.dst)
		if tc.err != nil || err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
			}
			continue
		}
		for _, w := range tc.want {
			if _, err := os.Lstat(filepath.Join(host, w)); err != nil {
				t.Errorf("%s: %s missing: %v", tc.name, w, err)
			}
		}
	}
}

// TestCopyIn follows the same cases, host to container.
func TestCopyIn(t *testing.T) {
	host := t.TempDir()
	mustMkdir(t, filepath.Join(host, "dir/sub"))
	mustWrite(t, filepath.Join(host, "file"), "F")
	mustWrite(t, filepath.Join(host, "dir/sub/x"), "X")
	tests := []struct {
		name, src, dst string
		want           []string
		err            error
	}{
		{"file to new name", "file", "/data/new", []string{"data/new"}, nil},
		{"file to new dir", "file", "/data/new/", nil, ErrDirNotExists},
		{"file over file", "file", "/data/a", []string{"data/a"}, nil},
		{"file into dir", "file", "/data", []string{"data/file"}, nil},
		{"file into symlinked dir", "file", "/lib/", []string{"usr/lib/file"}, nil},
		{"dir to new name", "dir", "/data/new", []string{"data/new/sub/x"}, nil},
		{"dir over file", "dir", "/data/a", nil, ErrCannotCopyDir},
		{"dir into dir", "dir", "/data", []string{"data/dir/sub/x"}, nil},
		{"dir content into dir", "dir/.", "/data", []string{"data/sub/x"}, nil},
	}
	for _, tc := range tests {
		root := cpTree(t)
		err := copyIn(t, root, filepath.Join(host, tc.src)+map[bool]string{true: "/."}[filepath.Base(tc.src) == "."], tc.dst)
		if tc.err != nil || err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
			}
			continue
		}
		for _, w := range tc.want {
			if _, err := os.Lstat(filepath.Join(root, w)); err != nil {
				t.Errorf("%s: %s missing: %v", tc.name, w, err)
			}
		}
	}
}

func TestRebaseArchiveEntries(t *testing.T) {
	data := mkTar(t, dirE("old/", 0o755), fileE("old/a", "a", 0o644), linkE("old/h", "old/a"),
		fileE("older", "x", 0o644))
	names, _ := tarNames(t, RebaseArchiveEntries(bytes.NewReader(data), "old", "new"))
	want := "new/ new/a new/h older"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("rebased: %s, want %s", got, want)
	}
	names, _ = tarNames(t, RebaseArchiveEntries(bytes.NewReader(mkTar(t, dirE("/", 0o755), fileE("/bin", "b", 0o755))), "/", "r"))
	if got := strings.Join(names, " "); got != "r/ r/bin" {
		t.Errorf("rebased root: %s", got)
	}
}
