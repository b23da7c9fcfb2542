package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/errdefs"
)

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newRecord is a created container record named name (generated when "").
func newRecord(id, name string, created time.Time) *Container {
	return &Container{
		ID: id, Name: name, Created: created, Path: "sh", Image: "busybox",
		ImageID:    "sha256:" + strings.Repeat("0f", 32),
		Config:     &container.Config{Image: "busybox", Labels: map[string]string{}},
		HostConfig: &container.HostConfig{},
	}
}

func mustCreate(t *testing.T, s *Store, id, name string) *Container {
	t.Helper()
	c := newRecord(id, name, time.Now().UTC())
	if err := s.Create(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

// idWith returns a valid ID starting with prefix.
func idWith(prefix string) string {
	return prefix + NewID()[len(prefix):]
}

func TestStoreLookups(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	a := mustCreate(t, s, idWith("abc1"), "web")
	b := mustCreate(t, s, idWith("abc2"), "/db")
	named := mustCreate(t, s, idWith("f00"), "abc1") // a name that is also a prefix of a's ID
	tests := []struct {
		ref  string
		want *Container
		err  string
	}{
		{a.ID, a, ""},
		{"web", a, ""},
		{"/web", a, ""},
		{"db", b, ""},
		{"abc2", b, ""},
		{b.ID[:12], b, ""},
		{"abc1", named, ""}, // names come before prefixes, as in dockerd
		{"f00", named, ""},
		{"abc", nil, "multiple IDs found with provided prefix: abc"},
		{"nope", nil, "No such container: nope"},
		{"/nope", nil, "No such container: /nope"},
		{a.ID + "0", nil, "No such container: " + a.ID + "0"},
		{"", nil, `invalid name or ID supplied: ""`},
	}
	for _, tt := range tests {
		got, err := s.Get(tt.ref)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("Get(%q) = %v, want error %q", tt.ref, err, tt.err)
			}
			continue
		}
		if err != nil || got.ID != tt.want.ID {
			t.Errorf("Get(%q) = %v, %v; want %s", tt.ref, got, err, tt.want.ID)
		}
	}
	for ref, isClass := range map[string]func(error) bool{
		"abc": errdefs.IsInvalidArgument, "": errdefs.IsInvalidArgument, "nope": errdefs.IsNotFound,
	} {
		if _, err := s.Get(ref); !isClass(err) {
			t.Errorf("Get(%q): wrong class for %v", ref, err)
		}
	}
}

func TestStoreCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	c := mustCreate(t, s, NewID(), "")
	if _, err := ValidateName(c.Name); err != nil || !strings.Contains(c.Name, "_") {
		t.Errorf("generated name %q: %v", c.Name, err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(c.ID), recordFile)); err != nil {
		t.Errorf("no record on disk: %v", err)
	}
	bad := newRecord("../../etc", "evil", time.Now())
	if err := s.Create(ctx, bad); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Create with ID %q: %v, want InvalidArgument", bad.ID, err)
	}
	if err := s.Create(ctx, newRecord(NewID(), "k", time.Now())); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Create named k: %v, want InvalidArgument", err)
	}
	dup := newRecord(c.ID, "other", time.Now())
	if err := s.Create(ctx, dup); !errdefs.IsAlreadyExists(err) {
		t.Errorf("Create with a used ID: %v, want AlreadyExists", err)
	}
	// The failed create released its name.
	mustCreate(t, s, NewID(), "other")
	// Generated names stay unique.
	seen := map[string]bool{}
	for range 300 {
		n := mustCreate(t, s, NewID(), "").Name
		if seen[n] {
			t.Fatalf("generated name %s twice", n)
		}
		seen[n] = true
	}
}

// TestNameRace creates containers with one name from many goroutines:
// exactly one wins, every other gets dockerd's Conflict naming the winner.
func TestNameRace(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	for round := range 5 {
		name := fmt.Sprintf("race%d", round)
		const n = 32
		errs := make([]error, n)
		ids := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			ids[i] = NewID()
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.Create(context.Background(), newRecord(ids[i], name, time.Now()))
				_, _ = s.Get(name) // readers race the writers
				_, _ = s.List(ListOptions{All: true})
			}()
		}
		wg.Wait()
		winner := ""
		for i, err := range errs {
			if err == nil {
				if winner != "" {
					t.Fatalf("round %d: two creates named %s succeeded", round, name)
				}
				winner = ids[i]
			}
		}
		if winner == "" {
			t.Fatalf("round %d: no create succeeded: %v", round, errs[0])
		}
		want := fmt.Sprintf(`Conflict. The container name "/%s" is already in use by container %q. You have to remove (or rename) that container to be able to reuse that name.`, name, winner)
		for _, err := range errs {
			if err != nil && (!errdefs.IsConflict(err) || err.Error() != want) {
				t.Fatalf("round %d: loser got %v, want %q", round, err, want)
			}
		}
		if c, err := s.Get(name); err != nil || c.ID != winner {
			t.Fatalf("round %d: Get(%s) = %v, %v", round, name, c, err)
		}
	}
}

