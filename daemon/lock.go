package daemon

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/errdefs"
)

// rootLock is an exclusive flock on <root>/daemon.lock, which holds the pid
// of its owner. The kernel drops it when the daemon dies, however it dies.
type rootLock struct{ f *os.File }

func lockRoot(root string) (*rootLock, error) {
	path := filepath.Join(root, "daemon.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open data root lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		owner, _ := os.ReadFile(path)
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errdefs.Conflict(fmt.Errorf("data root %s is in use by another daemon (pid %s)",
				root, strings.TrimSpace(string(owner))))
		}
		return nil, fmt.Errorf("lock data root: %w", err)
	}
	if err := writeOwner(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return &rootLock{f: f}, nil
}

func writeOwner(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("write data root lock: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		return fmt.Errorf("write data root lock: %w", err)
	}
	return nil
}

func (l *rootLock) unlock() error {
	_ = l.f.Truncate(0)
	return l.f.Close()
}

// pidFile is the daemon's pid file, written when it starts and removed when
// it stops (if it still holds this daemon's pid).
type pidFile struct {
	path string
	pid  string
}

// writePIDFile writes the pid file at path, refusing if it names another
// live process of this binary (another daemon).
func writePIDFile(path string) (*pidFile, error) {
	if other, ok := livePID(path); ok {
		return nil, errdefs.Conflict(fmt.Errorf("pid file %s names a running daemon (pid %d): stop it or give another --pidfile", path, other))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("write pid file: %w", err)
	}
	p := &pidFile{path: path, pid: strconv.Itoa(os.Getpid())}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(p.pid+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("write pid file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("write pid file: %w", err)
	}
	return p, nil
}

// livePID reads the pid in the file at path and reports whether it is a
// live process, other than this one, running this same binary.
func livePID(path string) (int, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return 0, false
	}
	self, err1 := os.Readlink("/proc/self/exe")
	exe, err2 := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	return pid, err1 == nil && err2 == nil && exe == self
}

func (p *pidFile) remove() error {
	data, err := os.ReadFile(p.path)
	if errors.Is(err, fs.ErrNotExist) || err == nil && strings.TrimSpace(string(data)) != p.pid {
		return nil // gone, or another daemon's now
	}
	if err := os.Remove(p.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove pid file: %w", err)
	}
	return nil
}

// engineID reads the engine's ID from <root>/engine-id, making one on
// first start (docker info's "ID").
func engineID(root string) (string, error) {
	path := filepath.Join(root, "engine-id")
	if data, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(data))) > 0 {
		return strings.TrimSpace(string(data)), nil
	}
	id := rand.Text()
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write engine ID: %w", err)
	}
	return id, nil
}
