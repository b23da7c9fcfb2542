package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
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
		return setFreezerState(filepath.Join(dir, "freezer.state"), v1State)
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

// setFreezerState writes want (FROZEN or THAWED) to the v1 freezer.state
// at path until the file reads back want. Freezing passes through FREEZING
// until every task has stopped, and writing FROZEN again also catches tasks
// forked in the meantime. One descriptor serves every write and read.
func setFreezerState(path, want string) error {
	// A plain descriptor: an *os.File would set up the Go runtime's poller
	// for it (cgroupfs files count as pollable).
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 32)
	return waitState(func() (bool, error) {
		if _, err := unix.Write(fd, []byte(want)); err != nil {
			return false, &os.PathError{Op: "write", Path: path, Err: err}
		}
		n, err := unix.Pread(fd, buf, 0)
		if err != nil {
			return false, &os.PathError{Op: "read", Path: path, Err: err}
		}
		return strings.TrimSpace(string(buf[:n])) == want, nil
	})
}

// Poll intervals of waitState: a sleeping task freezes at once, a running
// one on its way back to user space, so most freezes are done at the first
// read or soon after; the interval doubles from firstPoll up to maxPoll.
const (
	firstPoll = 100 * time.Microsecond
	maxPoll   = 10 * time.Millisecond
)

// waitState polls done until it reports true, fails, or freezeTimeout passes.
func waitState(done func() (bool, error)) error {
	deadline := time.Now().Add(freezeTimeout)
	delay := firstPoll
	for {
		ok, err := done()
		if ok || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errors.New("timed out waiting for the freezer")
		}
		sleep(delay)
		delay = min(2*delay, maxPoll)
	}
}

// sleep pauses the calling thread for d. Unlike time.Sleep, whose wake-up
// the Go scheduler may round up to a whole millisecond (its epoll wait
// takes milliseconds), it keeps sub-millisecond polls short; the thread
// blocks, which costs nothing in a short-lived runtime command.
func sleep(d time.Duration) {
	ts := unix.NsecToTimespec(d.Nanoseconds())
	for unix.Nanosleep(&ts, &ts) == unix.EINTR {
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
