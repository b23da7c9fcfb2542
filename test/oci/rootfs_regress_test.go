package oci_test

// Regressions found by runc's own integration tests (test/callers/runc-bats.sh):
// mounts.bats "ro /dev mount", userns.bats "inaccessible mounts" and
// mask.bats "prohibit symlink /proc", with the attacks on the fixes.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corral-dev/corral/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// devReadonlyScript prints the /dev mount, whether /dev takes a new file,
// what /dev/console is and whether /dev/null works.
const devReadonlyScript = `grep '^tmpfs /dev ' /proc/mounts
if touch /dev/new-file 2>/dev/null; then echo dev:writable; else echo dev:readonly; fi
stat -c 'console:%F %t' /dev/console 2>/dev/null
echo x >/dev/null && echo null:ok`

// TestReadonlyDev runs a spec whose /dev tmpfs asks for ro (runc #3248):
// the devices, links and, with a terminal, the /dev/console bind are made
// first, /dev becomes read-only afterwards.
func TestReadonlyDev(t *testing.T) {
	t.Parallel()
	for _, terminal := range []bool{true, false} {
		t.Run(fmt.Sprintf("terminal=%v", terminal), func(t *testing.T) {
			t.Parallel()
			r := newRT(t)
			c := newCtr(t, r)
			for i := range c.spec.Mounts {
				if c.spec.Mounts[i].Destination == "/dev" {
					c.spec.Mounts[i].Options = append(c.spec.Mounts[i].Options, "ro")
				}
			}
			c.spec.Process.Terminal = terminal
			c.args("sh", "-c", devReadonlyScript)
			var out string
			if terminal {
				srv := newConsoleServer(t)
				c.mustCreate("--console-socket", srv.path)
				r.must("start", c.id)
				out = strings.ReplaceAll(srv.output(t), "\r", "")
			} else {
				out = c.output()
			}
			dev, ok := lastMount(parseMounts(out), "/dev")
			if !ok || !dev.opts["ro"] {
				t.Errorf("/dev is not mounted read-only: %q", out)
			}
			contains(t, "write to /dev", out, "dev:readonly\n")
			contains(t, "/dev/null", out, "null:ok\n")
			if terminal {
				contains(t, "/dev/console", out, "console:character special file 88\n")
			}
		})
	}
}

// hostTree makes a directory of the test's own that a container whose root
// is mapped to an unprivileged uid can traverse.
func hostTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		must(t, os.Chmod(d, 0o755))
	}
	return dir
}

// rootOnlySource makes parent/name (mode 0700, owned by root) holding
// dir/foo.txt with content, and returns parent/name/dir: the mapped root
// of a user namespace cannot reach it by path.
func rootOnlySource(t *testing.T, parent, name, content string) string {
	t.Helper()
	dir := filepath.Join(parent, name, "dir")
	must(t, os.MkdirAll(dir, 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "foo.txt"), []byte(content), 0o644))
	must(t, os.Chmod(filepath.Join(parent, name), 0o700))
	return dir
}

// bindAt adds a bind mount and creates its mountpoint in the image (the
// mapped root cannot create it in a root-owned image).
func bindAt(t *testing.T, c *ctr, src, dest string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Join(c.rootfs(), dest), 0o755))
	c.spec.Mounts = append(c.spec.Mounts, specs.Mount{Destination: dest, Type: "bind", Source: src, Options: []string{"bind"}})
}

// TestUserNSRootOnlyBindSources binds two sources below directories only
// the host's root may search into a container with a user namespace (runc
// userns.bats): the runtime opens them for init. Neither the container's
// init process nor an exec'd one holds a descriptor of them.
func TestUserNSRootOnlyBindSources(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	withUserNS(c)
	host := hostTree(t)
	bindAt(t, c, rootOnlySource(t, host, "inaccessible-1", "one"), "/tmp/mount-1")
	bindAt(t, c, rootOnlySource(t, host, "inaccessible-2", "two"), "/tmp/mount-2")
	c.args("sh", "-c", "cat /tmp/mount-1/foo.txt /tmp/mount-2/foo.txt; echo; "+dirFDs("1"))
	out := c.output()
	contains(t, "run", out, "onetwo\n")
	contains(t, "directory descriptors of the container's process", out, "dirfds:\n")
	c2 := newCtr(t, r)
	withUserNS(c2)
	bindAt(t, c2, filepath.Join(host, "inaccessible-1", "dir"), "/tmp/mount-1")
	c2.args("sleep", "1000")
	c2.start()
	res := r.must("exec", c2.id, "sh", "-c", "cat /tmp/mount-1/foo.txt; echo; "+dirFDs("1")+"; "+dirFDs("$$"))
	contains(t, "exec", res.stdout, "one\n")
	contains(t, "directory descriptors of the container's processes", res.stdout, "dirfds:\ndirfds:\n")
}

