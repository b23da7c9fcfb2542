package nsinit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// defaultChecks prints what TestRootfsDefaultSpec and TestRootfsUserNS
// look at.
const defaultChecks = printMounts + `
for d in null zero full random urandom tty; do
  echo "dev:$d=$(stat -c '%F %t:%T %a' /dev/$d)"
done
for l in fd stdin stdout stderr ptmx core; do echo "link:$l=$(readlink /dev/$l)"; done
echo "timer_list=$(cat /proc/timer_list | wc -c)"
echo "acpi=$(ls -A /proc/acpi | wc -l)"
echo "firmware=$(ls -A /sys/firmware | wc -l)"
if echo 1 > /proc/sys/net/ipv4/ip_forward; then echo procsys=rw; else echo procsys=ro; fi
if touch /etc/probe; then echo etc=rw; else echo etc=ro; fi
if touch /sys/fs/cgroup/probe; then echo cgroupfs=rw; else echo cgroupfs=ro; fi
echo "memcg=$(test -f /sys/fs/cgroup/memory/cgroup.procs && echo yes)"
echo "pid=$$"
`

func TestRootfsDefaultSpec(t *testing.T) {
	t.Parallel()
	rootfs := newRootfs(t)
	kv := mustRun(t, rootfsRun{Spec: exampleSpec(rootfs), Rootfs: rootfs, Script: defaultChecks})
	checkDefaultMounts(t, kv)
	expectKV(t, kv, map[string]string{
		"dev:null": "character special file 1:3 666", "dev:zero": "character special file 1:5 666",
		"dev:full": "character special file 1:7 666", "dev:random": "character special file 1:8 666",
		"dev:urandom": "character special file 1:9 666", "dev:tty": "character special file 5:0 666",
		"link:fd": "/proc/self/fd", "link:stdin": "/proc/self/fd/0", "link:stdout": "/proc/self/fd/1",
		"link:stderr": "/proc/self/fd/2", "link:ptmx": "pts/ptmx",
		"link:core":  "", // this kernel has no /proc/kcore
		"timer_list": "0", "acpi": "0", "firmware": "0",
		"procsys": "ro", "etc": "rw", "cgroupfs": "ro", "memcg": "yes", "pid": "1",
	})
	if _, err := os.Stat(filepath.Join(rootfs, "etc/probe")); err != nil {
		t.Errorf("write to the rootfs did not land in it: %v", err)
	}
}

func checkDefaultMounts(t *testing.T, kv map[string]string) {
	t.Helper()
	mounts := mountsOf(kv)
	for dest, fstype := range map[string]string{
		"/proc": "proc", "/dev": "tmpfs", "/dev/pts": "devpts", "/dev/shm": "tmpfs",
		"/dev/mqueue": "mqueue", "/sys": "sysfs", "/sys/fs/cgroup": "tmpfs",
		"/sys/fs/cgroup/memory": "cgroup", "/sys/fs/cgroup/cpu": "cgroup",
		"/proc/acpi": "tmpfs", "/proc/sys": "proc",
	} {
		m, ok := mounts[dest]
		if !ok || m.fstype != fstype {
			t.Errorf("%s: mounted %v (%q), want type %s", dest, ok, m.fstype, fstype)
		}
	}
	for _, ro := range []string{"/sys", "/sys/fs/cgroup", "/sys/fs/cgroup/memory", "/proc/sys", "/proc/acpi"} {
		if !hasOpt(mounts[ro].opts, "ro") {
			t.Errorf("%s is not read-only: %s", ro, mounts[ro].opts)
		}
	}
	for _, want := range []string{"nosuid", "noexec"} {
		if !hasOpt(mounts["/dev/pts"].opts, want) {
			t.Errorf("/dev/pts lacks %s: %s", want, mounts["/dev/pts"].opts)
		}
	}
	if _, ok := mounts["/proc/timer_list"]; !ok {
		t.Errorf("/proc/timer_list is not masked")
	}
	if _, ok := mounts["/proc/kcore"]; ok {
		t.Errorf("masked the missing /proc/kcore")
	}
}

