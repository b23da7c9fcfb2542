package nsinit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestDeviceList(t *testing.T) {
	t.Parallel()
	mode := os.FileMode(0o600)
	uid := uint32(1000)
	spec := &specs.Spec{Linux: &specs.Linux{Devices: []specs.LinuxDevice{
		{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: &mode},
		{Path: "/dev/ptmx", Type: "c", Major: 5, Minor: 2},
		{Path: "/dev/disk/x", Type: "b", Major: 8, Minor: 0, UID: &uid},
		{Path: "/dev/fifo", Type: "p"},
	}}}
	nodes, err := deviceList(spec)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]devNode{}
	for _, n := range nodes {
		byPath[n.path] = n
	}
	if len(nodes) != 3+5 {
		t.Errorf("got %d nodes, want 8: %v", len(nodes), nodes)
	}
	if n := byPath["/dev/null"]; n.mode != 0o600 {
		t.Errorf("/dev/null from the spec should replace the default: %+v", n)
	}
	if _, ok := byPath["/dev/ptmx"]; ok {
		t.Errorf("/dev/ptmx must be left to the devpts symlink")
	}
	if n := byPath["/dev/disk/x"]; n.typ != unix.S_IFBLK || n.uid != 1000 || n.mode != 0o666 {
		t.Errorf("block device: %+v", n)
	}
	if n := byPath["/dev/fifo"]; n.typ != unix.S_IFIFO {
		t.Errorf("fifo: %+v", n)
	}
	for _, bad := range []specs.LinuxDevice{
		{Path: "/dev/x", Type: "z"},
		{Path: "dev/x", Type: "c"},
		{Path: "/dev/x", Type: "c", Major: -1},
	} {
		s := &specs.Spec{Linux: &specs.Linux{Devices: []specs.LinuxDevice{bad}}}
		if _, err := deviceList(s); err == nil {
			t.Errorf("device %+v accepted", bad)
		}
	}
}

func TestRootfsDevices(t *testing.T) {
	t.Parallel()
	rootfs := newRootfs(t)
	mode := os.FileMode(0o640)
	uid, gid := uint32(1000), uint32(1001)
	spec := exampleSpec(rootfs)
	spec.Linux.Devices = []specs.LinuxDevice{
		{Path: "/dev/sub/myfull", Type: "c", Major: 1, Minor: 7, FileMode: &mode, UID: &uid, GID: &gid},
		{Path: "/dev/myfifo", Type: "p", FileMode: &mode},
	}
	kv := mustRun(t, rootfsRun{Spec: spec, Rootfs: rootfs, Script: `
echo "myfull=$(stat -c '%F %t:%T %a %u:%g' /dev/sub/myfull)"
echo "myfifo=$(stat -c '%F %a' /dev/myfifo)"
echo "write=$( (echo x > /dev/sub/myfull) 2>&1 | grep -c 'No space')"
`})
	expectKV(t, kv, map[string]string{
		"myfull": "character special file 1:7 640 1000:1001",
		"myfifo": "fifo 640",
		"write":  "1",
	})
}

// TestRootfsDevicesImageDev uses the image's own /dev (no tmpfs on it),
// where the image made /dev/null a symlink into /proc/sys and /dev/zero a
// regular file: both must be replaced by the real devices.
func TestRootfsDevicesImageDev(t *testing.T) {
	t.Parallel()
	rootfs := newRootfs(t)
	if err := os.Symlink("/proc/sys/kernel/domainname", filepath.Join(rootfs, "dev/null")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(rootfs, "dev/zero"), "not a device\n")
	if err := os.Symlink("/etc", filepath.Join(rootfs, "dev/fd")); err != nil {
		t.Fatal(err)
	}
	spec := exampleSpec(rootfs)
	spec.Mounts = spec.Mounts[:1] // only /proc
	kv := mustRun(t, rootfsRun{Spec: spec, Rootfs: rootfs, Script: `
echo "null=$(stat -c '%F %t:%T' /dev/null)"
echo "zero=$(stat -c '%F %t:%T' /dev/zero)"
echo "fd=$(readlink /dev/fd)"
echo "ptmx=$(readlink /dev/ptmx)"
`})
	expectKV(t, kv, map[string]string{
		"null": "character special file 1:3", "zero": "character special file 1:5",
		"fd": "/proc/self/fd", "ptmx": "",
	})
}

// TestRootfsDevicesHostDev binds the host's /dev: nothing may be created in
// it.
func TestRootfsDevicesHostDev(t *testing.T) {
	t.Parallel()
	rootfs := newRootfs(t)
	spec := exampleSpec(rootfs)
	spec.Mounts = []specs.Mount{{Destination: "/dev", Source: "/dev", Options: []string{"rbind"}}}
	spec.Linux.MaskedPaths, spec.Linux.ReadonlyPaths = nil, nil
	spec.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/corral-test-must-not-exist", Type: "c", Major: 1, Minor: 3}}
	kv := mustRun(t, rootfsRun{Spec: spec, Rootfs: rootfs, Script: `echo "null=$(stat -c '%t:%T' /dev/null)"`})
	expectKV(t, kv, map[string]string{"null": "1:3"})
	if _, err := os.Lstat("/dev/corral-test-must-not-exist"); err == nil {
		os.Remove("/dev/corral-test-must-not-exist")
		t.Errorf("a device was created in the host's /dev")
	}
}

func TestRootfsUserNS(t *testing.T) {
	t.Parallel()
	rootfs := newRootfs(t)
	locked := filepath.Join(filepath.Dir(rootfs), "locked")
	spec := exampleSpec(rootfs)
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	spec.Root.Readonly = true
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/mnt/locked", Source: locked, Options: []string{"bind", "ro"}})
	kv := mustRun(t, rootfsRun{Spec: spec, Rootfs: rootfs, UserNS: true, NoNetNS: true, LockedTmpfs: locked,
		Script: defaultChecks + `
echo "uidmap=$(awk '{ print $1 "-" $2 "-" $3 }' /proc/self/uid_map)"
echo "locked=$(cat /mnt/locked/in-locked)"
`})
	checkDefaultMounts(t, kv)
	expectKV(t, kv, map[string]string{
		"uidmap":   "0-0-65536",
		"dev:null": "character special file 1:3 666", "dev:tty": "character special file 5:0 666",
		"dev:zero": "character special file 1:5 666",
		"link:fd":  "/proc/self/fd", "link:ptmx": "pts/ptmx",
		"timer_list": "0", "acpi": "0", "procsys": "ro", "memcg": "yes", "locked": "x", "etc": "ro",
	})
	mounts := mountsOf(kv)
	if _, ok := mounts["/dev/null"]; !ok {
		t.Errorf("in a user namespace /dev/null should be bound from the host")
	}
	lm := mounts["/mnt/locked"]
	for _, want := range []string{"ro", "nosuid", "nodev", "noexec"} {
		if !hasOpt(lm.opts, want) {
			t.Errorf("/mnt/locked options %q: missing %s", lm.opts, want)
		}
	}
	if !strings.HasPrefix(mounts["/sys"].fstype, "sysfs") {
		t.Errorf("/sys: %+v, want the host's sysfs bound", mounts["/sys"])
	}
}
