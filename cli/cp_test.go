package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/creack/pty"
	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/archive"
	"github.com/corral-dev/corral/errdefs"
)

// filesEngine is an engine with one container, "web", whose root
// filesystem is the directory root: its copy calls are what the daemon
// does (archive's functions on that directory); diff, export and commit
// answer fixed results. It records the calls.
type filesEngine struct {
	*fakeAPI
	root string

	mu    sync.Mutex
	calls []string
}

func newFilesEngine(t *testing.T) *filesEngine {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"etc", "usr/lib", "data/sub"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, body := range map[string]string{"etc/passwd": "root:x:0:0::/root:/bin/sh\n", "usr/lib/libc.so": "elf",
		"data/a": "a", "data/sub/b": "b"} {
		if err := os.WriteFile(filepath.Join(root, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/usr/lib", filepath.Join(root, "lib")); err != nil {
		t.Fatal(err)
	}
	return &filesEngine{fakeAPI: newFakeAPI(), root: root}
}

func (e *filesEngine) note(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, fmt.Sprintf(format, args...))
}

func (e *filesEngine) check(name string, err error) error {
	if name != "web" {
		return errdefs.NotFound(errors.New("Error response from daemon: No such container: " + name))
	}
	if errors.Is(err, os.ErrNotExist) {
		return errdefs.NotFound(errors.New("Error response from daemon: Could not find the file in container"))
	}
	return err
}

func (e *filesEngine) ContainerStatPath(_ context.Context, name, p string) (container.PathStat, error) {
	e.note("stat %s", p)
	st, err := archive.StatPath(e.root, p)
	return container.PathStat{Name: st.Name, Size: st.Size, Mode: st.Mode, Mtime: st.ModTime, LinkTarget: st.LinkTarget},
		e.check(name, err)
}

func (e *filesEngine) CopyFromContainer(ctx context.Context, name, p string) (io.ReadCloser, container.PathStat, error) {
	e.note("get %s", p)
	if err := e.check(name, nil); err != nil {
		return nil, container.PathStat{}, err
	}
	rc, st, err := archive.ArchivePath(ctx, e.root, p)
	return rc, container.PathStat{Name: st.Name, Size: st.Size, Mode: st.Mode, Mtime: st.ModTime, LinkTarget: st.LinkTarget},
		e.check(name, err)
}

func (e *filesEngine) CopyToContainer(ctx context.Context, name, p string, r io.Reader, opts api.ArchiveExtractOptions) error {
	e.note("put %s %+v", p, opts)
	if err := e.check(name, nil); err != nil {
		return err
	}
	return e.check(name, archive.Extract(ctx, e.root, p, r, archive.ExtractOptions{NoOverwriteDirNonDir: opts.NoOverwriteDirNonDir, NoLchown: true}))
}

func (e *filesEngine) ContainerDiff(_ context.Context, name string) ([]container.FilesystemChange, error) {
	e.note("diff %s", name)
	return []container.FilesystemChange{{Kind: container.ChangeModify, Path: "/etc"},
		{Kind: container.ChangeAdd, Path: "/etc/x"}, {Kind: container.ChangeDelete, Path: "/y"}}, e.check(name, nil)
}

func (e *filesEngine) ContainerExport(_ context.Context, name string) (io.ReadCloser, error) {
	e.note("export %s", name)
	return io.NopCloser(strings.NewReader("ROOTFS TAR")), e.check(name, nil)
}

func (e *filesEngine) ContainerCommit(_ context.Context, name string, o api.ContainerCommitOptions) (container.CommitResponse, error) {
	e.note("commit %s ref=%s author=%s comment=%s changes=%q pause=%v", name, o.Repo, o.Author, o.Comment, o.Changes, o.Pause)
	return container.CommitResponse{ID: "sha256:" + strings.Repeat("ab", 32)}, e.check(name, nil)
}

func (e *filesEngine) lastCall() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.calls) == 0 {
		return ""
	}
	return e.calls[len(e.calls)-1]
}

