package container

import (
	"context"
	"errors"
	"fmt"

	"github.com/corral-dev/corral/errdefs"
)

// ReserveName validates name (ValidateName) and reserves it for the
// container with ID id, atomically: of two callers reserving one name for
// different IDs exactly one wins, the other gets dockerd's Conflict. It
// returns the name with its leading "/". Reserving a name again for the
// same ID succeeds. A reservation lasts until ReleaseName, or until the
// container created with it is deleted or renamed.
func (s *Store) ReserveName(name, id string) (string, error) {
	name, err := ValidateName(name)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return name, s.reserveLocked(name, id)
}

func (s *Store) reserveLocked(name, id string) error {
	if owner, ok := s.names[name]; ok && owner != id {
		return errNameInUse(name, owner)
	}
	s.names[name] = id
	return nil
}

func errNameInUse(name, owner string) error {
	//lint:ignore ST1005 dockerd's wording.
	return errdefs.Conflict(fmt.Errorf("Conflict. The container name %q is already in use by container %q. You have to remove (or rename) that container to be able to reuse that name.", name, owner))
}

// ReleaseName frees name ("x" or "/x") if it is reserved for id and no
// stored container of that ID uses it.
func (s *Store) ReleaseName(name, id string) {
	name = slashed(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.names[name] != id {
		return
	}
	if e := s.byID[id]; e != nil && e.cur.Load().Name == name {
		return
	}
	delete(s.names, name)
}

// GenerateName reserves a generated name for id: RandomName, retried with a
// digit appended when taken, then the short ID as dockerd falls back to.
func (s *Store) GenerateName(id string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for retry := range 6 {
		name := "/" + RandomName(retry)
		if _, taken := s.names[name]; !taken {
			s.names[name] = id
			return name, nil
		}
	}
	name := "/" + ShortID(id)
	return name, s.reserveLocked(name, id)
}

// Rename gives the container ref (Get) the name newName, with dockerd's
// checks and errors: both names given, the new one valid, different and
// free (Conflict otherwise). The old name is released once the record
// with the new one is on disk.
func (s *Store) Rename(ctx context.Context, ref, newName string) (*Container, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if ref == "" || newName == "" {
		//lint:ignore ST1005 dockerd's wording.
		return nil, errdefs.InvalidArgument(errors.New("Neither old nor new names may be empty"))
	}
	c, err := s.Get(ref)
	if err != nil {
		return nil, err
	}
	name, err := ValidateName(newName)
	if err != nil {
		return nil, err
	}
	e, err := s.entry(c.ID)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return s.renameLocked(e, name)
}

// renameLocked renames e's container; the caller holds e.mu.
func (s *Store) renameLocked(e *entry, name string) (*Container, error) {
	old := e.cur.Load()
	if e.deleted {
		return nil, errNoSuchContainer(old.ID)
	}
	if name == old.Name {
		//lint:ignore ST1005 dockerd's wording.
		return nil, errdefs.InvalidArgument(errors.New("Renaming a container with the same name as its current name"))
	}
	s.mu.Lock()
	err := s.reserveLocked(name, old.ID)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	c, err := clone(old)
	if err == nil {
		c.Name = name
		err = s.put(e, c)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		delete(s.names, name)
		return nil, err
	}
	if s.names[old.Name] == old.ID {
		delete(s.names, old.Name)
	}
	return c, nil
}
