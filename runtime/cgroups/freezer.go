package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// errNoFreezer says the container has neither a v1 freezer nor a v2
// hierarchy.
var errNoFreezer = errors.New("no freezer hierarchy")

// freezeTimeout bounds how long Freeze waits for every task to stop.
const freezeTimeout = 2 * time.Second

// Freeze stops every process in the container's cgroup, with the v1 freezer
// controller when it is mounted, else with cgroup.freeze on v2. If the
// processes do not all stop in time it thaws them again and fails.
func (m *Manager) Freeze() error {
	if err := m.setFrozen(true); err != nil {
		_ = m.setFrozen(false)
		return fmt.Errorf("freeze cgroup: %w", err)
	}
	return nil
}

// Thaw resumes the processes stopped by Freeze.
func (m *Manager) Thaw() error {
	if err := m.setFrozen(false); err != nil {
		return fmt.Errorf("thaw cgroup: %w", err)
	}
	return nil
}

func (m *Manager) setFrozen(frozen bool) error {
	v1State, v2State := "THAWED", "0"
	if frozen {
		v1State, v2State = "FROZEN", "1"
	}
	if dir, ok := m.paths["freezer"]; ok {
		want := v1State
		return waitState(func() (bool, error) {
			if err := writeFile(filepath.Join(dir, "freezer.state"), want); err != nil {
				return false, err
			}
			state, err := os.ReadFile(filepath.Join(dir, "freezer.state"))
			return strings.TrimSpace(string(state)) == want, err
		})
	}
	if dir, ok := m.paths[UnifiedKey]; ok {
		want := v2State
		if err := writeFile(filepath.Join(dir, "cgroup.freeze"), want); err != nil {
			return err
		}
		return waitState(func() (bool, error) {
			got, err := eventsField(filepath.Join(dir, "cgroup.events"), "frozen")
			return got == want, err
		})
	}
	return errNoFreezer
}

// waitState polls done until it reports true, fails, or freezeTimeout passes.
func waitState(done func() (bool, error)) error {
	deadline := time.Now().Add(freezeTimeout)
	delay := time.Millisecond
	for {
		ok, err := done()
		if ok || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errors.New("timed out waiting for the freezer")
		}
		time.Sleep(delay)
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// eventsField returns the value of key in a cgroup.events file.
func eventsField(path, key string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, _ := strings.Cut(s.Text(), " ")
		if k == key {
			return v, nil
		}
	}
	if err := s.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s: no %q field", path, key)
}