// runFiles runs the command line against e with stdin in and stdout out
// (a buffer when nil), in the directory dir; it answers stdout (when a
// buffer), stderr and the exit code.
func runFiles(t *testing.T, e *filesEngine, in io.Reader, out io.Writer, dir string, args ...string) (string, string, int) {
	t.Helper()
	if dir != "" {
		t.Chdir(dir)
	}
	var outb, errb bytes.Buffer
	if out == nil {
		out = &outb
	}
	if in == nil {
		in = strings.NewReader("")
	}
	code := Main(args, Options{Connect: func(context.Context, Globals) (ImageAPI, error) { return e, nil },
		In: in, Out: out, Err: &errb})
	return outb.String(), errb.String(), code
}

func TestCpFromContainer(t *testing.T) {
	e := newFilesEngine(t)
	host := t.TempDir()
	tests := []struct {
		args []string
		want map[string]string // host files and their content
	}{
		{[]string{"cp", "web:/etc/passwd", "."}, map[string]string{"passwd": "root:x:0:0::/root:/bin/sh\n"}},
		{[]string{"cp", "web:/etc/passwd", "pw"}, map[string]string{"pw": "root:x:0:0::/root:/bin/sh\n"}},
		{[]string{"container", "cp", "web:/data", "d1"}, map[string]string{"d1/a": "a", "d1/sub/b": "b"}},
		{[]string{"cp", "web:/data/.", "./"}, map[string]string{"a": "a", "sub/b": "b"}},
		{[]string{"cp", "web:/lib", "link"}, map[string]string{"link": "-> /usr/lib"}},
		{[]string{"cp", "-L", "web:/lib", "followed"}, map[string]string{"followed/libc.so": "elf"}},
	}
	for _, tc := range tests {
		out, errOut, code := runFiles(t, e, nil, nil, host, tc.args...)
		if code != 0 || out != "" || errOut != "" {
			t.Errorf("%v: exit %d, out %q, err %q", tc.args, code, out, errOut)
			continue
		}
		for p, want := range tc.want {
			if got := hostContent(t, filepath.Join(host, p)); got != want {
				t.Errorf("%v: %s = %q, want %q", tc.args, p, got, want)
			}
		}
	}
}

// hostContent is a file's content, or "-> target" for a symlink.
func hostContent(t *testing.T, p string) string {
	t.Helper()
	if target, err := os.Readlink(p); err == nil {
		return "-> " + target
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func TestCpToStdout(t *testing.T) {
	e := newFilesEngine(t)
	out, errOut, code := runFiles(t, e, nil, nil, "", "cp", "web:/data", "-")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, err %q", code, errOut)
	}
	var names []string
	tr := tar.NewReader(strings.NewReader(out))
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, hdr.Name)
	}
	if got := strings.Join(names, " "); got != "data/ data/a data/sub/ data/sub/b" {
		t.Errorf("tar on stdout: %s", got)
	}
}

