package oci_test

import (
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestDefaultDevices(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	names := []string{"null", "zero", "full", "random", "urandom", "tty"}
	script := "for d in " + strings.Join(names, " ") + "; do stat -c '%n %F %t:%T %a' /dev/$d; done; " +
		"echo x > /dev/null && head -c 4 /dev/zero | od -An -tx1"
	out := c.args("sh", "-c", script).output()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{
		"/dev/null character special file 1:3 666",
		"/dev/zero character special file 1:5 666",
		"/dev/full character special file 1:7 666",
		"/dev/random character special file 1:8 666",
		"/dev/urandom character special file 1:9 666",
		"/dev/tty character special file 5:0 666",
		"00 00 00 00",
	}
	if len(lines) != len(want) {
		t.Fatalf("default devices:\n%s", out)
	}
	for i, w := range want {
		if strings.TrimSpace(lines[i]) != w {
			t.Errorf("got %q, want %q", lines[i], w)
		}
	}
}

func TestLinuxDevices(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	major, minor := int64(1), int64(5)
	uid, gid := uint32(1000), uint32(1000)
	fm := os.FileMode(0o604)
	c.spec.Linux.Devices = append(c.spec.Linux.Devices, specs.LinuxDevice{
		Path: "/dev/mydev", Type: "c", Major: major, Minor: minor, FileMode: &fm, UID: &uid, GID: &gid,
	})
	c.spec.Linux.Resources.Devices = append(c.spec.Linux.Resources.Devices, specs.LinuxDeviceCgroup{
		Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "rw",
	})
	out := c.args("sh", "-c", "stat -c '%F %t:%T %a %u:%g' /dev/mydev; head -c 2 /dev/mydev | od -An -tx1").output()
	want := "character special file 1:5 604 1000:1000\n 00 00\n"
	if out != want {
		t.Errorf("linux.devices entry: got %q, want %q", out, want)
	}
}

func TestDevSymlinks(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	links := map[string]string{
		"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0",
		"/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2",
		"/dev/ptmx": "pts/ptmx",
	}
	script := ""
	for l := range links {
		script += "echo " + l + " $(readlink " + l + "); "
	}
	out := c.args("sh", "-c", script+"test -c /dev/pts/ptmx && echo ptmx-ok").output()
	for l, target := range links {
		contains(t, "/dev symlinks", out, l+" "+target+"\n")
	}
	contains(t, "/dev/pts/ptmx", out, "ptmx-ok")
}

func TestSysctl(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.msgmax": "4096"}
	out := c.args("cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/msgmax").output()
	if out != "1\n4096\n" {
		t.Errorf("sysctls in the container: %q, want 1 and 4096", out)
	}
}

// A net sysctl without a new network namespace would change the host's: the
// runtime must refuse it.
func TestSysctlHostNamespaceRefused(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	removeNamespace(c.spec, specs.NetworkNamespace)
	c.spec.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	before := readFile(t, "/proc/sys/net/ipv4/ip_forward")
	c.args("true")
	if res := c.create(); res.code == 0 {
		t.Errorf("a net sysctl in the host's network namespace was accepted: %v", res)
	}
	if after := readFile(t, "/proc/sys/net/ipv4/ip_forward"); after != before {
		t.Errorf("the host's ip_forward changed from %q to %q", before, after)
	}
	c.assertGone()
}

func TestMaskedPaths(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	// /proc/kcore is absent on some kernels (this one): a masked path that
	// does not exist is skipped, not an error.
	c.spec.Linux.MaskedPaths = []string{"/proc/kcore", "/proc/timer_list", "/proc/keys", "/sys/firmware", "/proc/no-such-path"}
	out := c.args("sh", "-c", "wc -c < /proc/timer_list; wc -c < /proc/keys; ls -A /sys/firmware | wc -l; "+
		"test -e /proc/kcore && wc -c < /proc/kcore || echo 0").output()
	if f := strings.Fields(out); strings.Join(f, " ") != "0 0 0 0" {
		t.Errorf("masked paths: got sizes %q, want all empty", f)
	}
	if len(readFile(t, "/proc/timer_list")) == 0 {
		t.Log("note: /proc/timer_list is empty on the host too")
	}
}

func TestReadonlyPaths(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	all := allCaps()
	c.spec.Process.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
	c.spec.Linux.ReadonlyPaths = []string{"/proc/sys", "/proc/sysrq-trigger", "/proc/no-such-path"}
	out := c.args("sh", "-c", "echo x > /proc/sys/kernel/hostname 2>/dev/null && echo writable; hostname; cat /proc/self/mounts").output()
	lines := strings.SplitN(out, "\n", 2)
	if lines[0] == "writable" || lines[0] != c.spec.Hostname {
		t.Errorf("/proc/sys is writable with CAP_SYS_ADMIN: %q", lines[0])
	}
	m, ok := lastMount(parseMounts(out), "/proc/sys")
	if !ok || !m.opts["ro"] {
		t.Errorf("/proc/sys is not a read-only mount: %+v", m)
	}
}
