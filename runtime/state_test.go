package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestValidIDMatchesRegexp: the hand-written check accepts exactly what the
// regexp it replaced accepted, path separators and traversal included.
func TestValidIDMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[\w+\-.]+$`)
	ids := []string{"abc", "A-Z_0.9+x", "..", ".", "a/b", "../etc", "/abs", "a\\b",
		"a b", "a\x00b", "a\n", "\nab", "é", "ab\xff", "a:b", "a$", "-", "+", "_", "",
		"x\u2028", "ID*", "tab\t", strings.Repeat("z", 300)}
	for c := 0; c < 256; c++ {
		ids = append(ids, "a"+string(rune(c)), string([]byte{byte(c)}))
	}
	for _, id := range ids {
		if got, want := validID(id), re.MatchString(id); got != want {
			t.Errorf("validID(%q) = %v, regexp says %v", id, got, want)
		}
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("0123456789abcdef", 1000) // more than one read
	for _, data := range []string{"", "THAWED\n", big} {
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := readFile(p); err != nil || string(got) != data {
			t.Errorf("readFile of %d bytes: got %d bytes, %v", len(data), len(got), err)
		}
	}
	missing := filepath.Join(dir, "missing")
	_, err := readFile(missing)
	_, osErr := os.ReadFile(missing)
	if !errors.Is(err, os.ErrNotExist) || err.Error() != osErr.Error() {
		t.Errorf("readFile(missing) = %v, want %v", err, osErr)
	}
}

// TestLoadHead: the head has all that load has but the spec.
func TestLoadHead(t *testing.T) {
	r, _ := fakeContainer(t, nil, map[string]map[string]string{"freezer": {"freezer.state": "THAWED\n"}})
	rec, err := r.load("c1")
	if err != nil {
		t.Fatal(err)
	}
	rec.Bundle, rec.Rootfs, rec.NoPivot = "/b", "/b/rootfs", true
	rec.Created = time.Now().UTC()
	rec.Annotations = map[string]string{"a": "1"}
	if err := r.save(rec); err != nil {
		t.Fatal(err)
	}
	full, err := r.load("c1")
	if err != nil {
		t.Fatal(err)
	}
	head, err := r.loadHead("c1")
	if err != nil {
		t.Fatal(err)
	}
	if full.Spec == nil || head.Spec != nil {
		t.Fatalf("spec: load has %v, loadHead %v", full.Spec, head.Spec)
	}
	full.Spec = nil
	if !reflect.DeepEqual(head, full) {
		t.Errorf("loadHead = %+v, load = %+v", head, full)
	}
	for _, id := range []string{"nope", "../c1"} {
		_, errHead := r.loadHead(id)
		_, errFull := r.load(id)
		if errHead == nil || errFull == nil || errHead.Error() != errFull.Error() {
			t.Errorf("loadHead(%q) = %v, load = %v", id, errHead, errFull)
		}
	}
}

// TestLoadHooks: start and delete get the whole record and the spec's hooks,
// with or without hooks in it.
func TestLoadHooks(t *testing.T) {
	r, _ := fakeContainer(t, nil, nil)
	full, err := r.load("c1")
	if err != nil {
		t.Fatal(err)
	}
	for _, hooks := range []*specs.Hooks{nil, {
		Poststart: []specs.Hook{{Path: "/bin/a", Args: []string{"a", "1"}}},
		Poststop:  []specs.Hook{{Path: "/bin/b", Env: []string{"X=1"}}},
	}} {
		full.Spec.Hooks = hooks
		if err := r.save(full); err != nil {
			t.Fatal(err)
		}
		rec, err := r.loadHooks("c1")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rec.Spec, &specs.Spec{Hooks: hooks}) {
			t.Errorf("loadHooks: spec %+v, want only hooks %+v", rec.Spec, hooks)
		}
		want := *full
		want.Spec = rec.Spec
		if !reflect.DeepEqual(rec, &want) {
			t.Errorf("loadHooks = %+v, load = %+v", rec, full)
		}
	}
	if _, err := r.loadHooks("nope"); !errors.Is(err, ErrNotExist) {
		t.Errorf("loadHooks(nope) = %v", err)
	}
}

// TestPauseResumeStates drives Pause and Resume on a freezer.state that is
// a regular file (it reads back what was written, as a freezer does).
func TestPauseResumeStates(t *testing.T) {
	r, cg := fakeContainer(t, nil, map[string]map[string]string{"freezer": {"freezer.state": "THAWED\n"}})
	state := func() string { return strings.TrimSpace(readCg(t, cg, "freezer/freezer.state")) }
	if err := r.Resume("c1"); !errors.Is(err, ErrBadState) {
		t.Fatalf("resume of a running container: %v", err)
	}
	if err := r.Pause("c1"); err != nil || state() != "FROZEN" {
		t.Fatalf("pause: %v, freezer.state %q", err, state())
	}
	if st, err := r.State("c1"); err != nil || st.Status != statusPaused {
		t.Fatalf("state after pause: %+v, %v", st, err)
	}
	if err := r.Pause("c1"); !errors.Is(err, ErrBadState) || !strings.Contains(err.Error(), "it is paused") {
		t.Fatalf("pause of a paused container: %v", err)
	}
	if err := r.Resume("c1"); err != nil || state() != "THAWED" {
		t.Fatalf("resume: %v, freezer.state %q", err, state())
	}
	if err := r.Pause("missing"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("pause of a missing container: %v", err)
	}
}
