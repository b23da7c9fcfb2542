// Package volume owns the engine's named volumes with Docker's local
// driver: a directory per volume under the data root
// (<root>/volumes/NAME/_data, its record in NAME/volume.json), or, with
// the driver's type/device/o options, a filesystem mounted there while a
// running container uses it (a tmpfs, a bind of a host directory).
//
// A volume appears and disappears by one rename of its directory, so a
// crash (kill -9) at any point leaves either the whole volume or none of
// it; Open sweeps what a crash left half-made. Which containers use a
// volume is not stored here: the daemon rebuilds it from the container
// records it holds (Ref), so it cannot disagree with them.
//
// The package also reads Docker's mount syntaxes (-v, --mount,
// --volumes-from) into Spec values (parse.go), which the daemon resolves.
package volume

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/corral-dev/corral/errdefs"
)

// DriverLocal is the one driver there is.
const DriverLocal = "local"

// LabelAnonymous marks a volume the engine made for a container (-v /path,
// an image's VOLUME), as dockerd marks it.
const LabelAnonymous = "com.docker.volume.anonymous"

// Volume is one volume's record, as stored in its volume.json.
type Volume struct {
	Name      string
	Driver    string
	Labels    map[string]string `json:",omitempty"`
	Options   map[string]string `json:",omitempty"`
	CreatedAt time.Time
}

// Anonymous reports whether the engine made v for a container.
func (v *Volume) Anonymous() bool {
	_, ok := v.Labels[LabelAnonymous]
	return ok
}

// CreateOptions are what a volume is created with.
type CreateOptions struct {
	// Driver is "" or "local".
	Driver  string
	Labels  map[string]string
	Options map[string]string
}

// Store is the volumes under one directory.
//
// mu guards the maps; the filesystem changes of Create and Remove are made
// under it too, so a name is never half-created while another call looks.
type Store struct {
	dir string

	mu   sync.Mutex
	vols map[string]*Volume
	// refs holds, per volume, the containers whose records name it.
	refs map[string]map[string]bool
	// active holds, per mounted options volume, the containers running
	// with it.
	active map[string]map[string]bool
	// skipped are the directories Open found no readable record in.
	skipped []string
	// mount and unmount are unix.Mount and unix.Unmount, replaced in tests.
	mount   func(source, target, fstype string, flags uintptr, data string) error
	unmount func(target string) error
}

const (
	recordFile = "volume.json"
	dataDir    = "_data"
	// Names of directories being made or removed; a volume name cannot
	// start with a dot.
	tmpPrefix   = ".tmp-"
	trashPrefix = ".trash-"
)

