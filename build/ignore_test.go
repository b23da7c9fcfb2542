package build

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type tarEntry struct{ name, data string }

func tarOf(t *testing.T, entries ...tarEntry) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}
		if strings.HasSuffix(e.name, "/") {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.data))
	}
	tw.Close()
	return &b
}

// TestContextIgnoredByDaemon: the daemon applies .dockerignore to a context
// the client did not filter, wherever .dockerignore is in the tar.
func TestContextIgnoredByDaemon(t *testing.T) {
	dir := t.TempDir()
	r := tarOf(t, tarEntry{"early.log", "x"}, tarEntry{"dir/", ""}, tarEntry{"dir/early.log", "x"},
		tarEntry{".dockerignore", "**/*.log\nsecret/\n!secret/ok\nother.Dockerfile\n"},
		tarEntry{"late.log", "x"}, tarEntry{"secret/key", "k"}, tarEntry{"secret/ok", "ok"},
		tarEntry{"keep.txt", "k"}, tarEntry{"other.Dockerfile", "FROM scratch\n"})
	if _, err := readContext(context.Background(), r, dir, "other.Dockerfile"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"early.log": false, "dir/early.log": false, "late.log": false,
		"secret/key": false, "secret/ok": true, "keep.txt": true, ".dockerignore": true, "other.Dockerfile": true} {
		_, err := os.Lstat(filepath.Join(dir, name))
		if got := err == nil; got != want {
			t.Errorf("%s unpacked: %v, want %v", name, got, want)
		}
	}
}

func TestContextBadDockerignore(t *testing.T) {
	r := tarOf(t, tarEntry{".dockerignore", "[\n"}, tarEntry{"Dockerfile", "FROM scratch\n"})
	_, err := readContext(context.Background(), r, t.TempDir(), "")
	if err == nil || !strings.Contains(err.Error(), ".dockerignore") {
		t.Errorf("bad .dockerignore: %v", err)
	}
}