func TestReserveName(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	a, b := NewID(), NewID()
	name, err := s.ReserveName("job", a)
	if err != nil || name != "/job" {
		t.Fatalf("ReserveName = %q, %v", name, err)
	}
	if _, err := s.ReserveName("/job", a); err != nil {
		t.Errorf("reserving again for the same ID: %v", err)
	}
	if _, err := s.ReserveName("job", b); !errdefs.IsConflict(err) {
		t.Errorf("reserving for another ID: %v, want Conflict", err)
	}
	if _, err := s.Get("job"); !errdefs.IsNotFound(err) {
		t.Errorf("a reserved name finds a container: %v", err)
	}
	s.ReleaseName("job", b) // not b's: no effect
	if _, err := s.ReserveName("job", b); !errdefs.IsConflict(err) {
		t.Errorf("released by the wrong ID: %v", err)
	}
	// Create with a name its ID reserved first.
	mustCreate(t, s, a, "job")
	s.ReleaseName("job", a) // in use by a's record: kept
	if _, err := s.ReserveName("job", b); !errdefs.IsConflict(err) {
		t.Errorf("the name of a stored container was released: %v", err)
	}
}

func TestRename(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	a := mustCreate(t, s, NewID(), "alpha")
	mustCreate(t, s, NewID(), "beta")
	tests := []struct {
		ref, name string
		err       string
		class     error
	}{
		{"", "x1", "Neither old nor new names may be empty", errdefs.ErrInvalidArgument},
		{"alpha", "", "Neither old nor new names may be empty", errdefs.ErrInvalidArgument},
		{"alpha", "alpha", "Renaming a container with the same name as its current name", errdefs.ErrInvalidArgument},
		{"alpha", "/alpha", "Renaming a container with the same name as its current name", errdefs.ErrInvalidArgument},
		{"alpha", "b", "Invalid container name (b), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", errdefs.ErrInvalidArgument},
		{"nope", "x1", "No such container: nope", errdefs.ErrNotFound},
		{"alpha", "beta", "", errdefs.ErrConflict},
	}
	for _, tt := range tests {
		_, err := s.Rename(ctx, tt.ref, tt.name)
		if !errors.Is(err, tt.class) || (tt.err != "" && err.Error() != tt.err) {
			t.Errorf("Rename(%q, %q) = %v, want %v %q", tt.ref, tt.name, err, tt.class, tt.err)
		}
	}
	c, err := s.Rename(ctx, "alpha", "gamma")
	if err != nil || c.Name != "/gamma" || c.ID != a.ID {
		t.Fatalf("Rename = %+v, %v", c, err)
	}
	if _, err := s.Get("alpha"); !errdefs.IsNotFound(err) {
		t.Errorf("old name still finds it: %v", err)
	}
	mustCreate(t, s, NewID(), "alpha") // the old name is free
	if a.Name != "/alpha" {
		t.Error("Rename changed the record callers held")
	}
	s.Close()
	s2 := openStore(t, dir)
	if c, err := s2.Get("gamma"); err != nil || c.ID != a.ID {
		t.Errorf("after reopen, Get(gamma) = %v, %v", c, err)
	}
}

