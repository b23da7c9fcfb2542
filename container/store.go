package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/errdefs"
)

// Store keeps the container records of one daemon: one directory per
// container under its root, each holding a JSON record replaced atomically
// (disk.go), and an in-memory index by ID, ID prefix and name. Records it
// returns are shared and immutable: change one with Update.
//
// Why files rather than one bbolt database: each container needs a
// directory anyway (hostname, hosts, resolv.conf, logs), and the record
// beside them goes with them on rm; a crash can touch only the one record
// being written, and rename makes that old-or-new; there is no cross-record
// transaction to need (names are an index rebuilt from the records at Open,
// and a record changes only with its own container); and records stay
// readable with cat, as dockerd's config.v2.json. The cost, one fsync'd
// write per state change, is bbolt's too.
type Store struct {
	dir     string
	lock    *os.File
	mounted func(dir string) (bool, error)
	report  Report

	// Lock order: an entry's mu before Store.mu.
	mu    sync.RWMutex
	byID  map[string]*entry
	ids   []string          // sorted, for prefix lookups
	names map[string]string // "/name" → ID: in use or reserved
}

// entry is one container in the index.
type entry struct {
	// mu serializes the changes of this record (Update, Rename, Delete).
	mu      sync.Mutex
	deleted bool
	cur     atomic.Pointer[Container]
}

// Open opens the store rooted at dir (<root>/containers), creating it if
// needed, and loads every record. It takes an exclusive lock on dir, so a
// second daemon on the same root fails (Unavailable). What it found besides
// good records — directories without one, records it could not load — is
// in Recovered.
func Open(ctx context.Context, dir string) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open container store: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open container store: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{
		dir: dir, lock: lock, mounted: hasMounts,
		byID: map[string]*entry{}, names: map[string]string{},
	}
	if err := s.load(ctx); err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the store's lock. The Store must not be used afterwards.
func (s *Store) Close() error {
	return s.lock.Close()
}

// Dir returns the directory of the container with ID id, where the daemon
// may keep the container's other files.
func (s *Store) Dir(id string) string {
	return filepath.Join(s.dir, id)
}

// Get finds a container by full ID, by name (with or without its leading
// "/") or by a unique ID prefix, in that order, as dockerd does. Errors:
// InvalidArgument for "" or a prefix of several IDs, NotFound
// ("No such container: ref") otherwise.
func (s *Store) Get(ref string) (*Container, error) {
	if ref == "" {
		return nil, errdefs.InvalidArgument(fmt.Errorf("invalid name or ID supplied: %q", ref))
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if e := s.byID[ref]; e != nil {
		return e.cur.Load(), nil
	}
	if id, ok := s.names[slashed(ref)]; ok {
		if e := s.byID[id]; e != nil {
			return e.cur.Load(), nil
		}
	}
	i, _ := slices.BinarySearch(s.ids, ref)
	if i == len(s.ids) || !strings.HasPrefix(s.ids[i], ref) {
		return nil, errNoSuchContainer(ref)
	}
	if i+1 < len(s.ids) && strings.HasPrefix(s.ids[i+1], ref) {
		return nil, errdefs.InvalidArgument(fmt.Errorf("multiple IDs found with provided prefix: %s", ref))
	}
	return s.byID[s.ids[i]].cur.Load(), nil
}

func errNoSuchContainer(ref string) error {
	//lint:ignore ST1005 dockerd's wording.
	return errdefs.NotFound(fmt.Errorf("No such container: %s", ref))
}

// All returns every container, newest first.
func (s *Store) All() []*Container {
	s.mu.RLock()
	out := make([]*Container, 0, len(s.byID))
	for _, e := range s.byID {
		out = append(out, e.cur.Load())
	}
	s.mu.RUnlock()
	sortNewestFirst(out)
	return out
}

// Create adds a new container. c.ID must be a fresh NewID; c.Name is
// reserved for it (ReserveName's rules and errors; it may have been
// reserved by the caller already), or generated when empty. The record is on
// disk when Create returns; on failure nothing is left and the name is
// released. The store keeps c: the caller must not change it afterwards.
func (s *Store) Create(ctx context.Context, c *Container) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateID(c.ID); err != nil {
		return err
	}
	if c.Name == "" {
		c.Name, err = s.GenerateName(c.ID)
	} else {
		c.Name, err = s.ReserveName(c.Name, c.ID)
	}
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			s.ReleaseName(c.Name, c.ID)
		}
	}()
	if c.Config == nil {
		c.Config = &container.Config{}
	}
	if c.HostConfig == nil {
		c.HostConfig = &container.HostConfig{}
	}
	if err := s.createDir(c); err != nil {
		return err
	}
	e := &entry{}
	e.cur.Store(c)
	s.mu.Lock()
	s.byID[c.ID] = e
	i, _ := slices.BinarySearch(s.ids, c.ID)
	s.ids = slices.Insert(s.ids, i, c.ID)
	s.mu.Unlock()
	return nil
}

