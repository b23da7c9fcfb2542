package container

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"

	"github.com/corral-dev/corral/errdefs"
)

// Report is what Open found on disk besides good records, for the daemon's
// start-up reconciliation (which also walks All for the containers to
// restore, restart or mark exited).
type Report struct {
	// Loaded is the number of records loaded.
	Loaded int
	// Orphans are the IDs of container directories without a record: a
	// create or a removal that a crash interrupted. The daemon releases what
	// such a container held (mounts, cgroups, snapshot) and calls
	// RemoveOrphan.
	Orphans []string
	// Problems are records that could not be loaded as they were.
	Problems []Problem
}

// Problem is one record Open could not load as it was.
type Problem struct {
	ID  string
	Err error
}

// Recovered returns what Open found.
func (s *Store) Recovered() Report {
	return s.report
}

// load reads every record under s.dir into the index.
func (s *Store) load(ctx context.Context) error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("load containers: %w", err)
	}
	var recs []*Container
	for _, ent := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !ent.IsDir() || ValidateID(ent.Name()) != nil {
			continue // not ours
		}
		c, err := s.loadOne(ent.Name())
		if err != nil {
			return err
		}
		if c != nil {
			recs = append(recs, c)
		}
	}
	// The oldest container keeps a name that two records claim.
	sort.Slice(recs, func(i, j int) bool { return recs[i].Created.Before(recs[j].Created) })
	for _, c := range recs {
		if err := s.register(c); err != nil {
			return err
		}
	}
	slices.Sort(s.ids)
	s.report.Loaded = len(recs)
	return nil
}

// loadOne reads the record of the container with ID id, cleaning up after
// an interrupted write; it returns nil (and notes why in the report) when
// there is no good record.
func (s *Store) loadOne(id string) (*Container, error) {
	dir := s.Dir(id)
	if err := removeTemps(dir); err != nil {
		return nil, err
	}
	c, err := readRecord(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.report.Orphans = append(s.report.Orphans, id)
		return nil, nil
	case err != nil:
		s.report.Problems = append(s.report.Problems, Problem{ID: id, Err: err})
		return nil, nil
	case c.ID != id:
		err := fmt.Errorf("record in %s is of container %q", dir, c.ID)
		s.report.Problems = append(s.report.Problems, Problem{ID: id, Err: err})
		return nil, nil
	}
	return c, nil
}

// register adds a loaded record to the index. A record whose name is
// invalid or already taken (which the store never writes) gets a generated
// name, written back, and a line in the report.
func (s *Store) register(c *Container) error {
	e := &entry{}
	e.cur.Store(c)
	s.byID[c.ID] = e
	s.ids = append(s.ids, c.ID)
	name, err := ValidateName(c.Name)
	if err == nil {
		if owner, taken := s.names[name]; taken {
			err = errNameInUse(name, owner)
		}
	}
	if err == nil && name == c.Name {
		s.names[name] = c.ID
		return nil
	}
	gen, genErr := s.GenerateName(c.ID)
	if genErr != nil {
		return genErr
	}
	fixed, cerr := clone(c)
	if cerr != nil {
		return cerr
	}
	fixed.Name = gen
	if err := s.put(e, fixed); err != nil {
		return err
	}
	s.report.Problems = append(s.report.Problems, Problem{
		ID:  c.ID,
		Err: fmt.Errorf("container name %q unusable, renamed to %q: %v", c.Name, gen, err),
	})
	return nil
}

// RemoveOrphan removes the directory of an orphan (Report.Orphans) once the
// daemon has released what it held; it refuses, Conflict, while something
// is mounted below it, and NotFound for a container with a record.
func (s *Store) RemoveOrphan(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateID(id); err != nil {
		return err
	}
	_, err := s.entry(id)
	if err == nil {
		return errdefs.Conflict(fmt.Errorf("container %s has a record: not an orphan", id))
	}
	if _, err := readRecord(s.Dir(id)); !errors.Is(err, fs.ErrNotExist) {
		return errdefs.Conflict(fmt.Errorf("container %s has a record: not an orphan", id))
	}
	return s.removeDir(s.Dir(id))
}