// namePattern is dockerd's rule for local volume names.
var namePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`) })

// ValidateName checks a volume name by dockerd's rule, with its message.
func ValidateName(name string) error {
	if len(name) == 1 {
		return errdefs.InvalidArgument(fmt.Errorf("create %s: volume name is too short, names should be at least two alphanumeric characters", name))
	}
	if !namePattern().MatchString(name) {
		return errdefs.InvalidArgument(fmt.Errorf("create %s: %q includes invalid characters for a local volume name, only %q are allowed. If you intended to pass a host directory, use absolute path",
			name, name, "[a-zA-Z0-9][a-zA-Z0-9_.-]"))
	}
	return nil
}

// Open opens (creating it if needed) the volume directory dir, loads every
// volume in it and removes what a crash left half-made or half-removed.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o701); err != nil {
		return nil, fmt.Errorf("create volume directory: %w", err)
	}
	s := &Store{dir: dir, vols: map[string]*Volume{}, refs: map[string]map[string]bool{},
		active: map[string]map[string]bool{}, mount: sysMount, unmount: sysUnmount}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read volume directory: %w", err)
	}
	for _, ent := range ents {
		name := ent.Name()
		if strings.HasPrefix(name, tmpPrefix) || strings.HasPrefix(name, trashPrefix) {
			if err := s.removeDir(filepath.Join(dir, name)); err != nil {
				return nil, err
			}
			continue
		}
		v, err := readRecord(filepath.Join(dir, name, recordFile))
		if err != nil || v == nil || v.Name != name {
			// Not a volume this store made (or a damaged one): left as it
			// is, for a person to look at, rather than stop the engine.
			s.skipped = append(s.skipped, name)
			continue
		}
		s.vols[name] = v
	}
	return s, nil
}

// readRecord reads a volume's record; nil if the directory has none.
func readRecord(path string) (*Volume, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read volume record: %w", err)
	}
	var v Volume
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("read volume record %s: %w", path, err)
	}
	return &v, nil
}

// Skipped are the directories under Dir that Open found no volume in.
func (s *Store) Skipped() []string { return slices.Clone(s.skipped) }

// Dir is the directory the volumes live in.
func (s *Store) Dir() string { return s.dir }

// Path is where the content of volume name is (its mount point).
func (s *Store) Path(name string) string { return filepath.Join(s.dir, name, dataDir) }

// NewName returns a random name of 64 hex digits, as dockerd gives
// anonymous volumes.
func NewName() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Create makes volume name ("" for a generated name) and returns it, with
// created false when a volume of that name existed already (which is
// returned, as dockerd does, if its driver is the same).
func (s *Store) Create(name string, opts CreateOptions) (v *Volume, created bool, err error) {
	return s.create(name, opts, "")
}

// Acquire is Create and Ref of container id in one step, so that no
// removal comes in between.
func (s *Store) Acquire(name string, opts CreateOptions, id string) (v *Volume, created bool, err error) {
	return s.create(name, opts, id)
}

// create makes or finds volume name, referenced by container id if not "".
func (s *Store) create(name string, opts CreateOptions, id string) (v *Volume, created bool, err error) {
	if name == "" {
		name = NewName()
	}
	if err := ValidateName(name); err != nil {
		return nil, false, err
	}
	if opts.Driver != "" && opts.Driver != DriverLocal {
		return nil, false, errdefs.NotFound(fmt.Errorf("create %s: error looking up volume plugin %s: plugin %q not found", name, opts.Driver, opts.Driver))
	}
	if err := validateOptions(opts.Options); err != nil {
		return nil, false, errdefs.InvalidArgument(fmt.Errorf("create %s: %w", name, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		if err == nil && id != "" {
			s.refLocked(name, id)
		}
	}()
	if old, ok := s.vols[name]; ok {
		return old, false, nil
	}
	v = &Volume{Name: name, Driver: DriverLocal, Labels: clone(opts.Labels), Options: clone(opts.Options),
		CreatedAt: time.Now().UTC().Truncate(time.Second)}
	if err := s.write(v); err != nil {
		return nil, false, fmt.Errorf("create %s: %w", name, err)
	}
	s.vols[name] = v
	return v, true, nil
}

func clone(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// write makes v's directory under a temporary name and renames it into
// place: the volume exists whole or not at all.
func (s *Store) write(v *Volume) error {
	tmp, err := os.MkdirTemp(s.dir, tmpPrefix)
	if err != nil {
		return err
	}
	if err := s.fill(tmp, v); err != nil {
		return errors.Join(err, os.RemoveAll(tmp))
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, v.Name)); err != nil {
		return errors.Join(err, os.RemoveAll(tmp))
	}
	return syncDir(s.dir)
}

// fill writes a new volume's data directory and record into dir.
func (s *Store) fill(dir string, v *Volume) error {
	if err := os.Chmod(dir, 0o701); err != nil {
		return err
	}
	// 0755 root:root, as dockerd makes _data.
	if err := os.Mkdir(filepath.Join(dir, dataDir), 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, recordFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close(), syncDir(dir))
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// Get returns volume name.
func (s *Store) Get(name string) (*Volume, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		return nil, errdefs.NotFound(fmt.Errorf("get %s: no such volume", name))
	}
	return v, nil
}

// List returns every volume, by name.
func (s *Store) List() []*Volume {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Volume, 0, len(s.vols))
	for _, v := range s.vols {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Ref records that container id uses volume name; it fails if there is no
// such volume.
func (s *Store) Ref(name, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.vols[name]; !ok {
		return errdefs.NotFound(fmt.Errorf("get %s: no such volume", name))
	}
	s.refLocked(name, id)
	return nil
}

func (s *Store) refLocked(name, id string) {
	if s.refs[name] == nil {
		s.refs[name] = map[string]bool{}
	}
	s.refs[name][id] = true
}

// Unref forgets that container id uses volume name.
func (s *Store) Unref(name, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.refs[name], id)
	if len(s.refs[name]) == 0 {
		delete(s.refs, name)
	}
}

// Users are the containers that use volume name, sorted.
func (s *Store) Users(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.usersLocked(name)
}

func (s *Store) usersLocked(name string) []string {
	var out []string
	for id := range s.refs[name] {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Remove deletes volume name and its content. A volume a container uses
// is refused (errdefs.ErrConflict), with or without force; force makes a
// missing volume no error.
func (s *Store) Remove(name string, force bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.vols[name]; !ok {
		if force {
			return nil
		}
		return errdefs.NotFound(fmt.Errorf("get %s: no such volume", name))
	}
	if users := s.usersLocked(name); len(users) > 0 {
		return errdefs.Conflict(fmt.Errorf("remove %s: volume is in use - [%s]", name, strings.Join(users, ", ")))
	}
	if err := s.unmountLocked(name); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	trash := filepath.Join(s.dir, trashPrefix+NewName()[:16])
	if err := os.Rename(filepath.Join(s.dir, name), trash); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	delete(s.vols, name)
	delete(s.active, name)
	if err := s.removeDir(trash); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// removeDir removes a volume directory that is no volume (any more),
// refusing while something is mounted in it: the mounted files are not
// the volume's to delete.
func (s *Store) removeDir(dir string) error {
	if mounted, err := isMountPoint(filepath.Join(dir, dataDir)); err != nil || mounted {
		if err == nil {
			err = errors.New("something is still mounted in it")
		}
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return os.RemoveAll(dir)
}

// Size is the disk space volume name's content takes, -1 if unknown.
func (s *Store) Size(name string) int64 {
	var total int64
	err := filepath.WalkDir(s.Path(name), func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if info, err := d.Info(); err == nil && !d.IsDir() {
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		return -1
	}
	return total
}
