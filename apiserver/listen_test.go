package apiserver

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/corral-dev/corral/errdefs"
)

func TestListenUnixModes(t *testing.T) {
	t.Parallel()
	gid := os.Getgid()
	name := fmt.Sprint(gid)
	if g, err := user.LookupGroupId(name); err == nil {
		name = g.Name
	}
	tests := []struct {
		group string
		mode  os.FileMode
		gid   int
	}{
		{"", 0o600, gid},
		{fmt.Sprint(gid), 0o660, gid},
		{name, 0o660, gid},
	}
	if os.Getuid() == 0 {
		tests = append(tests, struct {
			group string
			mode  os.FileMode
			gid   int
		}{"12345", 0o660, 12345})
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "run", "api.sock")
		l, err := ListenUnix(path, tt.group)
		if err != nil {
			t.Fatalf("group %q: %v", tt.group, err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != tt.mode || int(st.Gid) != tt.gid || fi.Mode().Type() != os.ModeSocket {
			t.Errorf("group %q: mode %v gid %d, want %v gid %d", tt.group, fi.Mode(), st.Gid, tt.mode, tt.gid)
		}
		if matches, _ := filepath.Glob(path + ".*"); len(matches) != 0 {
			t.Errorf("temporary socket left: %v", matches)
		}
		_ = l.Close()
		if _, err := os.Lstat(path); !os.IsNotExist(err) {
			t.Errorf("socket left after Close: %v", err)
		}
	}
	if _, err := ListenUnix(filepath.Join(t.TempDir(), "s"), "no-such-group-here"); !errdefs.IsInvalidArgument(err) {
		t.Errorf("unknown group: %v", err)
	}
}

func TestListenUnixStale(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "api.sock")
	old, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	old.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = old.Close() // a daemon that died: the socket stays, nobody answers
	l, err := ListenUnix(path, "")
	if err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	defer l.Close()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("new socket does not answer: %v", err)
	}
	_ = c.Close()
}

func TestListenUnixRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	live := filepath.Join(dir, "live.sock")
	other, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := ListenUnix(live, ""); !errdefs.IsConflict(err) {
		t.Errorf("another daemon answers: err %v, want conflict", err)
	}
	if c, err := net.Dial("unix", live); err != nil {
		t.Errorf("the other daemon's socket was taken away: %v", err)
	} else {
		_ = c.Close()
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ListenUnix(file, ""); !errdefs.IsConflict(err) {
		t.Errorf("a regular file: err %v, want conflict", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "data" {
		t.Error("a regular file was replaced")
	}
	// A symlink to a socket is not a socket: never follow it to remove
	// what it points at.
	link := filepath.Join(dir, "link.sock")
	if err := os.Symlink(live, link); err != nil {
		t.Fatal(err)
	}
	if _, err := ListenUnix(link, ""); !errdefs.IsConflict(err) {
		t.Errorf("a symlink: err %v, want conflict", err)
	}
}

// TestListenUnixUnsafeDir: in a directory others can write to, another
// user could replace the socket (or its temporary name) with a symlink
// that the chmod would follow; ListenUnix refuses such a directory.
func TestListenUnixUnsafeDir(t *testing.T) {
	t.Parallel()
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o1777); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// The attack: the socket's temporary name, planted as a symlink.
	tmp := fmt.Sprintf("%s.%d.tmp", filepath.Join(open, "api.sock"), os.Getpid())
	if err := os.Symlink(target, tmp); err != nil {
		t.Fatal(err)
	}
	if _, err := ListenUnix(filepath.Join(open, "api.sock"), "12345"); !errors.Is(err, errdefs.ErrForbidden) {
		t.Errorf("world-writable directory: err %v, want forbidden", err)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o600 {
		t.Errorf("symlink target's mode changed to %v", fi.Mode().Perm())
	}
	if os.Getuid() == 0 {
		other := filepath.Join(t.TempDir(), "other")
		if err := os.Mkdir(other, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(other, 12345, 12345); err != nil {
			t.Fatal(err)
		}
		if _, err := ListenUnix(filepath.Join(other, "api.sock"), ""); !errors.Is(err, errdefs.ErrForbidden) {
			t.Errorf("directory of another user: err %v, want forbidden", err)
		}
	}
}