// createDir makes c's directory and writes its first record. The mkdir is
// what refuses an ID in use.
func (s *Store) createDir(c *Container) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode container %s: %w", c.ID, err)
	}
	dir := s.Dir(c.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return errdefs.AlreadyExists(fmt.Errorf("container %s already exists", c.ID))
		}
		return fmt.Errorf("create container %s: %w", c.ID, err)
	}
	if err := writeRecord(dir, data); err != nil {
		os.RemoveAll(dir)
		return err
	}
	if err := syncDir(s.dir); err != nil {
		os.RemoveAll(dir)
		return err
	}
	return nil
}

// Update changes the record of the container with ID id: fn gets a copy of
// it to change; when fn returns nil the copy is written and replaces the
// record, which Update returns. fn's error is returned as is, with no
// change. Updates of one container are serialized, so fn sees the latest
// record; fn must not call the Store. The ID and the name cannot change here
// (Rename).
func (s *Store) Update(ctx context.Context, id string, fn func(c *Container) error) (*Container, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, err := s.entry(id)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.deleted {
		return nil, errNoSuchContainer(id)
	}
	old := e.cur.Load()
	c, err := clone(old)
	if err != nil {
		return nil, err
	}
	if err := fn(c); err != nil {
		return nil, err
	}
	if c.ID != old.ID || c.Name != old.Name {
		return nil, fmt.Errorf("update container %s: the ID and the name cannot change in an update", id)
	}
	if err := s.put(e, c); err != nil {
		return nil, err
	}
	return c, nil
}

// put writes c and makes it e's record; the caller holds e.mu.
func (s *Store) put(e *entry, c *Container) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode container %s: %w", c.ID, err)
	}
	if err := writeRecord(s.Dir(c.ID), data); err != nil {
		return err
	}
	e.cur.Store(c)
	return nil
}

// Delete removes the container with ID id: its record, then its directory
// (refused, Conflict, while anything is mounted below it), and releases its
// name. Once the record is gone the container is gone, even if removing the
// rest of the directory fails (that error is returned; the directory is then
// an orphan for Recovered after a restart).
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e, err := s.entry(id)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.deleted {
		return errNoSuchContainer(id)
	}
	c := e.cur.Load()
	err = s.removeDir(s.Dir(id))
	if _, statErr := os.Stat(filepath.Join(s.Dir(id), recordFile)); statErr == nil {
		return err // the record is still there: nothing changed
	}
	e.deleted = true
	s.mu.Lock()
	delete(s.byID, id)
	if i, ok := slices.BinarySearch(s.ids, id); ok {
		s.ids = slices.Delete(s.ids, i, i+1)
	}
	if s.names[c.Name] == id {
		delete(s.names, c.Name)
	}
	s.mu.Unlock()
	return err
}

// entry returns the index entry of the container with full ID id.
func (s *Store) entry(id string) (*entry, error) {
	s.mu.RLock()
	e := s.byID[id]
	s.mu.RUnlock()
	if e == nil {
		return nil, errNoSuchContainer(id)
	}
	return e, nil
}

// clone deep-copies c through its JSON form, the form it is stored in.
func clone(c *Container) (*Container, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("copy container %s: %w", c.ID, err)
	}
	out := new(Container)
	if err := json.Unmarshal(data, out); err != nil {
		return nil, fmt.Errorf("copy container %s: %w", c.ID, err)
	}
	return out, nil
}

func sortNewestFirst(cs []*Container) {
	slices.SortFunc(cs, func(a, b *Container) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

func slashed(name string) string {
	if strings.HasPrefix(name, "/") {
		return name
	}
	return "/" + name
}
