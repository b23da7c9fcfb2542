package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/apiserver"
	"github.com/corral-dev/corral/errdefs"
)

// filesFake is the ContainerFiles backend, and the ContainerChanges and
// ContainerCommit calls (the other methods of those backends are not
// called). The container "nope" does not exist; a path "/nope" neither.
type filesFake struct {
	apiserver.ContainerViews
	apiserver.ContainerAdmin
	mu   sync.Mutex
	last string
}

var fakeStat = container.PathStat{Name: "hostname", Size: 5, Mode: 0o644 | os.ModeSymlink,
	Mtime: time.Unix(1700000000, 0).UTC(), LinkTarget: "/etc/real"}

func (f *filesFake) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last = fmt.Sprintf(format, args...)
}

func (f *filesFake) check(name, path string) error {
	if name == "nope" {
		return errdefs.NotFound(errors.New("No such container: nope"))
	}
	if path == "/nope" {
		return errdefs.NotFound(errors.New("Could not find the file /nope in container " + name))
	}
	return nil
}

func (f *filesFake) ContainerStatPath(_ context.Context, name, path string) (container.PathStat, error) {
	f.record("stat %s %s", name, path)
	return fakeStat, f.check(name, path)
}

func (f *filesFake) ContainerArchivePath(_ context.Context, name, path string) (io.ReadCloser, container.PathStat, error) {
	f.record("archive %s %s", name, path)
	if err := f.check(name, path); err != nil {
		return nil, container.PathStat{}, err
	}
	return io.NopCloser(strings.NewReader("TAR")), fakeStat, nil
}

func (f *filesFake) ContainerExtractToDir(_ context.Context, name, path string, opts api.ArchiveExtractOptions, r io.Reader) error {
	b, _ := io.ReadAll(r)
	f.record("extract %s %s %+v %s", name, path, opts, b)
	return f.check(name, path)
}

func (f *filesFake) ContainerExport(_ context.Context, name string) (io.ReadCloser, error) {
	f.record("export %s", name)
	return io.NopCloser(strings.NewReader("ROOTFS")), f.check(name, "")
}

func (f *filesFake) ContainerChanges(_ context.Context, name string) ([]container.FilesystemChange, error) {
	f.record("changes %s", name)
	return []container.FilesystemChange{{Kind: container.ChangeModify, Path: "/etc"}, {Kind: container.ChangeAdd, Path: "/etc/x"}}, f.check(name, "")
}

func (f *filesFake) ContainerCommit(_ context.Context, o api.ContainerCommitOptions) (string, error) {
	cfg := "nil"
	if o.Config != nil {
		cfg = strings.Join(o.Config.Cmd, ",")
	}
	f.record("commit %s repo=%s tag=%s author=%s comment=%s pause=%v changes=%q config=%s",
		o.Container, o.Repo, o.Tag, o.Author, o.Comment, o.Pause, o.Changes, cfg)
	return "sha256:abc", f.check(o.Container, "")
}

func (f *filesFake) lastCall() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func serveFiles(t *testing.T) (*Client, *filesFake) {
	f := &filesFake{}
	return serveHandler(t, apiserver.New(apiserver.Config{ContainerFiles: f, ContainerViews: f, ContainerAdmin: f})), f
}

func TestContainerFileCalls(t *testing.T) {
	t.Parallel()
	c, f := serveFiles(t)
	ctx := context.Background()
	st, err := c.ContainerStatPath(ctx, " web ", "/etc/hostname")
	if err != nil || st != fakeStat || f.lastCall() != "stat web /etc/hostname" {
		t.Errorf("ContainerStatPath = %+v, %v (%s)", st, err, f.lastCall())
	}
	rc, st, err := c.CopyFromContainer(ctx, "web", "/etc/")
	if err != nil || st != fakeStat {
		t.Fatalf("CopyFromContainer = %+v, %v", st, err)
	}
	if b, _ := io.ReadAll(rc); string(b) != "TAR" || f.lastCall() != "archive web /etc/" {
		t.Errorf("CopyFromContainer body %q (%s)", b, f.lastCall())
	}
	rc.Close()
	err = c.CopyToContainer(ctx, "web", "/tmp", strings.NewReader("IN"), api.ArchiveExtractOptions{NoOverwriteDirNonDir: true})
	if want := "extract web /tmp {NoOverwriteDirNonDir:true CopyUIDGID:false} IN"; err != nil || f.lastCall() != want {
		t.Errorf("CopyToContainer: %v (%s)", err, f.lastCall())
	}
	rc, err = c.ContainerExport(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(rc); string(b) != "ROOTFS" {
		t.Errorf("ContainerExport body %q", b)
	}
	rc.Close()
	changes, err := c.ContainerDiff(ctx, "web")
	if err != nil || len(changes) != 2 || changes[1].Kind != container.ChangeAdd || changes[1].Path != "/etc/x" {
		t.Errorf("ContainerDiff = %v, %v", changes, err)
	}
}

func TestContainerFileErrors(t *testing.T) {
	t.Parallel()
	c, _ := serveFiles(t)
	ctx := context.Background()
	if _, err := c.ContainerStatPath(ctx, "web", "/nope"); !errdefs.IsNotFound(err) {
		t.Errorf("stat of a missing path: %v", err)
	}
	_, _, err := c.CopyFromContainer(ctx, "web", "/nope")
	if !errdefs.IsNotFound(err) || err.Error() != "Error response from daemon: Could not find the file /nope in container web" {
		t.Errorf("archive of a missing path: %v", err)
	}
	if _, err := c.ContainerDiff(ctx, "nope"); !errdefs.IsNotFound(err) {
		t.Errorf("diff of a missing container: %v", err)
	}
	if _, err := c.ContainerExport(ctx, " "); !errdefs.IsInvalidArgument(err) {
		t.Errorf("export without a name: %v", err)
	}
}

func TestContainerCommit(t *testing.T) {
	t.Parallel()
	c, f := serveFiles(t)
	ctx := context.Background()
	tests := []struct {
		opts api.ContainerCommitOptions
		want string
	}{
		{api.ContainerCommitOptions{Pause: true}, `commit web repo= tag= author= comment= pause=true changes=[] config=nil`},
		{api.ContainerCommitOptions{Repo: "me/app", Author: "a", Comment: "c", Changes: []string{"CMD x", "ENV A=1"}},
			`commit web repo=docker.io/me/app tag=latest author=a comment=c pause=false changes=["CMD x" "ENV A=1"] config=nil`},
		{api.ContainerCommitOptions{Repo: "localhost:5000/x:v2", Pause: true, Config: &container.Config{Cmd: []string{"sh"}}},
			`commit web repo=localhost:5000/x tag=v2 author= comment= pause=true changes=[] config=sh`},
		{api.ContainerCommitOptions{Repo: "x", Tag: "t", Pause: true}, `commit web repo=docker.io/library/x tag=t author= comment= pause=true changes=[] config=nil`},
	}
	for _, tc := range tests {
		resp, err := c.ContainerCommit(ctx, "web", tc.opts)
		if err != nil || resp.ID != "sha256:abc" || f.lastCall() != tc.want {
			t.Errorf("ContainerCommit(%+v) = %v, %v\n got %s\nwant %s", tc.opts, resp, err, f.lastCall(), tc.want)
		}
	}
	for _, repo := range []string{"UPPER", "x@sha256:" + strings.Repeat("a", 64)} {
		if _, err := c.ContainerCommit(ctx, "web", api.ContainerCommitOptions{Repo: repo}); !errdefs.IsInvalidArgument(err) {
			t.Errorf("commit as %s: %v", repo, err)
		}
	}
}
