package runtime

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/corral-dev/corral/runtime/nsinit"
	"github.com/corral-dev/corral/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestPlanMountSources(t *testing.T) {
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/a", Type: "bind", Source: "/a"},
		{Destination: "/b", Source: "/b", Options: []string{"rbind", "ro"}},
		{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"},
	}
	userMnt := []specs.LinuxNamespace{{Type: specs.UserNamespace}, {Type: specs.MountNamespace}}
	for _, tc := range []struct {
		name string
		mode nsinit.Mode
		ns   []specs.LinuxNamespace
		want []int
	}{
		{"user and mount namespaces", nsinit.ModeCreate, userMnt, []int{1, 2}},
		{"joined user namespace", nsinit.ModeCreate,
			[]specs.LinuxNamespace{{Type: specs.UserNamespace, Path: "/proc/1/ns/user"}, {Type: specs.MountNamespace}}, []int{1, 2}},
		{"no user namespace", nsinit.ModeCreate, []specs.LinuxNamespace{{Type: specs.MountNamespace}}, nil},
		{"no mount namespace", nsinit.ModeCreate, []specs.LinuxNamespace{{Type: specs.UserNamespace}}, nil},
		{"exec", nsinit.ModeExec, userMnt, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &nsinit.Config{Mode: tc.mode, Spec: &specs.Spec{Mounts: mounts, Linux: &specs.Linux{Namespaces: tc.ns}}}
			planMountSources(cfg)
			if !slices.Equal(cfg.MountSources, tc.want) {
				t.Errorf("MountSources = %v, want %v", cfg.MountSources, tc.want)
			}
		})
	}
}

// TestOpenInMountNS opens sources in the test's own mount namespace (the
// thread's setns is then a no-op) and checks which are handed over: a
// source in a directory only root may search is; one the image's symlink
// leads out of the rootfs is not, even to a place root may read.
func TestOpenInMountNS(t *testing.T) {
	testutil.RequireRoot(t)
	tmp := t.TempDir()
	secret := filepath.Join(tmp, "secret")
	rootfs := filepath.Join(tmp, "rootfs")
	for _, d := range []string{filepath.Join(secret, "dir"), filepath.Join(rootfs, "data", "in")} {
		must(t, os.MkdirAll(d, 0o755))
	}
	must(t, os.Chmod(secret, 0o700))
	must(t, os.Symlink("/", filepath.Join(rootfs, "escape")))
	must(t, os.Symlink("data", filepath.Join(rootfs, "inside")))
	must(t, os.Symlink(secret, filepath.Join(tmp, "bundle-link")))
	paths := []string{
		filepath.Join(secret, "dir"),                              // 0: behind 0700: opened
		filepath.Join(tmp, "bundle-link", "dir"),                  // 1: the bundle's symlink, host semantics
		filepath.Join(rootfs, "inside", "in"),                     // 2: image symlink within the rootfs
		filepath.Join(rootfs, "escape", belowRoot(secret, "dir")), // 3: image symlink out of the rootfs
		filepath.Join(rootfs, "missing"),                          // 4: absent
		"relative/path",                                           // 5: never opened
	}
	files := openInMountNS(os.Getpid(), paths, rootfsNames(rootfs))
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	want := []string{filepath.Join(secret, "dir"), filepath.Join(secret, "dir"), filepath.Join(rootfs, "data", "in"), "", "", ""}
	for i, f := range files {
		got := ""
		if f != nil {
			var err error
			if got, err = os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd()))); err != nil {
				t.Fatal(err)
			}
			if flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0); err != nil || flags&unix.O_PATH == 0 {
				t.Errorf("source %d is not an O_PATH handle (flags %#x)", i, flags)
			}
		}
		if got != want[i] {
			t.Errorf("source %d (%s): handle of %q, want %q", i, paths[i], got, want[i])
		}
	}
}

// belowRoot joins absolute path elements and drops the leading "/", for
// a path through a symlink to "/".
func belowRoot(elem ...string) string { return filepath.Join(elem...)[1:] }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
