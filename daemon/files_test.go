package daemon

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
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/api"
	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
	cimage "github.com/corral-dev/corral/image"
	"github.com/corral-dev/corral/snapshot"
	"github.com/corral-dev/corral/testutil"
)

// filesRoot is a container root: a user of its own in /etc/passwd, and a
// host directory beside it with a passwd of its own that must never be
// read.
func filesRoot(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{"etc", "home/app", "data"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "etc/passwd"), "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n")
	write(filepath.Join(root, "etc/group"), "root:x:0:\napp:x:1001:\nstaff:x:50:\n")
	write(filepath.Join(outside, "passwd"), "evil:x:4242:4242::/:/bin/sh\n")
	return root, outside
}

func oneFileTar(t *testing.T, name, body string) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Uid: 77, Gid: 78}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write([]byte(body))
	_ = tw.Close()
	return &buf
}

func ownerOf(t *testing.T, p string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", st.Uid, st.Gid)
}

func TestExtractToDirOwners(t *testing.T) {
	testutil.RequireRoot(t)
	root, _ := filesRoot(t)
	ctx := context.Background()
	tests := []struct {
		user string
		copy bool
		want string
	}{
		{"", false, "77:78"},       // the tar's owners, as docker keeps them
		{"app", false, "77:78"},    // without -a too
		{"", true, "77:78"},        // -a without a container user
		{"app", true, "1000:1001"}, // -a: the container user, from its passwd
		{"app:staff", true, "1000:50"},
		{"4000", true, "4000:0"},
	}
	for i, tc := range tests {
		name := fmt.Sprintf("f%d", i)
		opts := api.ArchiveExtractOptions{CopyUIDGID: tc.copy, NoOverwriteDirNonDir: true}
		if err := extractToDir(ctx, root, "/data", tc.user, opts, oneFileTar(t, name, "x")); err != nil {
			t.Errorf("user %q copy %v: %v", tc.user, tc.copy, err)
			continue
		}
		if got := ownerOf(t, filepath.Join(root, "data", name)); got != tc.want {
			t.Errorf("user %q copy %v: owner %s, want %s", tc.user, tc.copy, got, tc.want)
		}
	}
	err := extractToDir(ctx, root, "/data", "nobody", api.ArchiveExtractOptions{CopyUIDGID: true}, oneFileTar(t, "g", "x"))
	if !errdefs.IsInvalidArgument(err) {
		t.Errorf("an unknown user: %v", err)
	}
}

// TestExtractToDirPlantedPasswd plants symlinks to a host passwd: the user
// is looked up in the container's files only.
func TestExtractToDirPlantedPasswd(t *testing.T) {
	testutil.RequireRoot(t)
	root, outside := filesRoot(t)
	for _, target := range []string{filepath.Join(outside, "passwd"), "../../outside/passwd"} {
		p := filepath.Join(root, "etc/passwd")
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		err := extractToDir(context.Background(), root, "/data", "evil", api.ArchiveExtractOptions{CopyUIDGID: true},
			oneFileTar(t, "h", "x"))
		if err == nil {
			t.Errorf("passwd -> %s: the host's user was found (owner %s)", target, ownerOf(t, filepath.Join(root, "data/h")))
		} else if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "unable to find user evil") {
			t.Errorf("passwd -> %s: %v, want the user not found", target, err)
		}
	}
}

func TestStatAndArchivePath(t *testing.T) {
	root, outside := filesRoot(t)
	if err := os.Symlink(outside, filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	st, err := statPath(root, "/etc/passwd")
	if err != nil || st.Name != "passwd" || !st.Mode.IsRegular() {
		t.Errorf("statPath = %+v, %v", st, err)
	}
	if st, err := statPath(root, "/escape"); err != nil || st.LinkTarget != outside {
		t.Errorf("statPath of a link = %+v, %v (its target is a path of the container)", st, err)
	}
	_, err = statPath(root, "/escape/passwd")
	if err = fileError(err, "web", "/escape/passwd"); !errdefs.IsNotFound(err) ||
		err.Error() != "Could not find the file /escape/passwd in container web" {
		t.Errorf("statPath through a link out: %v", err)
	}
	rc, st, err := archivePath(context.Background(), root, "/etc")
	if err != nil || !st.Mode.IsDir() {
		t.Fatalf("archivePath: %+v, %v", st, err)
	}
	defer rc.Close()
	if names := tarList(t, rc); names != "etc/ etc/group etc/passwd" {
		t.Errorf("archive of /etc: %s", names)
	}
}

func tarList(t *testing.T, r io.Reader) string {
	t.Helper()
	var names []string
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return strings.Join(names, " ")
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
	}
}