func TestRootfsBindReadonly(t *testing.T) {
	t.Parallel()
	rootfs := newRootfs(t)
	src := filepath.Join(filepath.Dir(rootfs), "data")
	writeFile(t, filepath.Join(src, "hello"), "hello from the host\n")
	spec := exampleSpec(rootfs)
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/mnt/data", Type: "bind", Source: src, Options: []string{"rbind", "ro", "nosuid"}},
		specs.Mount{Destination: "/etc/hello.txt", Source: filepath.Join(src, "hello"), Options: []string{"bind"}},
		specs.Mount{Destination: "/mnt/shared", Type: "tmpfs", Source: "tmpfs", Options: []string{"rshared"}},
		specs.Mount{Destination: "/mnt/rw", Source: src, Options: []string{"rbind", "rw", "noexec"}})
	kv := mustRun(t, rootfsRun{Spec: spec, Rootfs: rootfs, Script: printMounts + `
echo "shared=$(awk '$5 == "/mnt/shared" { print substr($7, 1, 7) }' /proc/self/mountinfo)"
echo "read=$(cat /mnt/data/hello)"
echo "file=$(cat /etc/hello.txt)"
if touch /mnt/data/new; then echo write=ok; else echo write=refused; fi
`})
	expectKV(t, kv, map[string]string{"read": "hello from the host", "file": "hello from the host",
		"write": "refused", "shared": "shared:"})
	if rw := mountsOf(kv)["/mnt/rw"]; !hasOpt(rw.opts, "rw") || !hasOpt(rw.opts, "noexec") {
		t.Errorf("/mnt/rw options %q, want rw and noexec", rw.opts)
	}
	m := mountsOf(kv)["/mnt/data"]
	if !hasOpt(m.opts, "ro") || !hasOpt(m.opts, "nosuid") {
		t.Errorf("/mnt/data options %q, want ro and nosuid", m.opts)
	}
	if _, err := os.Stat(filepath.Join(src, "new")); err == nil {
		t.Errorf("a read-only bind mount let a file through to the host")
	}
	if fi, err := os.Stat(filepath.Join(rootfs, "etc/hello.txt")); err != nil || fi.Size() != 0 {
		t.Errorf("file bind mount: mountpoint in rootfs is %v, %v; want an empty file", fi, err)
	}
}

// TestRootfsSymlinkEscape points mount destinations of the image at a host
// directory, absolutely and with "..", and checks that the mounts (and the
// directories created for them) stay inside the rootfs.
func TestRootfsSymlinkEscape(t *testing.T) {
	t.Parallel()
	rootfs := newRootfs(t)
	host := filepath.Join(filepath.Dir(rootfs), "host")
	writeFile(t, filepath.Join(host, hostMarkerFile), "host\n")
	writeFile(t, filepath.Join(host, "etc", hostMarkerFile), "host\n")
	if err := os.Symlink(host, filepath.Join(rootfs, "abs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(strings.Repeat("../", 12)+strings.TrimPrefix(host, "/"), filepath.Join(rootfs, "mnt/rel")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../../../etc", filepath.Join(rootfs, "etclink")); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(filepath.Dir(rootfs), "src")
	writeFile(t, filepath.Join(src, "payload"), "payload\n")
	spec := exampleSpec(rootfs)
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/abs", Type: "tmpfs", Source: "tmpfs"},
		specs.Mount{Destination: "/abs/sub/deeper", Type: "bind", Source: src, Options: []string{"bind"}},
		specs.Mount{Destination: "/mnt/rel/etc", Type: "bind", Source: src, Options: []string{"bind"}},
		specs.Mount{Destination: "/etclink/escape", Type: "tmpfs", Source: "tmpfs"})
	kv := mustRun(t, rootfsRun{Spec: spec, Rootfs: rootfs, Script: printMounts})
	mounts := mountsOf(kv)
	for _, inside := range []string{host, host + "/sub/deeper", host + "/etc", "/etc/escape"} {
		if _, ok := mounts[inside]; !ok {
			t.Errorf("no mount at %s inside the container; mounts: %v", inside, mounts)
		}
	}
	entries, err := os.ReadDir(host)
	if err != nil || len(entries) != 2 {
		t.Errorf("host directory changed: %v %v", entries, err)
	}
	if _, err := os.Stat(filepath.Join(host, "sub")); err == nil {
		t.Errorf("mountpoint created in the host directory")
	}
	for _, p := range []string{host, "etc/escape"} {
		if _, err := os.Stat(filepath.Join(rootfs, p)); err != nil {
			t.Errorf("mountpoint not created inside the rootfs: %v", err)
		}
	}
	if _, err := os.Stat("/etc/escape"); err == nil {
		t.Errorf("a mountpoint was created in the host's /etc")
	}
}

