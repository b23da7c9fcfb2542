package content_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/corral-dev/corral/content"
	"github.com/corral-dev/corral/content/contenttest"
	"github.com/corral-dev/corral/testutil"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperProcess())
	}
	os.Exit(testutil.Sandbox(m))
}

func TestLocalConformance(t *testing.T) {
	contenttest.Run(t, func(t *testing.T) content.Store { return newLocal(t, t.TempDir()) })
}

func newLocal(t *testing.T, root string) *content.Local {
	t.Helper()
	l, err := content.NewLocal(root)
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	return l
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// ingestFiles lists the ingest directory.
func ingestFiles(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "ingest"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestLocalLayout checks where blobs land, their mode, and that neither
// Commit nor Close leaves an ingest file.
func TestLocalLayout(t *testing.T) {
	root := filepath.Join(t.TempDir(), "content")
	l := newLocal(t, root)
	ctx := context.Background()
	data := randomBytes(t, 100)
	dgst := digest.FromBytes(data)
	w, err := l.Writer(ctx, content.WriterOpts{Ref: "layout"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(ingestFiles(t, root)); n != 1 {
		t.Fatalf("%d ingest files while writing, want 1", n)
	}
	w.Write(data)
	if err := w.Commit(ctx, 100, dgst); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(root, "blobs", "sha256", dgst.Encoded()))
	if err != nil {
		t.Fatalf("blob not at blobs/sha256/<hex>: %v", err)
	}
	if st.Mode().Perm() != 0o444 {
		t.Errorf("blob mode %v, want 0444", st.Mode().Perm())
	}
	w, _ = l.Writer(ctx, content.WriterOpts{})
	w.Write(data)
	w.Close()
	if names := ingestFiles(t, root); len(names) != 0 {
		t.Fatalf("ingest files left: %v", names)
	}
}

// TestLocalSHA512 stores a blob under another algorithm a descriptor may name.
func TestLocalSHA512(t *testing.T) {
	l := newLocal(t, t.TempDir())
	ctx := context.Background()
	data := randomBytes(t, 300)
	dgst := digest.SHA512.FromBytes(data)
	w, err := l.Writer(ctx, content.WriterOpts{Expected: dgst})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Commit(ctx, 300, dgst); err != nil {
		t.Fatal(err)
	}
	found := false
	l.Walk(ctx, func(i content.Info) error {
		found = found || i.Digest == dgst
		return nil
	})
	if !found {
		t.Fatal("Walk did not report the sha512 blob")
	}
}

// TestLocalSweep: NewLocal removes an ingest file nobody holds (a crashed
// writer's) but not the one of a live writer, which still commits.
func TestLocalSweep(t *testing.T) {
	root := t.TempDir()
	l := newLocal(t, root)
	ctx := context.Background()
	data := randomBytes(t, 1000)
	w, err := l.Writer(ctx, content.WriterOpts{})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[:500])
	stale := filepath.Join(root, "ingest", "0123456789abcdef")
	if err := os.WriteFile(stale, data, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(root, "ingest", "stray-dir"), 0o755)
	newLocal(t, root) // a second store on the same root sweeps
	if names := ingestFiles(t, root); len(names) != 1 {
		t.Fatalf("after the sweep: ingest holds %v, want only the live writer's file", names)
	}
	w.Write(data[500:])
	if err := w.Commit(ctx, 1000, digest.FromBytes(data)); err != nil {
		t.Fatalf("live writer's Commit after a sweep: %v", err)
	}
	got, _ := os.ReadFile(filepath.Join(root, "blobs", "sha256", digest.FromBytes(data).Encoded()))
	if !bytes.Equal(got, data) {
		t.Fatal("published blob differs")
	}
}
