package oci_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestReadonlyRoot(t *testing.T) {
	t.Parallel()
	for _, ro := range []bool{true, false} {
		r := newRT(t)
		c := newCtr(t, r)
		c.spec.Root.Readonly = ro
		res := c.args("touch", "/newfile").runC(nil)
		switch {
		case ro && res.code == 0:
			t.Errorf("write to a read-only root succeeded")
		case ro:
			contains(t, "error", strings.ToLower(res.stderr), "read-only")
		case res.code != 0:
			t.Errorf("write to a writable root failed: %v", res)
		}
		_, err := os.Stat(filepath.Join(c.rootfs(), "newfile"))
		if ro == (err == nil) {
			t.Errorf("readonly %v: newfile exists on the host: %v", ro, err == nil)
		}
	}
}

// mountEntry is one line of /proc/self/mounts.
type mountEntry struct {
	source, dest, fstype string
	opts                 map[string]bool
}

func parseMounts(text string) []mountEntry {
	var out []mountEntry
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		if len(f) < 4 {
			continue
		}
		m := mountEntry{source: f[0], dest: f[1], fstype: f[2], opts: map[string]bool{}}
		for _, o := range strings.Split(f[3], ",") {
			m.opts[o] = true
		}
		out = append(out, m)
	}
	return out
}

// lastMount returns the topmost mount at dest.
func lastMount(ms []mountEntry, dest string) (mountEntry, bool) {
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].dest == dest {
			return ms[i], true
		}
	}
	return mountEntry{}, false
}

func TestMountTypes(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Mounts = append(c.spec.Mounts, specs.Mount{
		Destination: "/sized", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m", "mode=700", "nosuid"},
	})
	ms := parseMounts(c.args("cat", "/proc/self/mounts").output())
	for _, w := range []struct {
		dest, fstype string
		opts         []string
	}{
		{"/proc", "proc", []string{"rw"}},
		{"/dev", "tmpfs", []string{"nosuid"}},
		{"/dev/pts", "devpts", []string{"nosuid", "noexec"}},
		{"/dev/shm", "tmpfs", []string{"nosuid", "nodev", "noexec"}},
		{"/dev/mqueue", "mqueue", []string{"nosuid", "nodev", "noexec"}},
		{"/sys", "sysfs", []string{"ro", "nosuid", "nodev", "noexec"}},
		{"/sized", "tmpfs", []string{"size=1024k", "mode=700", "nosuid"}},
	} {
		m, ok := lastMount(ms, w.dest)
		if !ok || m.fstype != w.fstype {
			t.Errorf("no %s mount at %s: %+v", w.fstype, w.dest, m)
			continue
		}
		for _, o := range w.opts {
			if !m.opts[o] {
				t.Errorf("mount at %s lacks option %s: %v", w.dest, o, m.opts)
			}
		}
	}
	// cgroup v1 shows a cgroup mount per hierarchy below /sys/fs/cgroup;
	// cgroup v2 one cgroup2 mount at /sys/fs/cgroup.
	found := false
	for _, m := range ms {
		found = found || (m.fstype == "cgroup" && strings.HasPrefix(m.dest, "/sys/fs/cgroup/")) ||
			(m.fstype == "cgroup2" && m.dest == "/sys/fs/cgroup")
	}
	if !found {
		t.Error("no cgroup filesystem mounted at /sys/fs/cgroup")
	}
}

// bindSource makes a host directory holding a file "marker" and an
// executable script "run.sh".
func bindSource(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "src")
	must(t, os.Mkdir(dir, 0o755))
	writeFile(t, filepath.Join(dir, "marker"), "from-host\n")
	must(t, os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\necho ran\n"), 0o755))
	return dir
}

