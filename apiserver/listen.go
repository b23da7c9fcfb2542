package apiserver

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/corral-dev/corral/errdefs"
)

// ListenUnix opens the API's unix socket at path. Without a group the
// socket is root's alone (0600); with one (a name or a numeric gid) it is
// root:group 0660 (the directory must then let the group through). A
// socket left by a daemon that died is removed; if a daemon answers on it,
// or path is something other than a socket, ListenUnix fails. The socket
// appears at path only once its owner and mode are set: it is bound under
// a temporary name and renamed. The directory (created 0755 if missing)
// must belong to the daemon's user and be writable by no one else, or
// another user could swap the socket, or a symlink for it, under our feet.
func ListenUnix(path, group string) (net.Listener, error) {
	gid := -1
	if group != "" {
		var err error
		if gid, err = lookupGroup(group); err != nil {
			return nil, err
		}
	}
	if err := safeDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if err := clearStale(path); err != nil {
		return nil, err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	_ = os.Remove(tmp)
	l, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	err = setOwner(tmp, gid)
	if err == nil {
		if err = os.Rename(tmp, path); err != nil {
			err = fmt.Errorf("move api socket into place: %w", err)
		}
	}
	if err != nil {
		_ = l.Close()
		_ = os.Remove(tmp)
		return nil, err
	}
	return &unixListener{UnixListener: ul, path: path}, nil
}

// safeDir creates dir if missing and checks only the daemon's user can
// write to it.
func safeDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create socket directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("check socket directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o022 != 0 {
		return errdefs.Wrap(errdefs.ErrForbidden, fmt.Errorf(
			"socket directory %s (mode %v) must belong to uid %d and be writable by no one else", dir, fi.Mode().Perm(), os.Getuid()))
	}
	return nil
}

// setOwner gives the socket its mode and group (its owner is the
// daemon's user: root).
func setOwner(path string, gid int) error {
	mode := os.FileMode(0o600)
	if gid >= 0 {
		mode = 0o660
		if err := os.Lchown(path, -1, gid); err != nil {
			return fmt.Errorf("chown api socket: %w", err)
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("chmod api socket: %w", err)
	}
	return nil
}

func lookupGroup(group string) (int, error) {
	if n, err := strconv.Atoi(group); err == nil && n >= 0 {
		return n, nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return -1, errdefs.InvalidArgument(fmt.Errorf("api socket group %q: %w", group, err))
	}
	return strconv.Atoi(g.Gid)
}

// clearStale removes a socket nobody answers on at path.
func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check api socket: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return errdefs.Conflict(fmt.Errorf("%s exists and is not a socket", path))
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		_ = c.Close()
		return errdefs.Conflict(fmt.Errorf("another daemon is listening on %s", path))
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("check api socket %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale api socket: %w", err)
	}
	return nil
}

// unixListener removes its socket when closed.
type unixListener struct {
	*net.UnixListener
	path string
}

func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	_ = os.Remove(l.path)
	return err
}
