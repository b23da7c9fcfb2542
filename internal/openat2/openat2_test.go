package openat2

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenInRootUnderRenames looks a path up with RESOLVE_IN_ROOT through
// ".." while another goroutine renames a directory without pause, which
// makes the kernel answer EAGAIN now and then: Open never does, and a
// symlink out of the root still leads inside it.
func TestOpenInRootUnderRenames(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"a/b", "x"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/../../../etc", filepath.Join(root, "a", "out")); err != nil {
		t.Fatal(err)
	}
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rfd)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		x, y := filepath.Join(root, "x"), filepath.Join(root, "y")
		for !stop.Load() {
			_ = os.Rename(x, y)
			x, y = y, x
		}
	}()
	defer func() { stop.Store(true); wg.Wait() }()
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for range 20000 {
		fd, err := Open(rfd, "a/b/../../a/b/..", how)
		if err != nil {
			t.Fatalf("open under renames: %v", err)
		}
		unix.Close(fd)
	}
	fd, err := Open(rfd, "a/out", how)
	if !errors.Is(err, unix.ENOENT) {
		if err == nil {
			unix.Close(fd)
		}
		t.Fatalf("a symlink out of the root: %v, want ENOENT (the root has no etc)", err)
	}
}
