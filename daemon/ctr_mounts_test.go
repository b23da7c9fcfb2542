package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"

	"github.com/corral-dev/corral/api"
)

// Mounts resolve by dockerd's precedence: -v binds replace anonymous
// volumes and --volumes-from at their destination, --tmpfs replaces an
// anonymous volume, and each named volume is referenced by the container
// until it is removed.
func TestResolveMountsPrecedence(t *testing.T) {
	e := newCtrEnv(t)
	host := t.TempDir()
	src := e.create("src", func(_ *container.Config, hc *container.HostConfig) {
		hc.Binds = []string{"shared:/shared", host + ":/hostdir:ro"}
	}, "true")
	id := e.create("user", func(cfg *container.Config, hc *container.HostConfig) {
		cfg.Volumes = map[string]struct{}{"/anon": {}, "/hostdir": {}, "/t": {}}
		hc.VolumesFrom = []string{"src:rw"}
		hc.Binds = []string{"named:/anon:ro"}
		hc.Tmpfs = map[string]string{"/t": "size=1m"}
		hc.Mounts = []mount.Mount{{Type: mount.TypeTmpfs, Target: "/m"}}
	}, "true")
	c := e.inspect(id)
	got := map[string]container.MountPoint{}
	for _, m := range c.Mounts {
		got[m.Destination] = m
	}
	want := map[string]string{"/anon": "volume named ro", "/hostdir": "bind " + host + " ro", "/shared": "volume shared rw", "/m": "tmpfs  rw"}
	if len(got) != len(want) {
		t.Fatalf("mounts %+v", c.Mounts)
	}
	for dest, w := range want {
		m := got[dest]
		name := m.Name
		if m.Type == mount.TypeBind {
			name = m.Source
		}
		rw := map[bool]string{true: "rw", false: "ro"}[m.RW]
		if s := string(m.Type) + " " + name + " " + rw; s != w {
			t.Errorf("%s: %q, want %q", dest, s, w)
		}
	}
	if users := e.s.vols.store.Users("shared"); len(users) != 2 {
		t.Fatalf("users of shared: %v", users)
	}
	if err := e.s.ContainerRemove(context.Background(), src, api.ContainerRemoveOptions{RemoveVolumes: true}); err != nil {
		t.Fatal(err)
	}
	if users := e.s.vols.store.Users("shared"); len(users) != 1 || users[0] != id {
		t.Fatalf("users of shared after rm: %v", users)
	}
}

// A create that fails after its volumes were made removes them, and leaves
// no container, no reference and no snapshot.
func TestResolveMountsRollback(t *testing.T) {
	e := newCtrEnv(t)
	// The name is taken: the volumes are made, then the record refused.
	taken := e.create("taken", nil, "true")
	_, err := e.s.ContainerCreate(context.Background(), api.ContainerCreateOptions{Name: "taken",
		Config:     &container.Config{Image: "busybox", Cmd: []string{"true"}, Volumes: map[string]struct{}{"/anon": {}}},
		HostConfig: &container.HostConfig{NetworkMode: "none", Binds: []string{"made0:/a"}}})
	if err == nil || len(e.s.vols.store.List()) != 0 || len(e.s.store.All()) != 1 {
		t.Fatalf("create under a taken name: %v, volumes %d", err, len(e.s.vols.store.List()))
	}
	if err := e.s.ContainerRemove(context.Background(), taken, api.ContainerRemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, hc := range []*container.HostConfig{
		{Binds: []string{"made1:/a", "made2:/b", "bad$:/c"}},
		{Binds: []string{"made1:/a"}, Mounts: []mount.Mount{{Type: mount.TypeBind, Source: t.TempDir() + "/no", Target: "/b"}}},
		{Binds: []string{"made1:/a"}, VolumesFrom: []string{"nosuch"}},
		{Binds: []string{"made1:/a", "made2:/a"}},
		{Binds: []string{"made1:/a"}, Tmpfs: map[string]string{"/a": ""}},
	} {
		hc.NetworkMode = "none"
		_, err := e.s.ContainerCreate(context.Background(), api.ContainerCreateOptions{
			Config: &container.Config{Image: "busybox", Cmd: []string{"true"}}, HostConfig: hc})
		if err == nil {
			t.Fatalf("%+v: created", hc)
		}
		if n := len(e.s.vols.store.List()); n != 0 {
			t.Fatalf("%+v (%v): %d volumes left", hc, err, n)
		}
		if n := len(e.s.store.All()); n != 0 {
			t.Fatalf("%+v: %d containers left", hc, n)
		}
	}
}

// Copy-up reads the image inside the rootfs: a volume at a destination
// that is a symlink out of the image gets the rootfs's content (here
// none), never the host's.
func TestCopyUpSymlinkAttack(t *testing.T) {
	rootfs := t.TempDir()
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "secret"), []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"abs": host, "rel": strings.Repeat("../", 10) + strings.TrimPrefix(host, "/")} {
		if err := os.Symlink(target, filepath.Join(rootfs, name)); err != nil {
			t.Fatal(err)
		}
		vol := t.TempDir()
		if err := copyImageContent(context.Background(), rootfs, "/"+name, vol); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ents, _ := os.ReadDir(vol); len(ents) != 0 {
			t.Fatalf("%s: copied %v from the host", name, ents)
		}
	}
	// A real directory through a symlink inside the rootfs is copied.
	if err := os.MkdirAll(filepath.Join(rootfs, "real", "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "real", "d", "f"), []byte("in image"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/real", filepath.Join(rootfs, "inner")); err != nil {
		t.Fatal(err)
	}
	vol := t.TempDir()
	if err := copyImageContent(context.Background(), rootfs, "/inner", vol); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(vol, "d", "f")); err != nil || string(b) != "in image" {
		t.Fatalf("copy through an inner symlink: %q %v", b, err)
	}
	if st, _ := os.Stat(filepath.Join(vol, "d")); st == nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("mode of d: %v", st)
	}
}
