package archive

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// WritePath writes what ArchivePath answers, and resolves inside the root:
// a symlink to a host directory leads to the root's own directory.
func TestWritePath(t *testing.T) {
	root := t.TempDir()
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "secret"), []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "d", "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "d", "sub", "f"), []byte("inside"), 0o640); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"abs": host, "rel": "../../../../../../.." + host} {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	var got bytes.Buffer
	if err := WritePath(ctx, &got, root, "/d/."); err != nil {
		t.Fatal(err)
	}
	rc, _, err := ArchivePath(ctx, root, "/d/.")
	if err != nil {
		t.Fatal(err)
	}
	want, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("WritePath differs from ArchivePath (%d and %d bytes, %v)", got.Len(), len(want), err)
	}
	for _, p := range []string{"/abs/.", "/rel/."} {
		var out bytes.Buffer
		err := WritePath(ctx, &out, root, p)
		if err == nil || bytes.Contains(out.Bytes(), []byte("secret")) {
			t.Errorf("%s: %v, wrote %d bytes naming the host's file", p, err, out.Len())
		}
	}
}
