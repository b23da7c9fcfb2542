// Package secret is the engine's secret store: named values (passwords,
// keys, tokens) that containers receive at start through --secret, kept
// apart from everything else the engine writes. A secret is two files in a
// directory only root may enter (0700): <id>.data, its value (0600), and
// <id>.json, its metadata (ID, name, labels, times), never the value. Both
// are written to a temporary name, synced and renamed into place, data
// first: a secret exists once its metadata does, so a crash at any point
// (kill -9) leaves either the whole secret or nothing, and Open sweeps the
// pieces of interrupted creates and removals. The store never logs or
// returns a value except through Value.
package secret

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/corral-dev/corral/errdefs"
)

// MaxSize bounds a secret's value, as swarm does (500 KiB).
const MaxSize = 500 * 1024

// Secret is a secret's metadata.
type Secret struct {
	// ID is 64 hex digits, random.
	ID        string
	Name      string
	Labels    map[string]string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Store is the secrets under one directory. It is safe for concurrent use.
type Store struct {
	dir string

	// mu guards byID and the files: creates, removals and the check a
	// removal runs are serialised.
	mu   sync.Mutex
	byID map[string]Secret
}

// Open opens (creating) the store in dir, removing what interrupted
// creates and removals left.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create secret store: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("set secret store mode: %w", err)
	}
	s := &Store{dir: dir, byID: map[string]Secret{}}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// load reads every metadata file and removes the files no secret owns.
func (s *Store) load() error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("read secret store: %w", err)
	}
	have := map[string]bool{}
	for _, e := range ents {
		if id, ok := strings.CutSuffix(e.Name(), ".data"); ok && validID(id) {
			have[id] = true
		}
	}
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !validID(id) || !have[id] {
			continue
		}
		sec, err := s.readMeta(id)
		if err != nil {
			return err
		}
		s.byID[id] = sec
	}
	for _, e := range ents {
		id := strings.TrimSuffix(strings.TrimSuffix(e.Name(), ".data"), ".json")
		if _, ok := s.byID[id]; !ok {
			if err := os.Remove(filepath.Join(s.dir, e.Name())); err != nil {
				return fmt.Errorf("remove leftover %s of secret store: %w", e.Name(), err)
			}
		}
	}
	return nil
}

func (s *Store) readMeta(id string) (Secret, error) {
	b, err := os.ReadFile(s.metaPath(id))
	if err != nil {
		return Secret{}, fmt.Errorf("read secret %s: %w", id, err)
	}
	var sec Secret
	if err := json.Unmarshal(b, &sec); err != nil {
		return Secret{}, fmt.Errorf("read secret %s: %w", id, err)
	}
	if sec.ID != id || ValidateName(sec.Name) != nil {
		return Secret{}, fmt.Errorf("read secret %s: metadata names another secret (%q)", id, sec.ID)
	}
	return sec, nil
}

func (s *Store) metaPath(id string) string { return filepath.Join(s.dir, id+".json") }
func (s *Store) dataPath(id string) string { return filepath.Join(s.dir, id+".data") }

