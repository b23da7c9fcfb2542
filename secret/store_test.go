package secret

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corral-dev/corral/errdefs"
)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestStoreCreateGetValue(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	s := open(t, dir)
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("store dir mode %o, want 700", m)
	}
	sec, err := s.Create("db-pass", map[string]string{"a": "b"}, []byte("hunter2"))
	if err != nil {
		t.Fatal(err)
	}
	if !validID(sec.ID) || sec.Name != "db-pass" || sec.Labels["a"] != "b" || sec.CreatedAt.IsZero() || !sec.UpdatedAt.Equal(sec.CreatedAt) {
		t.Errorf("created %+v", sec)
	}
	for _, p := range []string{s.Path(sec.ID), filepath.Join(dir, sec.ID+".json")} {
		if m := mode(t, p); m != 0o600 {
			t.Errorf("%s mode %o, want 600", p, m)
		}
	}
	meta, _ := os.ReadFile(filepath.Join(dir, sec.ID+".json"))
	if bytes.Contains(meta, []byte("hunter2")) {
		t.Errorf("metadata holds the value: %s", meta)
	}
	for _, ref := range []string{sec.ID, "db-pass", sec.ID[:10]} {
		got, v, err := s.Value(ref)
		if err != nil || got.ID != sec.ID || string(v) != "hunter2" {
			t.Errorf("Value(%q) = %+v %q %v", ref, got, v, err)
		}
	}
	if _, err := s.Get("nope"); !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "secret nope not found") {
		t.Errorf("Get(nope): %v", err)
	}
	if _, err := s.Create("db-pass", nil, []byte("x")); !errdefs.IsAlreadyExists(err) {
		t.Errorf("duplicate name: %v", err)
	}
	// Reopened, the store has the same secret.
	s2 := open(t, dir)
	if got, err := s2.Get("db-pass"); err != nil || got.ID != sec.ID || got.Labels["a"] != "b" || !got.CreatedAt.Equal(sec.CreatedAt) {
		t.Errorf("after reopen: %+v %v", got, err)
	}
}

func TestStoreBadInput(t *testing.T) {
	s := open(t, t.TempDir())
	for _, name := range []string{"", "-a", "a-", "a/b", "../x", "a b", strings.Repeat("a", 65), "é"} {
		if _, err := s.Create(name, nil, []byte("v")); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "invalid secret name") {
			t.Errorf("name %q: %v", name, err)
		}
	}
	for _, n := range []int{0, MaxSize + 1} {
		if _, err := s.Create("ok", nil, make([]byte, n)); !errdefs.IsInvalidArgument(err) {
			t.Errorf("value of %d bytes: %v", n, err)
		}
	}
	if _, err := s.Create("a.b_c-1", nil, make([]byte, MaxSize)); err != nil {
		t.Errorf("largest value: %v", err)
	}
	if len(s.List()) != 1 {
		t.Errorf("list after bad creates: %+v", s.List())
	}
}

func TestStoreRemove(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	sec, err := s.Create("x", nil, []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	inUse := errdefs.Conflict(errors.New("in use"))
	if err := s.Remove("x", func(Secret) error { return inUse }); !errors.Is(err, inUse) {
		t.Fatalf("refused remove: %v", err)
	}
	if _, err := s.Get(sec.ID); err != nil {
		t.Fatalf("refused remove removed: %v", err)
	}
	if err := s.Remove(sec.ID[:12], nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("x"); !errdefs.IsNotFound(err) {
		t.Errorf("after remove: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left: %v", ents)
	}
	if err := s.Remove("x", nil); !errdefs.IsNotFound(err) {
		t.Errorf("remove twice: %v", err)
	}
}

// TestStoreCrash checks what Open makes of the files a kill -9 can leave:
// a temporary file, a value without metadata (create before its rename,
// or remove after its first step): swept, the complete secrets kept.
func TestStoreCrash(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	keep, err := s.Create("keep", nil, []byte("kept"))
	if err != nil {
		t.Fatal(err)
	}
	half, err := s.Create("half", nil, []byte("half"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, half.ID+".json")); err != nil {
		t.Fatal(err)
	}
	orphanMeta := strings.Repeat("ab", 32)
	for name, data := range map[string]string{".tmp-123": "partial", orphanMeta + ".json": "{}"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s2 := open(t, dir)
	if list := s2.List(); len(list) != 1 || list[0].ID != keep.ID {
		t.Errorf("after crash: %+v", list)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 2 {
		t.Errorf("files after sweep: %v", names)
	}
	if _, err := s2.Create("half", nil, []byte("again")); err != nil {
		t.Errorf("name of a half-removed secret: %v", err)
	}
}

func TestStoreCorruptMetadata(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	sec, err := s.Create("x", nil, []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, sec.ID+".json"), []byte(`{"ID":"other","Name":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), sec.ID) {
		t.Errorf("open with bad metadata: %v", err)
	}
}