// TestRootfsRefused checks mounts that must fail, and that the error names
// the mount.
func TestRootfsRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		mount specs.Mount
		setup func(t *testing.T, rootfs string)
		want  string
	}{
		{name: "relative destination", mount: specs.Mount{Destination: "mnt/x", Type: "tmpfs", Source: "tmpfs"},
			want: "mount tmpfs on mnt/x (type tmpfs): destination \"mnt/x\" is not an absolute path"},
		{name: "missing bind source", mount: specs.Mount{Destination: "/mnt/x", Source: "/nonexistent/src", Options: []string{"bind"}},
			want: "mount /nonexistent/src on /mnt/x (type none): bind source /nonexistent/src does not exist"},
		{name: "inside proc", mount: specs.Mount{Destination: "/proc/self/attr", Type: "tmpfs", Source: "tmpfs"},
			want: "is inside /proc"},
		{name: "inside proc through a symlink", mount: specs.Mount{Destination: "/p/timer_list", Source: "/dev/null", Options: []string{"bind"}},
			setup: func(t *testing.T, rootfs string) {
				if err := os.Symlink("/proc", filepath.Join(rootfs, "p")); err != nil {
					t.Fatal(err)
				}
			}, want: "is inside /proc"},
		{name: "tmpfs on proc", mount: specs.Mount{Destination: "/proc", Type: "tmpfs", Source: "tmpfs"},
			want: "only a procfs may be mounted on /proc"},
		{name: "sysfs through a symlink", mount: specs.Mount{Destination: "/sysfs", Type: "sysfs", Source: "sysfs"},
			setup: func(t *testing.T, rootfs string) {
				if err := os.Symlink("/tmp", filepath.Join(rootfs, "sysfs")); err != nil {
					t.Fatal(err)
				}
			}, want: "/sysfs is a symlink: must be mounted on ordinary directory"},
		{name: "proc through a dangling symlink", mount: specs.Mount{Destination: "/kproc", Type: "proc", Source: "proc"},
			setup: func(t *testing.T, rootfs string) {
				if err := os.Symlink("/made-by-init", filepath.Join(rootfs, "kproc")); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					if _, err := os.Lstat(filepath.Join(rootfs, "made-by-init")); err == nil {
						t.Error("the symlink's target was created before the mount was refused")
					}
				})
			}, want: "/kproc is a symlink: must be mounted on ordinary directory"},
		{name: "proc below a symlinked directory", mount: specs.Mount{Destination: "/link/proc", Type: "proc", Source: "proc"},
			setup: func(t *testing.T, rootfs string) {
				if err := os.Symlink("/tmp", filepath.Join(rootfs, "link")); err != nil {
					t.Fatal(err)
				}
			}, want: "/link/proc is a symlink or goes through one: must be mounted on ordinary directory"},
		{name: "proc on a file", mount: specs.Mount{Destination: "/pfile", Type: "proc", Source: "proc"},
			setup: func(t *testing.T, rootfs string) {
				writeFile(t, filepath.Join(rootfs, "pfile"), "x")
			}, want: "/pfile is not a directory: must be mounted on ordinary directory"},
		{name: "unsupported option", mount: specs.Mount{Destination: "/mnt/x", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup"}},
			want: "not supported"},
		{name: "root destination", mount: specs.Mount{Destination: "/", Type: "tmpfs", Source: "tmpfs"},
			want: "is the root of the container"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rootfs := newRootfs(t)
			if tc.setup != nil {
				tc.setup(t, rootfs)
			}
			spec := exampleSpec(rootfs)
			spec.Mounts = append(spec.Mounts, tc.mount)
			_, err := runRootfs(t, rootfsRun{Spec: spec, Rootfs: rootfs, Script: "echo ran=yes"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("setup error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestRootfsReadonlyRoot(t *testing.T) {
	t.Parallel()
	rootfs := newRootfs(t)
	spec := exampleSpec(rootfs)
	spec.Root.Readonly = true
	spec.Linux.RootfsPropagation = "rslave"
	kv := mustRun(t, rootfsRun{Spec: spec, Rootfs: rootfs, Script: printMounts + `
if touch /etc/probe; then echo etc=rw; else echo etc=ro; fi
if touch /dev/shm/probe; then echo shm=rw; else echo shm=ro; fi
`})
	expectKV(t, kv, map[string]string{"etc": "ro", "shm": "rw"})
	if !hasOpt(mountsOf(kv)["/"].opts, "ro") {
		t.Errorf("/ is not read-only: %v", mountsOf(kv)["/"])
	}
}

func TestRootfsNoPivot(t *testing.T) {
	t.Parallel()
	rootfs := newRootfs(t)
	writeFile(t, filepath.Join(rootfs, "etc/marker"), "in the rootfs\n")
	kv := mustRun(t, rootfsRun{Spec: exampleSpec(rootfs), Rootfs: rootfs, NoPivot: true, Script: printMounts + `
echo "marker=$(cat /etc/marker)"
echo "null=$(stat -c '%t:%T' /dev/null)"
echo "timer_list=$(cat /proc/timer_list | wc -c)"
`})
	expectKV(t, kv, map[string]string{"marker": "in the rootfs", "null": "1:3", "timer_list": "0"})
}

func TestRootfsPropagationShared(t *testing.T) {
	t.Parallel()
	rootfs := newRootfs(t)
	spec := exampleSpec(rootfs)
	spec.Linux.RootfsPropagation = "rshared"
	kv := mustRun(t, rootfsRun{Spec: spec, Rootfs: rootfs, Script: `
echo "root=$(awk '$5 == "/" { print $7 }' /proc/self/mountinfo)"
`})
	if !strings.HasPrefix(kv["root"], "shared:") {
		t.Errorf("/ optional fields %q, want shared:N", kv["root"])
	}
}

// TestRootfsCgroupNS mounts the v1 hierarchies themselves in a cgroup
// namespace: their root is the container's cgroup.
func TestRootfsCgroupNS(t *testing.T) {
	t.Parallel()
	rootfs := newRootfs(t)
	spec := exampleSpec(rootfs)
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	kv := mustRun(t, rootfsRun{Spec: spec, Rootfs: rootfs, CgroupNS: true, Script: printMounts + `
echo "memroot=$(awk '$5 == "/sys/fs/cgroup/memory" { print $4 }' /proc/self/mountinfo)"
echo "procs=$(cat /sys/fs/cgroup/memory/cgroup.procs | head -n 1)"
echo "systemd=$(test -f /sys/fs/cgroup/systemd/cgroup.procs && echo yes)"
if mkdir /sys/fs/cgroup/memory/probe; then echo mkdir=ok; else echo mkdir=refused; fi
`})
	expectKV(t, kv, map[string]string{"memroot": "/", "procs": "1", "systemd": "yes", "mkdir": "refused"})
	if m := mountsOf(kv)["/sys/fs/cgroup/cpu"]; m.fstype != "cgroup" || !hasOpt(m.opts, "ro") {
		t.Errorf("/sys/fs/cgroup/cpu: %+v", m)
	}
}

// TestRootfsMountRace swaps a mount destination's parent between a
// directory and a symlink to a host directory while the mounts happen
// (CVE-2021-30465 style): every mount must stay inside the rootfs.
func TestRootfsMountRace(t *testing.T) {
	t.Parallel()
	rootfs := newRootfs(t)
	host := filepath.Join(filepath.Dir(rootfs), "host")
	writeFile(t, filepath.Join(host, hostMarkerFile), "host\n")
	race, link := filepath.Join(rootfs, "mnt/race"), filepath.Join(rootfs, "mnt/racelink")
	if err := os.Mkdir(race, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, link); err != nil {
		t.Fatal(err)
	}
	spec := exampleSpec(rootfs)
	for i := 0; i < 200; i++ {
		spec.Mounts = append(spec.Mounts, specs.Mount{
			Destination: fmt.Sprintf("/mnt/race/d%d", i), Type: "tmpfs", Source: "tmpfs", Options: []string{"size=4k"}})
	}
	stop := make(chan struct{})
	done := make(chan int)
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
	_, err := runRootfs(t, rootfsRun{Spec: spec, Rootfs: rootfs, Script: "echo ran=yes"})
	close(stop)
	swaps := <-done
	t.Logf("%d swaps; setup result: %v", swaps, err)
	entries, rerr := os.ReadDir(host)
	if rerr != nil || len(entries) != 1 {
		names := []string{}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("host directory changed: %v %v", names, rerr)
	}
}

// TestRootfsSysctlFakeProc has no procfs on /proc, where the image put a
// regular file at proc/sys/net/ipv4/ip_forward: the sysctl must go to the
// kernel, never into the image's file.
func TestRootfsSysctlFakeProc(t *testing.T) {
	t.Parallel()
	rootfs := newRootfs(t)
	fake := filepath.Join(rootfs, "proc/sys/net/ipv4/ip_forward")
	writeFile(t, fake, "0\n")
	spec := exampleSpec(rootfs)
	spec.Mounts = spec.Mounts[1:2] // /dev only
	spec.Linux.MaskedPaths, spec.Linux.ReadonlyPaths = nil, nil
	spec.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	kv := mustRun(t, rootfsRun{Spec: spec, Rootfs: rootfs, Script: `echo "fake=$(cat /proc/sys/net/ipv4/ip_forward)"`})
	expectKV(t, kv, map[string]string{"fake": "0"})
}