// Create stores a new secret and answers its metadata. The name must be
// free (errdefs.ErrAlreadyExists) and valid, the value 1 byte to MaxSize
// (errdefs.ErrInvalidArgument).
func (s *Store) Create(name string, labels map[string]string, value []byte) (Secret, error) {
	if err := ValidateName(name); err != nil {
		return Secret{}, err
	}
	if len(value) == 0 || len(value) > MaxSize {
		return Secret{}, errdefs.InvalidArgument(fmt.Errorf("secret data must be larger than 0 and at most 500KB (%d bytes), not %d bytes", MaxSize, len(value)))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byName(name); ok {
		return Secret{}, errdefs.AlreadyExists(fmt.Errorf("secret %s already exists", name))
	}
	now := time.Now().UTC()
	sec := Secret{ID: newID(), Name: name, Labels: maps.Clone(labels), CreatedAt: now, UpdatedAt: now}
	if sec.Labels == nil {
		sec.Labels = map[string]string{}
	}
	meta, err := json.Marshal(sec)
	if err != nil {
		return Secret{}, fmt.Errorf("encode secret %s: %w", name, err)
	}
	if err := s.write(s.dataPath(sec.ID), value); err != nil {
		return Secret{}, err
	}
	if err := s.write(s.metaPath(sec.ID), meta); err != nil {
		return Secret{}, errors.Join(err, os.Remove(s.dataPath(sec.ID)))
	}
	s.byID[sec.ID] = sec
	return cloned(sec), nil
}

// write puts data at path atomically (a synced temporary file renamed over
// it, then the directory synced), mode 0600.
func (s *Store) write(path string, data []byte) (err error) {
	f, err := os.CreateTemp(s.dir, ".tmp-")
	if err != nil {
		return fmt.Errorf("write secret store: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err == nil {
		err = s.syncDir()
	}
	if err != nil {
		return fmt.Errorf("write secret store: %w", err)
	}
	return nil
}

func (s *Store) syncDir() error {
	d, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Get finds a secret by ID, name or unique ID prefix, as dockerd does;
// errdefs.ErrNotFound if none.
func (s *Store) Get(ref string) (Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.find(ref)
	return cloned(sec), err
}

// find is Get with s.mu held.
func (s *Store) find(ref string) (Secret, error) {
	all := make([]Secret, 0, len(s.byID))
	for _, sec := range s.byID {
		all = append(all, sec)
	}
	return Find(all, ref)
}

// Find is the secret of all that ref names: its ID, else its name, else
// the one ID ref is a prefix of; errdefs.ErrNotFound if none.
func Find(all []Secret, ref string) (Secret, error) {
	for _, sec := range all {
		if sec.ID == ref {
			return sec, nil
		}
	}
	for _, sec := range all {
		if sec.Name == ref {
			return sec, nil
		}
	}
	var found []Secret
	if ref != "" {
		for _, sec := range all {
			if strings.HasPrefix(sec.ID, ref) {
				found = append(found, sec)
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return Secret{}, errdefs.NotFound(fmt.Errorf("secret %s not found", ref))
	}
	return Secret{}, errdefs.NotFound(fmt.Errorf("secret %s is ambiguous (%d matches found)", ref, len(found)))
}

func (s *Store) byName(name string) (Secret, bool) {
	for _, sec := range s.byID {
		if sec.Name == name {
			return sec, true
		}
	}
	return Secret{}, false
}

// List answers every secret, by name.
func (s *Store) List() []Secret {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Secret, 0, len(s.byID))
	for _, sec := range s.byID {
		out = append(out, cloned(sec))
	}
	slices.SortFunc(out, func(a, b Secret) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Value answers the value of the secret ref (ID, name or ID prefix).
func (s *Store) Value(ref string) (Secret, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.find(ref)
	if err != nil {
		return Secret{}, nil, err
	}
	b, err := os.ReadFile(s.dataPath(sec.ID))
	if err != nil {
		return Secret{}, nil, fmt.Errorf("read secret %s: %w", sec.Name, err)
	}
	return cloned(sec), b, nil
}

// Remove removes the secret ref after check, if not nil, allowed it;
// check runs with the store locked, so no secret is removed while another
// call is between its own check and its removal.
func (s *Store) Remove(ref string, check func(Secret) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.find(ref)
	if err != nil {
		return err
	}
	if check != nil {
		if err := check(cloned(sec)); err != nil {
			return err
		}
	}
	// Metadata first: without it the secret is gone, and Open sweeps a
	// data file left by a crash here.
	if err := os.Remove(s.metaPath(sec.ID)); err != nil {
		return fmt.Errorf("remove secret %s: %w", sec.Name, err)
	}
	delete(s.byID, sec.ID)
	if err := os.Remove(s.dataPath(sec.ID)); err != nil {
		return fmt.Errorf("remove secret %s: %w", sec.Name, err)
	}
	return s.syncDir()
}

// Path is the file holding the value of secret id (for tests and leak
// checks; the engine reads values through Value).
func (s *Store) Path(id string) string { return s.dataPath(id) }

func cloned(sec Secret) Secret {
	sec.Labels = maps.Clone(sec.Labels)
	return sec
}

var nameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$`) })

// ValidateName checks a secret name by swarm's rules: 1 to 64 characters of
// [a-zA-Z0-9-_.], starting and ending with [a-zA-Z0-9].
func ValidateName(name string) error {
	if len(name) > 64 || !nameRE().MatchString(name) {
		return errdefs.InvalidArgument(fmt.Errorf("invalid secret name %q: only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]", name))
	}
	return nil
}

func validID(id string) bool {
	if len(id) != 64 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail (Go 1.24)
	return hex.EncodeToString(b)
}
