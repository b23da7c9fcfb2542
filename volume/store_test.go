package volume

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/corral-dev/corral/errdefs"
)

func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "volumes"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCreateGetListReopen(t *testing.T) {
	s := openStore(t)
	v, created, err := s.Create("data", CreateOptions{Labels: map[string]string{"a": "b"}})
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	if st, err := os.Stat(s.Path("data")); err != nil || !st.IsDir() || st.Mode().Perm() != 0o755 {
		t.Fatalf("data dir: %v %v", st, err)
	}
	if err := os.WriteFile(filepath.Join(s.Path("data"), "f"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Creating it again returns the same volume, content untouched.
	again, created, err := s.Create("data", CreateOptions{})
	if err != nil || created || again.CreatedAt != v.CreatedAt {
		t.Fatalf("create again: %v %v %v", again, created, err)
	}
	anon, _, err := s.Create("", CreateOptions{Labels: map[string]string{LabelAnonymous: ""}})
	if err != nil || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(anon.Name) || !anon.Anonymous() {
		t.Fatalf("generated name: %v %v", anon, err)
	}
	s2, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Get("data")
	if err != nil || got.Labels["a"] != "b" || got.Driver != DriverLocal || !got.CreatedAt.Equal(v.CreatedAt) {
		t.Fatalf("reopened: %+v %v", got, err)
	}
	if b, err := os.ReadFile(filepath.Join(s2.Path("data"), "f")); err != nil || string(b) != "kept" {
		t.Fatalf("content after reopen: %q %v", b, err)
	}
	if n := len(s2.List()); n != 2 {
		t.Fatalf("list: %d volumes", n)
	}
}

func TestBadNamesAndOptions(t *testing.T) {
	s := openStore(t)
	for _, tc := range []struct {
		name string
		opts CreateOptions
		want string
	}{
		{"a", CreateOptions{}, "volume name is too short"},
		{"../../etc", CreateOptions{}, `includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed`},
		{"a/b", CreateOptions{}, "includes invalid characters"},
		{".hidden", CreateOptions{}, "includes invalid characters"},
		{"ok1", CreateOptions{Driver: "nfs"}, `plugin "nfs" not found`},
		{"ok2", CreateOptions{Options: map[string]string{"foo": "1"}}, `invalid option: "foo"`},
		{"ok3", CreateOptions{Options: map[string]string{"type": "tmpfs"}}, `missing required option: "device"`},
		{"ok4", CreateOptions{Options: map[string]string{"o": "size=1m"}}, `missing required option`},
		{"ok5", CreateOptions{Options: map[string]string{"size": "1g"}}, "no quota support"},
		{"ok6", CreateOptions{Options: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "remount"}}, "remount is not allowed"},
	} {
		_, _, err := s.Create(tc.name, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("create %q %+v: %v, want %q", tc.name, tc.opts, err, tc.want)
		}
	}
	ents, _ := os.ReadDir(s.Dir())
	if len(ents) != 0 || len(s.List()) != 0 {
		t.Fatalf("failed creates left %v", ents)
	}
}

func TestRemoveRefused(t *testing.T) {
	s := openStore(t)
	if _, _, err := s.Create("used", CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Ref("used", "c1"); err != nil {
		t.Fatal(err)
	}
	err := s.Remove("used", true)
	if !errdefs.IsConflict(err) || err.Error() != "remove used: volume is in use - [c1]" {
		t.Fatalf("remove in use: %v", err)
	}
	if _, err := s.Get("used"); err != nil {
		t.Fatal("refused removal removed it")
	}
	s.Unref("used", "c1")
	if err := s.Remove("used", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "used")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("directory left: %v", err)
	}
	if err := s.Remove("used", false); !errdefs.IsNotFound(err) || err.Error() != "get used: no such volume" {
		t.Fatalf("remove missing: %v", err)
	}
	if err := s.Remove("used", true); err != nil {
		t.Fatalf("remove -f missing: %v", err)
	}
	if err := s.Ref("nosuch", "c1"); !errdefs.IsNotFound(err) {
		t.Fatalf("ref of a missing volume: %v", err)
	}
}

// A crash leaves half-made and half-removed directories; Open sweeps them
// and keeps whole volumes.
func TestOpenAfterCrash(t *testing.T) {
	s := openStore(t)
	if _, _, err := s.Create("whole", CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(s.Dir(), "damaged", "_data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir(), "damaged", "volume.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{".tmp-123/_data", ".trash-abc/_data/x"} {
		if err := os.MkdirAll(filepath.Join(s.Dir(), d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s2, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(s.Dir())
	if len(ents) != 2 || len(s2.List()) != 1 || s2.List()[0].Name != "whole" {
		t.Fatalf("after reopen: %v", ents)
	}
	if sk := s2.Skipped(); len(sk) != 1 || sk[0] != "damaged" {
		t.Fatalf("skipped %v", sk)
	}
}

// Options volumes are mounted by their first user and unmounted by the
// last (the mount calls are recorded, not made).
func TestMountRefcount(t *testing.T) {
	s := openStore(t)
	var calls []string
	mounted := false
	s.mount = func(src, target, fstype string, flags uintptr, data string) error {
		calls = append(calls, "mount "+src+" "+fstype+" "+data)
		mounted = true
		return nil
	}
	s.unmount = func(string) error { calls = append(calls, "unmount"); mounted = false; return nil }
	if _, _, err := s.Create("tv", CreateOptions{Options: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m,uid=5"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Create("plain", CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		p, err := s.Mount("tv", id)
		if err != nil || p != s.Path("tv") {
			t.Fatalf("mount: %q %v", p, err)
		}
	}
	if _, err := s.Mount("plain", "a"); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0] != "mount tmpfs tmpfs size=1m,uid=5" || !mounted {
		t.Fatalf("calls after two users: %v", calls)
	}
	if was, _ := s.Unmount("tv", "a"); !was {
		t.Fatal("a was not using tv")
	}
	if was, _ := s.Unmount("tv", "a"); was {
		t.Fatal("a still using tv after its unmount")
	}
	if len(calls) != 1 {
		t.Fatalf("unmounted while b uses it: %v", calls)
	}
	// isMountPoint reads the real mount table: the fake mount is not in it,
	// so the last Unmount finds nothing to unmount; the refcount is what
	// is tested here.
	_, _ = s.Unmount("tv", "b")
	if _, ok := s.active["tv"]; ok {
		t.Fatal("still active after its last user")
	}
}

func TestMountOptions(t *testing.T) {
	flags, data, err := mountOptions("bind,ro,size=5,nosuid")
	if err != nil || data != "size=5" || flags == 0 {
		t.Fatalf("%x %q %v", flags, data, err)
	}
}

func TestAcquire(t *testing.T) {
	s := openStore(t)
	v, created, err := s.Acquire("acq", CreateOptions{}, "c1")
	if err != nil || !created || v.Name != "acq" {
		t.Fatalf("acquire: %v %v", created, err)
	}
	if _, created, err := s.Acquire("acq", CreateOptions{}, "c2"); err != nil || created {
		t.Fatalf("acquire again: %v %v", created, err)
	}
	if users := s.Users("acq"); len(users) != 2 {
		t.Fatalf("users %v", users)
	}
	if _, _, err := s.Acquire("b/ad", CreateOptions{}, "c3"); err == nil || len(s.refs["b/ad"]) != 0 {
		t.Fatalf("bad name acquired: %v", err)
	}
}
