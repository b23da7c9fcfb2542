package cgroups

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Frozen reports whether the container's cgroup is frozen now: on the v1
// freezer hierarchy when it is mounted (freezer.state, which also tells a
// freeze inherited from a parent), else on v2 (cgroup.events "frozen", or
// cgroup.freeze asking for it), as Freeze chooses. A cgroup that does not
// exist is not frozen.
func (m *Manager) Frozen() (bool, error) {
	if dir, ok := m.paths["freezer"]; ok {
		state, err := readTrimmed(filepath.Join(dir, "freezer.state"))
		if err != nil || state == "" {
			return false, err
		}
		return state != "THAWED", nil
	}
	if dir, ok := m.paths[UnifiedKey]; ok {
		freeze, err := readTrimmed(filepath.Join(dir, "cgroup.freeze"))
		if err != nil || freeze == "1" {
			return freeze == "1", err
		}
		events, err := readTrimmed(filepath.Join(dir, "cgroup.events"))
		return strings.Contains("\n"+events+"\n", "\nfrozen 1\n"), err
	}
	return false, nil
}

// readTrimmed returns a cgroup file's content without surrounding space;
// a file (or cgroup) that does not exist reads as "".
func readTrimmed(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return strings.TrimSpace(string(data)), err
}