func TestBindMountOptions(t *testing.T) {
	t.Parallel()
	src := bindSource(t)
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Mounts = append(c.spec.Mounts,
		specs.Mount{Destination: "/b-rw", Type: "bind", Source: src, Options: []string{"bind", "rw"}},
		specs.Mount{Destination: "/b-ro", Type: "bind", Source: src, Options: []string{"bind", "ro"}},
		specs.Mount{Destination: "/b-noexec", Type: "bind", Source: src, Options: []string{"bind", "nosuid", "nodev", "noexec"}},
	)
	out := c.args("sh", "-c", `
cat /b-ro/marker
touch /b-ro/x 2>/dev/null && echo ro-writable
/b-rw/run.sh
/b-noexec/run.sh 2>/dev/null || echo noexec-refused
cat /proc/self/mounts`).output()
	lines := strings.SplitN(out, "\n", 4)
	if len(lines) < 4 || lines[0] != "from-host" || lines[1] != "ran" || lines[2] != "noexec-refused" {
		t.Errorf("bind mounts behaved wrong: %q", lines[:min(3, len(lines))])
	}
	ms := parseMounts(out)
	for dest, opts := range map[string][]string{
		"/b-rw": {"rw"}, "/b-ro": {"ro"}, "/b-noexec": {"nosuid", "nodev", "noexec"},
	} {
		m, ok := lastMount(ms, dest)
		for _, o := range opts {
			if !ok || !m.opts[o] {
				t.Errorf("bind mount at %s lacks %s: %v", dest, o, m.opts)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(src, "x")); err == nil {
		t.Error("a write through the ro bind reached the host")
	}
}

func TestRbind(t *testing.T) {
	t.Parallel()
	src := bindSource(t)
	sub := filepath.Join(src, "sub")
	must(t, os.Mkdir(sub, 0o755))
	must(t, unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"))
	t.Cleanup(func() { _ = unix.Unmount(sub, unix.MNT_DETACH) })
	writeFile(t, filepath.Join(sub, "inner"), "submount\n")

	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Mounts = append(c.spec.Mounts,
		specs.Mount{Destination: "/rb", Type: "bind", Source: src, Options: []string{"rbind", "ro"}},
		specs.Mount{Destination: "/b", Type: "bind", Source: src, Options: []string{"bind", "ro"}},
	)
	out := c.args("sh", "-c", "cat /rb/sub/inner; ls /b/sub | wc -l").output()
	if f := strings.Fields(out); len(f) != 2 || f[0] != "submount" || f[1] != "0" {
		t.Errorf("rbind shows %q, want the submount under rbind and not under bind", out)
	}
}

// A bind-mount destination that is a symlink in the image is resolved inside
// the rootfs: the mount lands there, and the host path the link names is
// never touched.
func TestMountDestinationSymlinkEscape(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"absolute", "relative"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			src := bindSource(t)
			victim := filepath.Join(t.TempDir(), "victim")
			must(t, os.Mkdir(victim, 0o755))
			r := newRT(t)
			c := newCtr(t, r)
			target := victim + "/sub"
			if kind == "relative" {
				target = strings.Repeat("../", 20) + strings.TrimPrefix(target, "/")
			}
			must(t, os.MkdirAll(filepath.Join(c.rootfs(), "mnt"), 0o755))
			must(t, os.Symlink(target, filepath.Join(c.rootfs(), "mnt/evil")))
			c.spec.Mounts = append(c.spec.Mounts, specs.Mount{
				Destination: "/mnt/evil", Type: "bind", Source: src, Options: []string{"bind", "rw"},
			})
			c.spec.Root.Readonly = false
			out := c.args("sh", "-c", "cat /mnt/evil/marker; touch /mnt/evil/written").output()
			if out != "from-host\n" {
				t.Errorf("through the symlink the container sees %q, want the bind mount", out)
			}
			if ents, _ := os.ReadDir(victim); len(ents) != 0 {
				t.Errorf("the host directory %s named by the symlink was touched: %v", victim, ents)
			}
			if _, err := os.Stat(filepath.Join(src, "written")); err != nil {
				t.Errorf("the write did not reach the bind source: %v", err)
			}
			if _, err := os.Stat(filepath.Join(c.rootfs(), victim, "sub")); err != nil {
				t.Errorf("the mount point was not made inside the rootfs: %v", err)
			}
		})
	}
}

func TestMountBadSource(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Mounts = append(c.spec.Mounts, specs.Mount{
		Destination: "/x", Type: "bind", Source: "/no/such/source-dir", Options: []string{"bind"},
	})
	c.args("true")
	if res := c.create(); res.code == 0 {
		t.Fatalf("create with a missing bind source succeeded: %v", res)
	}
	c.assertGone()
}

func TestRootfsPropagation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ prop, want, absent string }{
		{"shared", "shared:", ""},
		{"private", "", "shared:"},
		{"slave", "", "shared:"},
	} {
		t.Run(tc.prop, func(t *testing.T) {
			t.Parallel()
			r := newRT(t)
			c := newCtr(t, r)
			c.spec.Linux.RootfsPropagation = tc.prop
			out := c.args("cat", "/proc/self/mountinfo").output()
			root := ""
			for _, l := range strings.Split(out, "\n") {
				if f := strings.Fields(l); len(f) > 4 && f[4] == "/" {
					root = l
				}
			}
			if root == "" {
				t.Fatalf("no / in mountinfo:\n%s", out)
			}
			if tc.want != "" && !strings.Contains(root, tc.want) {
				skipIfRunc(t, "1.1.5 makes the mount holding the rootfs private before binding it, so / is never shared: %q", root)
				t.Errorf("rootfsPropagation %s: / is %q", tc.prop, root)
			}
			if tc.absent != "" && strings.Contains(root, tc.absent) {
				t.Errorf("rootfsPropagation %s: / is %q", tc.prop, root)
			}
		})
	}
}

func TestNoPivot(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	writeFile(t, filepath.Join(c.rootfs(), "marker"), "in-rootfs\n")
	res := c.args("sh", "-c", "cat /marker; ls /").runC(nil, "--no-pivot")
	if res.code != 0 || !strings.HasPrefix(res.stdout, "in-rootfs\n") {
		t.Fatalf("run --no-pivot: %v", res)
	}
	if strings.Contains(res.stdout, "work\n") {
		t.Errorf("with --no-pivot the root is not the rootfs: %q", res.stdout)
	}
}

// An image whose /proc is a symlink must not get procfs (and the masks that
// go with it) somewhere else: the runtime refuses, or resolves the link
// inside the rootfs, and never touches the host path the link names.
func TestProcSymlinkInImage(t *testing.T) {
	t.Parallel()
	victim := filepath.Join(t.TempDir(), "victim")
	must(t, os.Mkdir(victim, 0o755))
	r := newRT(t)
	c := newCtr(t, r)
	must(t, os.Remove(filepath.Join(c.rootfs(), "proc")))
	must(t, os.Symlink(victim, filepath.Join(c.rootfs(), "proc")))
	res := c.args("sh", "-c", "wc -c < /proc/timer_list; test -r /proc/self/status && echo proc-ok").runC(nil)
	if res.code == 0 && res.stdout != "0\nproc-ok\n" {
		t.Errorf("with /proc a symlink, the container sees %q", res.stdout)
	}
	if ents, _ := os.ReadDir(victim); len(ents) != 0 {
		t.Errorf("the host directory %s named by /proc was touched: %v", victim, ents)
	}
	c.assertGone()
}
