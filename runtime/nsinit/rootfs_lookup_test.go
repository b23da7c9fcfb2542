package nsinit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"
)

// lookupRoot makes root/ and host/ side by side, host holding a marker
// file, root a directory tree and symlinks of an image that try to reach
// host: absolute, relative through .., and chained.
func lookupRoot(t *testing.T) (root *os.File, rootPath, host string) {
	t.Helper()
	base := t.TempDir()
	rootPath, host = filepath.Join(base, "root"), filepath.Join(base, "host")
	for _, d := range []string{rootPath + "/a/b", host} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(host, hostMarkerFile), "host\n")
	links := map[string]string{
		"abs":   host,                  // /…/host, read inside root
		"up":    "../../../../../host", // climbs out, clamped at root
		"chain": "/up",
		"dang":  "/nowhere/x",
		"file":  "/a/b/../../a/b",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(rootPath, name)); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(rootPath, "a/plain"), "x\n")
	f, err := os.OpenFile(rootPath, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, rootPath, host
}

// TestOpenInRoot resolves like pathrs.OpenatInRoot, which it stands in
// for: the same file, or the same error, for every path, and never a file
// outside the root.
func TestOpenInRoot(t *testing.T) {
	root, rootPath, _ := lookupRoot(t)
	for _, p := range []string{"/a/b", "a/b", "/abs", "/up", "/chain", "/chain/" + hostMarkerFile,
		"/up/" + hostMarkerFile, "/dang", "/file", "/a/plain", "/a/plain/x", "/../../a", "/missing"} {
		got, err := openInRoot(root, p)
		want, werr := pathrs.OpenatInRoot(root, p)
		if (err == nil) != (werr == nil) || err != nil && !errors.Is(err, errnoOf(werr)) {
			t.Errorf("%s: openInRoot error %v, pathrs-lite's %v", p, err, werr)
		}
		if err != nil || werr != nil {
			continue
		}
		if !sameFile(t, got, want) {
			t.Errorf("%s: openInRoot and pathrs-lite opened different files", p)
		}
		if real := fdPath(t, got); real != rootPath && !strings.HasPrefix(real, rootPath+"/") {
			t.Errorf("%s resolved outside the root: %s", p, real)
		}
		got.Close()
		want.Close()
	}
}

// TestMkdirAllInRoot creates missing directories as pathrs.MkdirAllHandle,
// which it stands in for, does (each on a root of its own): the same
// success or failure, the same directory, inside the root, never through a
// symlink of the image, never in the host directory.
func TestMkdirAllInRoot(t *testing.T) {
	for _, p := range []string{"/a/b/c/d", "/new/x", "/a/b", "/abs/sub", "/a/plain/sub",
		"/dang/sub", "/a/../../up/x", "/chain/x", "/file/y"} {
		root, rootPath, host := lookupRoot(t)
		f, err := mkdirAllInRoot(root, p, 0o755)
		refRoot, refPath, refHost := lookupRoot(t)
		ref, rerr := pathrs.MkdirAllHandle(refRoot, p, 0o755)
		if (err == nil) != (rerr == nil) {
			t.Errorf("mkdirAllInRoot(%s) = %v; pathrs-lite: %v", p, err, rerr)
		}
		if err == nil && rerr == nil {
			got, want := strings.TrimPrefix(fdPath(t, f), rootPath), strings.TrimPrefix(fdPath(t, ref), refPath)
			if got != want || !strings.HasPrefix(fdPath(t, f), rootPath+"/") {
				t.Errorf("mkdirAllInRoot(%s) made %s; pathrs-lite %s", p, got, want)
			}
			var st unix.Stat_t
			if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
				t.Errorf("%s: handle is not a directory (%v)", p, err)
			}
			f.Close()
			ref.Close()
		}
		checkHostUntouched(t, host)
		checkHostUntouched(t, refHost)
	}
}

// TestMkdirAllInRootRace swaps a directory on the path with a symlink to
// the host directory while mkdirAllInRoot runs: whatever it makes stays in
// the root.
func TestMkdirAllInRootRace(t *testing.T) {
	root, rootPath, host := lookupRoot(t)
	race, link := filepath.Join(rootPath, "race"), filepath.Join(rootPath, "racelink")
	if err := os.Mkdir(race, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, link); err != nil {
		t.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				done <- n
				return
			default:
			}
			if unix.Renameat2(unix.AT_FDCWD, race, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE) == nil {
				n++
			}
		}
	}()
	for i := 0; i < 300; i++ {
		f, err := mkdirAllInRoot(root, fmt.Sprintf("/race/d%d/e", i), 0o755)
		if err != nil {
			continue
		}
		if real := fdPath(t, f); !strings.HasPrefix(real, rootPath+"/") {
			t.Errorf("made outside the root: %s", real)
		}
		f.Close()
	}
	close(stop)
	t.Logf("%d swaps", <-done)
	checkHostUntouched(t, host)
}

// TestProcLinks reads descriptor paths as pathrs-lite does, from the
// private procfs and from the fallback alike.
func TestProcLinks(t *testing.T) {
	root, rootPath, _ := lookupRoot(t)
	sub, err := openInRoot(root, "/a/b")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	links := openProcLinks()
	defer links.Close()
	t.Logf("private procfs: %v", links.fd >= 0)
	for _, l := range []*procLinks{links, {fd: -1}} {
		for f, want := range map[*os.File]string{root: rootPath, sub: rootPath + "/a/b"} {
			got, err := l.readlink(f)
			if err != nil || got != want {
				t.Errorf("readlink (private %v) = %q, %v; want %q", l.fd >= 0, got, err, want)
			}
			if ref, err := procfs.ProcSelfFdReadlink(f); err != nil || ref != got {
				t.Errorf("pathrs-lite reads %q, %v; procLinks %q", ref, err, got)
			}
		}
	}
}

func checkHostUntouched(t *testing.T, host string) {
	t.Helper()
	entries, err := os.ReadDir(host)
	if err != nil || len(entries) != 1 || entries[0].Name() != hostMarkerFile {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("host directory changed: %v %v", names, err)
	}
}

func fdPath(t *testing.T, f *os.File) string {
	t.Helper()
	p, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func sameFile(t *testing.T, a, b *os.File) bool {
	t.Helper()
	var sa, sb unix.Stat_t
	if unix.Fstat(int(a.Fd()), &sa) != nil || unix.Fstat(int(b.Fd()), &sb) != nil {
		t.Fatal("fstat failed")
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// errnoOf digs the errno out of an error, for comparing two of them.
func errnoOf(err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}