// dirFDs is a shell command that prints "dirfds:" and the descriptors of
// process pid that are directories (a bind source's handle would be one).
func dirFDs(pid string) string {
	return "echo dirfds:$(for f in /proc/" + pid + "/fd/*; do [ -d $f ] && echo $f; done)"
}

// TestUserNSBindSourceImageSymlink: a source inside the rootfs that a
// symlink of the image leads out of it, to a directory only root may read,
// must not be opened with the runtime's credentials (runc 1.1.5 opens it).
// The mapped root resolves it itself and is refused.
func TestUserNSBindSourceImageSymlink(t *testing.T) {
	skipIfRunc(t, "runc 1.1.5 opens every bind source as the host's root, image symlinks included")
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	withUserNS(c)
	host := hostTree(t)
	secret := rootOnlySource(t, host, "secret", "host-secret")
	must(t, os.Symlink("/", filepath.Join(c.rootfs(), "escape")))
	bindAt(t, c, filepath.Join(c.rootfs(), "escape", secret), "/mnt/x")
	res := c.args("cat", "/mnt/x/foo.txt").runC(nil)
	if strings.Contains(res.stdout, "host-secret") {
		t.Fatalf("the image's symlink exposed a root-only host directory: %v", res)
	}
	if res.code == 0 {
		t.Errorf("run succeeded without the source: %v", res)
	}
	contains(t, "error", res.stderr, "permission denied")
}

// TestUserNSBindSourceSwappedSymlink: a component of the source path is a
// symlink of the bundle that another process keeps swapping between a
// directory and "/". The source resolves as on the host at the moment it
// is opened (to A or B, nothing else), and the destination, reached
// through an image symlink to "/..", stays inside the rootfs.
func TestUserNSBindSourceSwappedSymlink(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	host := hostTree(t)
	dirB := rootOnlySource(t, host, "b", "B")
	realA := filepath.Join(host, "a")
	dirA := filepath.Join(realA, strings.TrimPrefix(dirB, "/"))
	must(t, os.MkdirAll(dirA, 0o755))
	must(t, os.WriteFile(filepath.Join(dirA, "foo.txt"), []byte("A"), 0o644))
	link := filepath.Join(host, "link")
	must(t, os.Symlink(realA, link))
	stop := make(chan struct{})
	swapped := make(chan struct{})
	go func() {
		defer close(swapped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			target := []string{realA, "/"}[i%2]
			tmp := fmt.Sprintf("%s.%d", link, i)
			if os.Symlink(target, tmp) == nil {
				os.Rename(tmp, link)
			}
			// Not a busy loop: the suite's other tests share two cores.
			time.Sleep(200 * time.Microsecond)
		}
	}()
	defer func() { close(stop); <-swapped }()
	name := testutil.UniqueName(t)
	seen := map[string]int{}
	defer func() { t.Logf("sources seen: %v", seen) }()
	for i := 0; i < 6; i++ {
		c := newCtr(t, r)
		withUserNS(c)
		must(t, os.Symlink("../../../../../../..", filepath.Join(c.rootfs(), "mnt")))
		must(t, os.Mkdir(filepath.Join(c.rootfs(), name), 0o755))
		src := filepath.Join(link, strings.TrimPrefix(dirB, "/"))
		c.spec.Mounts = append(c.spec.Mounts, specs.Mount{Destination: "/mnt/" + name, Type: "bind", Source: src, Options: []string{"bind"}})
		out := c.args("cat", "/"+name+"/foo.txt").output()
		seen[out]++
		if out != "A" && out != "B" {
			t.Errorf("run %d: the source resolved to %q, want A or B", i, out)
		}
		if _, err := os.Lstat("/" + name); err == nil {
			t.Fatalf("run %d: the mount destination resolved outside the rootfs, to /%s", i, name)
		}
	}
}

// TestProcSymlinkRefused: proc and sysfs are mounted only on a plain
// directory of the image, with runc's wording (mask.bats), and a dangling
// symlink's target is not created on the way.
func TestProcSymlinkRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ dir, target string }{
		{"proc", "/symlink"}, {"proc", "/etc"}, {"sys", "/symlink"},
	} {
		t.Run(tc.dir+"->"+tc.target, func(t *testing.T) {
			t.Parallel()
			r := newRT(t)
			c := newCtr(t, r)
			p := filepath.Join(c.rootfs(), tc.dir)
			must(t, os.RemoveAll(p))
			must(t, os.Symlink(tc.target, p))
			res := c.args("true").runC(nil)
			if res.code == 0 {
				t.Fatalf("run with /%s a symlink to %s succeeded: %v", tc.dir, tc.target, res)
			}
			if tc.dir == "proc" {
				contains(t, "error", res.stderr, "must be mounted on ordinary directory")
			}
			if _, err := os.Lstat(filepath.Join(c.rootfs(), "symlink")); err == nil {
				t.Errorf("the symlink's target was created in the image")
			}
		})
	}
}
