package cli

import (
	"errors"
	"fmt"
	"os"
)

// cidFile is run's and create's --cidfile: the file is made (it must not
// exist) before the container, gets the container's ID once it is
// created, and is removed again when no ID was written.
type cidFile struct {
	path    string
	f       *os.File
	written bool
}

// openCIDFile makes the file at path; an empty path is no file.
func openCIDFile(path string) (*cidFile, error) {
	if path == "" {
		return &cidFile{}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("container ID file found, make sure the other container isn't running or delete %s", path)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to create the container ID file: %w", err)
	}
	return &cidFile{path: path, f: f}, nil
}

// write records the container's ID.
func (c *cidFile) write(id string) error {
	if c.f == nil {
		return nil
	}
	if _, err := c.f.WriteString(id); err != nil {
		return fmt.Errorf("failed to write the container ID to the file: %w", err)
	}
	c.written = true
	return nil
}

// close closes the file, and removes it if it holds no ID.
func (c *cidFile) close() error {
	if c.f == nil {
		return nil
	}
	err := c.f.Close()
	if !c.written {
		if rerr := os.Remove(c.path); rerr != nil {
			return fmt.Errorf("failed to remove the CID file '%s': %w", c.path, rerr)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to write the container ID to the file: %w", err)
	}
	return nil
}