func TestExportRootfs(t *testing.T) {
	root, _ := filesRoot(t)
	rc, err := exportRootfs(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got := tarList(t, rc); got != "data/ etc/ etc/group etc/passwd home/ home/app/" {
		t.Errorf("export: %s", got)
	}
}

// TestChangesMountPoints changes a container through an overlay mount, as
// its process and runtime would: the mount points the runtime made are
// not changes, what the process wrote is.
func TestChangesMountPoints(t *testing.T) {
	testutil.RequireRoot(t)
	lower, upper, merged := t.TempDir(), t.TempDir(), t.TempDir()
	for _, d := range []string{"etc", "bin", "proc"} {
		if err := os.Mkdir(filepath.Join(lower, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + t.TempDir()
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"etc/hostname": "", "etc/resolv.conf": "", "etc/hosts": "written while stopped",
		"etc/motd": "hi", "dev/console": "", "sbin/corral-init": ""}
	for _, d := range []string{"dev/pts", "dev/shm", "sys", "sbin"} {
		if err := os.MkdirAll(filepath.Join(merged, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, body := range files {
		if err := os.WriteFile(filepath.Join(merged, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Unmount(merged, 0); err != nil {
		t.Fatal(err)
	}
	cs, err := changes(context.Background(), upper, []string{lower})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, c.Kind.String()+" "+c.Path)
	}
	if want := "C /etc A /etc/hosts A /etc/motd"; strings.Join(got, " ") != want {
		t.Errorf("changes: %v, want %s", got, want)
	}
}

func TestCommitOptions(t *testing.T) {
	upper, lower := t.TempDir(), t.TempDir()
	c := &ccontainer.Container{ID: "c0ffee", ImageID: "sha256:" + strings.Repeat("a", 64), Config: &container.Config{
		User: "app", Cmd: []string{"sh"}, Env: []string{"A=1", "PATH=/bin"}, Labels: map[string]string{"l": "1"},
		ExposedPorts: network.PortSet{network.MustParsePort("80/tcp"): {}}, WorkingDir: "/w", Image: "busybox"}}
	o, err := commitOptions(api.ContainerCommitOptions{Container: "web", Repo: "r", Tag: "t", Author: "me",
		Changes: []string{"ENV A=2 B=3", `LABEL m=2`}}, c, upper, []string{lower})
	if err != nil {
		t.Fatal(err)
	}
	cfg := o.Config
	if o.Ref != "r:t" || o.Parent != c.ImageID || o.ContainerID != "c0ffee" || o.Author != "me" ||
		strings.Join(cfg.Env, " ") != "A=2 PATH=/bin B=3" || strings.Join(cfg.Cmd, " ") != "sh" ||
		cfg.User != "app" || cfg.WorkingDir != "/w" || len(cfg.Labels) != 2 || len(cfg.ExposedPorts) != 1 {
		t.Errorf("commit options: %+v", o)
	}
	if strings.Join(c.Config.Env, " ") != "A=1 PATH=/bin" || strings.Join(o.ContainerConfig.Env, " ") != "A=1 PATH=/bin" {
		t.Errorf("the container's config changed: %v, %v", c.Config.Env, o.ContainerConfig.Env)
	}
	// A config in the request replaces the container's; an entrypoint
	// keeps the container's command out.
	o, err = commitOptions(api.ContainerCommitOptions{Config: &container.Config{Env: []string{"C=4"}},
		Changes: []string{`ENTRYPOINT ["/x"]`}}, c, upper, []string{lower})
	if err != nil || o.Ref != "" || o.Config.Cmd != nil || strings.Join(o.Config.Entrypoint, " ") != "/x" ||
		strings.Join(o.Config.Env, " ") != "C=4 A=1 PATH=/bin" {
		t.Errorf("commit options with a config: %+v, %v", o.Config, err)
	}
	if _, err := commitOptions(api.ContainerCommitOptions{Changes: []string{"RUN x"}}, c, upper, []string{lower}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("an unknown change: %v", err)
	}
}

func TestSnapshotLayers(t *testing.T) {
	upper, lowers, err := snapshotLayers([]snapshot.Mount{{Type: "overlay", Source: "overlay",
		Options: []string{"index=off", "lowerdir=/l/2:/l/1", "upperdir=/u", "workdir=/w"}}})
	if err != nil || upper != "/u" || strings.Join(lowers, " ") != "/l/2 /l/1" {
		t.Errorf("snapshotLayers = %q %q %v", upper, lowers, err)
	}
	upper, lowers, err = snapshotLayers([]snapshot.Mount{{Type: "bind", Source: "/only", Options: []string{"rbind", "rw"}}})
	if err != nil || upper != "/only" || lowers != nil {
		t.Errorf("snapshotLayers of a bind mount = %q %q %v", upper, lowers, err)
	}
}

// TestCommitFlow is what the container service does for diff and commit:
// a container's snapshot over an image, changed through its mount, then
// changes and commitOptions on its layers and the store's Commit.
func TestCommitFlow(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	store, err := cimage.Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var base bytes.Buffer
	tw := tar.NewWriter(&base)
	_ = tw.WriteHeader(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755})
	_ = tw.WriteHeader(&tar.Header{Name: "etc/passwd", Mode: 0o644, Size: 5})
	_, _ = tw.Write([]byte("root\n"))
	_ = tw.Close()
	img, err := store.Import(ctx, &base, cimage.ImportOptions{Ref: "base:1"})
	if err != nil {
		t.Fatal(err)
	}
	in, _ := store.Inspect(ctx, "base:1")
	key := "container-" + testutil.UniqueName(t)
	mounts, err := store.Snapshotter().Prepare(ctx, key, in.RootFS.Layers[0])
	if err != nil {
		t.Fatal(err)
	}
	defer store.Snapshotter().Remove(ctx, key)
	rootfs := t.TempDir()
	if err := snapshot.MountAll(mounts, rootfs); err != nil {
		t.Fatal(err)
	}
	for p, body := range map[string]string{"etc/hostname": "", "etc/motd": "hello"} {
		if err := os.WriteFile(filepath.Join(rootfs, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := snapshot.UnmountAll(rootfs); err != nil {
		t.Fatal(err)
	}
	upper, lowers, err := snapshotLayers(mounts)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := changes(ctx, upper, lowers)
	if err != nil || fmt.Sprint(cs) != "[{C /etc} {A /etc/motd}]" {
		t.Errorf("changes = %v, %v", cs, err)
	}
	c := &ccontainer.Container{ID: "c0ffee", ImageID: img.ID.String(), Config: &container.Config{Cmd: []string{"sh"}}}
	opts, err := commitOptions(api.ContainerCommitOptions{Repo: "docker.io/library/new", Tag: "1", Comment: "m"}, c, upper, lowers)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Commit(ctx, opts); err != nil {
		t.Fatal(err)
	}
	out, err := store.Inspect(ctx, "new:1")
	if err != nil || len(out.RootFS.Layers) != 2 || strings.Join(out.Config.Cmd, " ") != "sh" || out.Parent != img.ID.String() {
		t.Errorf("committed image: %+v, %v", out, err)
	}
	// The new layer has motd, not the mount point.
	view := "view-" + testutil.UniqueName(t)
	vm, err := store.Snapshotter().View(ctx, view, cimage.ChainIDs([]digest.Digest{digest.Digest(out.RootFS.Layers[0]),
		digest.Digest(out.RootFS.Layers[1])})[1].String())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Snapshotter().Remove(ctx, view)
	if err := snapshot.MountAll(vm, rootfs); err != nil {
		t.Fatal(err)
	}
	defer snapshot.UnmountAll(rootfs)
	if _, err := os.Stat(filepath.Join(rootfs, "etc/hostname")); !os.IsNotExist(err) {
		t.Errorf("the mount point was committed: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(rootfs, "etc/motd")); err != nil || string(b) != "hello" {
		t.Errorf("etc/motd = %q, %v", b, err)
	}
}