// TestRenameRace renames two containers to one name at once, many times.
func TestRenameRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	a := mustCreate(t, s, NewID(), "one")
	b := mustCreate(t, s, NewID(), "two")
	for i := range 50 {
		target := fmt.Sprintf("target%d", i)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, id := range []string{a.ID, b.ID} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[j] = s.Rename(ctx, id, target)
			}()
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("round %d: want exactly one success: %v, %v", i, errs[0], errs[1])
		}
		ca, _ := s.Get(a.ID)
		cb, _ := s.Get(b.ID)
		if ca.Name == cb.Name {
			t.Fatalf("round %d: both named %s", i, ca.Name)
		}
		for _, c := range []*Container{ca, cb} {
			if got, err := s.Get(c.Name); err != nil || got.ID != c.ID {
				t.Fatalf("round %d: Get(%s) = %v, %v", i, c.Name, got, err)
			}
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.names) != 2 {
		t.Errorf("names index holds %d names, want 2: %v", len(s.names), s.names)
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	c := mustCreate(t, s, NewID(), "upd")
	boom := errors.New("boom")
	if _, err := s.Update(ctx, c.ID, func(c *Container) error {
		c.State.Pid = 9
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("Update with a failing fn: %v", err)
	}
	if got, _ := s.Get(c.ID); got.State.Pid != 0 {
		t.Fatal("a failed update changed the record")
	}
	for _, fn := range []func(*Container){
		func(c *Container) { c.Name = "/other" },
		func(c *Container) { c.ID = NewID() },
	} {
		if _, err := s.Update(ctx, c.ID, func(c *Container) error { fn(c); return nil }); err == nil {
			t.Error("an update changed the ID or the name")
		}
	}
	// Concurrent updates are serialized: none is lost.
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Update(ctx, c.ID, func(c *Container) error { c.RestartCount++; return nil }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, _ := s.Get(c.ID)
	if got.RestartCount != 40 {
		t.Fatalf("RestartCount = %d after 40 increments", got.RestartCount)
	}
	if c.RestartCount != 0 {
		t.Error("Update changed the record a caller held")
	}
	if _, err := s.Update(ctx, NewID(), func(*Container) error { return nil }); !errdefs.IsNotFound(err) {
		t.Errorf("Update of an unknown ID: %v", err)
	}
	s.Close()
	if got, _ := openStore(t, dir).Get(c.ID); got.RestartCount != 40 {
		t.Errorf("after reopen: RestartCount = %d", got.RestartCount)
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	c := mustCreate(t, s, NewID(), "gone")
	keep := mustCreate(t, s, NewID(), "kept")
	if err := os.WriteFile(filepath.Join(s.Dir(c.ID), "hostname"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Something mounted below the directory: refused, nothing changed.
	s.mounted = func(string) (bool, error) { return true, nil }
	if err := s.Delete(ctx, c.ID); !errdefs.IsConflict(err) {
		t.Fatalf("Delete with a mount below: %v, want Conflict", err)
	}
	if _, err := s.Get("gone"); err != nil {
		t.Fatalf("a refused delete removed the container: %v", err)
	}
	s.mounted = hasMounts
	if err := s.Delete(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Dir(c.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory left: %v", err)
	}
	if _, err := s.Get(c.ID); !errdefs.IsNotFound(err) {
		t.Errorf("Get after Delete: %v", err)
	}
	if err := s.Delete(ctx, c.ID); !errdefs.IsNotFound(err) {
		t.Errorf("second Delete: %v", err)
	}
	if _, err := s.Update(ctx, c.ID, func(*Container) error { return nil }); !errdefs.IsNotFound(err) {
		t.Errorf("Update after Delete: %v", err)
	}
	mustCreate(t, s, NewID(), "gone") // the name is free again
	if got, err := s.Get(keep.ID[:10]); err != nil || got.ID != keep.ID {
		t.Errorf("prefix lookup after Delete: %v, %v", got, err)
	}
	s.Close()
	s2 := openStore(t, dir)
	if len(s2.All()) != 2 || len(s2.Recovered().Orphans) != 0 {
		t.Errorf("after reopen: %d containers, report %+v", len(s2.All()), s2.Recovered())
	}
}

// TestHasMounts checks hasMounts against this process's mount
// table: the root of the filesystem always has a mount.
func TestHasMounts(t *testing.T) {
	t.Parallel()
	if ok, err := hasMounts("/"); err != nil || !ok {
		t.Errorf("hasMounts(/) = %v, %v", ok, err)
	}
	if ok, err := hasMounts(t.TempDir()); err != nil || ok {
		t.Errorf("hasMounts(a fresh directory) = %v, %v", ok, err)
	}
}

func TestOpenLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	if _, err := Open(context.Background(), dir); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("second Open: %v, want Unavailable", err)
	}
	s.Close()
	openStore(t, dir)
}

// BenchmarkUpdate measures one state change written to disk (two fsyncs).
func BenchmarkUpdate(b *testing.B) {
	s, err := Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c := newRecord(NewID(), "bench", time.Now())
	if err := s.Create(context.Background(), c); err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		if _, err := s.Update(context.Background(), c.ID, func(c *Container) error {
			c.State.SetRunning(i, time.Now())
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkList measures `docker ps -a --filter label=...` over 1000
// containers.
func BenchmarkList(b *testing.B) {
	s, err := Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := range 1000 {
		c := newRecord(NewID(), "", time.Now().Add(time.Duration(i)*time.Second))
		c.Config.Labels["n"] = fmt.Sprint(i % 10)
		if err := s.Create(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
	opts := ListOptions{All: true, Filters: map[string][]string{"label": {"n=3"}}}
	for b.Loop() {
		if got, err := s.List(opts); err != nil || len(got) != 100 {
			b.Fatal(len(got), err)
		}
	}
}