func TestCpToContainer(t *testing.T) {
	e := newFilesEngine(t)
	host := t.TempDir()
	if err := os.MkdirAll(filepath.Join(host, "dir/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for p, body := range map[string]string{"file": "F", "dir/sub/x": "X", "odd:name": "O"} {
		if err := os.WriteFile(filepath.Join(host, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		args []string
		want map[string]string // container files
		call string
	}{
		{[]string{"cp", "file", "web:/data"}, map[string]string{"data/file": "F"}, "put /data {NoOverwriteDirNonDir:true CopyUIDGID:false}"},
		{[]string{"cp", "-a", "file", "web:/data/renamed"}, map[string]string{"data/renamed": "F"}, "put /data {NoOverwriteDirNonDir:true CopyUIDGID:true}"},
		{[]string{"cp", "dir", "web:/data/"}, map[string]string{"data/dir/sub/x": "X"}, ""},
		{[]string{"cp", "dir/.", "web:/newdir"}, map[string]string{"newdir/sub/x": "X"}, "put / {NoOverwriteDirNonDir:true CopyUIDGID:false}"},
		{[]string{"cp", "file", "web:/lib"}, map[string]string{"usr/lib/file": "F"}, "put /usr/lib {NoOverwriteDirNonDir:true CopyUIDGID:false}"},
		{[]string{"cp", "./odd:name", "web:/data"}, map[string]string{"data/odd:name": "O"}, ""},
	}
	for _, tc := range tests {
		out, errOut, code := runFiles(t, e, nil, nil, host, tc.args...)
		if code != 0 || out != "" || errOut != "" {
			t.Errorf("%v: exit %d, out %q, err %q", tc.args, code, out, errOut)
			continue
		}
		if tc.call != "" && e.lastCall() != tc.call {
			t.Errorf("%v: last call %q, want %q", tc.args, e.lastCall(), tc.call)
		}
		for p, want := range tc.want {
			if got := hostContent(t, filepath.Join(e.root, p)); got != want {
				t.Errorf("%v: %s = %q, want %q", tc.args, p, got, want)
			}
		}
	}
}

func TestCpFromStdin(t *testing.T) {
	e := newFilesEngine(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "in", Mode: 0o644, Size: 2})
	_, _ = tw.Write([]byte("hi"))
	_ = tw.Close()
	_, errOut, code := runFiles(t, e, &buf, nil, "", "cp", "-", "web:/data")
	if code != 0 || errOut != "" || hostContent(t, filepath.Join(e.root, "data/in")) != "hi" {
		t.Errorf("cp - web:/data: exit %d, err %q", code, errOut)
	}
	_, errOut, code = runFiles(t, e, strings.NewReader(""), nil, "", "cp", "-", "web:/data/a")
	if code != 1 || errOut != "destination \"web:/data/a\" must be a directory\n" {
		t.Errorf("cp - to a file: exit %d, err %q", code, errOut)
	}
}

func TestCpErrors(t *testing.T) {
	e := newFilesEngine(t)
	host := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"cp", "a", "b"}, "must specify at least one container source\n"},
		{[]string{"cp", "web:/a", "other:/b"}, "copying between containers is not supported\n"},
		{[]string{"cp", "", "web:/b"}, "source can not be empty\n"},
		{[]string{"cp", "web:/etc", "web:/b", "c"}, "corral: 'corral cp' requires 2 arguments\n\nUsage:  corral cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tcorral cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH\n\nRun 'corral cp --help' for more information\n"},
		{[]string{"cp", "web:/etc", "nodir/x"}, fmt.Sprintf("invalid output path: directory %q does not exist\n", filepath.Join(host, "nodir"))},
		{[]string{"cp", "web:/etc/passwd", "newdir/"}, "no such directory\n"},
		{[]string{"cp", "web:/etc", "file"}, "cannot copy directory\n"},
		{[]string{"cp", "web:/nope", "."}, "Error response from daemon: Could not find the file in container\n"},
		{[]string{"cp", "nosuch:/etc", "."}, "Error response from daemon: No such container: nosuch\n"},
	}
	if err := os.WriteFile(filepath.Join(host, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		_, errOut, code := runFiles(t, e, nil, nil, host, tc.args...)
		if code != 1 || errOut != tc.want {
			t.Errorf("%q: exit %d, err %q, want %q", tc.args, code, errOut, tc.want)
		}
	}
}

// TestCpOnTerminal copies with stdout on a terminal: the summary line is
// printed on stderr (stderr is no terminal: no progress line).
func TestCpOnTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	e := newFilesEngine(t)
	host := t.TempDir()
	_, errOut, code := runFiles(t, e, nil, tty, host, "cp", "web:/etc/passwd", "pw")
	if want := "Successfully copied 2.05kB to " + filepath.Join(host, "pw") + "\n"; code != 0 || errOut != want {
		t.Errorf("cp from a container: exit %d, err %q, want %q", code, errOut, want)
	}
	_, errOut, code = runFiles(t, e, nil, tty, host, "cp", "pw", "web:/data/")
	if want := "Successfully copied 2.05kB to web:/data/\n"; code != 0 || errOut != want {
		t.Errorf("cp to a container: exit %d, err %q, want %q", code, errOut, want)
	}
	_, errOut, code = runFiles(t, e, nil, tty, host, "cp", "-q", "pw", "web:/data/")
	if code != 0 || errOut != "" {
		t.Errorf("cp -q: exit %d, err %q", code, errOut)
	}
	// -q=false asks for the summary off a terminal too.
	_, errOut, code = runFiles(t, e, nil, nil, host, "cp", "-q=false", "web:/etc/passwd", "pw2")
	if !strings.HasPrefix(errOut, "Successfully copied 2.05kB to ") || code != 0 {
		t.Errorf("cp -q=false: exit %d, err %q", code, errOut)
	}
}
