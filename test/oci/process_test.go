package oci_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestArgsAndEnv(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Process.Env = append(c.spec.Process.Env, "FOO=bar baz", "EMPTY=")
	i := parseInfo(t, c.args("/bin/testprog", "info").output())
	for _, want := range []string{"FOO=bar baz", "EMPTY=", "TERM=xterm"} {
		if !hasWord(i.Env, want) {
			t.Errorf("env %q lacks %q", i.Env, want)
		}
	}
	out := c.args("sh", "-c", `printf '[%s]' "$0" "$@"`, "zero", "one", "two words", "").output()
	if out != "[zero][one][two words][]" {
		t.Errorf("args reached the process as %q", out)
	}
}

func TestCwd(t *testing.T) {
	t.Parallel()
	for _, cwd := range []string{"/etc", "/home"} {
		r := newRT(t)
		c := newCtr(t, r)
		c.spec.Process.Cwd = cwd
		if got := testprogInfo(t, c).Cwd; got != cwd {
			t.Errorf("cwd %q, want %q", got, cwd)
		}
	}
}

func TestUser(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}}
	i := testprogInfo(t, c)
	if i.UID != 1000 || i.GID != 1000 {
		t.Errorf("uid %d gid %d, want 1000 1000", i.UID, i.GID)
	}
	if fmt.Sprint(i.Groups) != "[10 20]" && fmt.Sprint(i.Groups) != "[10 20 1000]" {
		t.Errorf("groups %v, want 10 and 20 (and perhaps 1000)", i.Groups)
	}
}

func TestUmask(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	um := uint32(0o027)
	c.spec.Process.User.Umask = &um
	if got := testprogInfo(t, c).Umask; got != 0o027 {
		skipIfRunc(t, "1.1.5 does not apply process.user.umask (got %#o)", got)
		t.Errorf("umask %#o, want 027", got)
	}
}

func TestDefaultUmask(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	if got := testprogInfo(t, newCtr(t, r)).Umask; got != 0o022 {
		t.Errorf("default umask %#o, want 022", got)
	}
}

// capNames lists the capabilities the host grants, as CAP_ names.
func allCaps() []string {
	var out []string
	bnd := hostCaps()
	for _, c := range capability.ListKnown() {
		if bnd&(1<<uint(c)) != 0 {
			out = append(out, "CAP_"+strings.ToUpper(c.String()))
		}
	}
	return out
}

func hostCaps() uint64 {
	b, _ := os.ReadFile("/proc/self/status")
	v, _ := strconv.ParseUint(procStatus(string(b))["CapBnd"], 16, 64)
	return v
}

func capMask(names ...string) uint64 {
	var m uint64
	for _, n := range names {
		for _, c := range capability.ListKnown() {
			if "CAP_"+strings.ToUpper(c.String()) == n {
				m |= 1 << uint(c)
			}
		}
	}
	return m
}

func TestCapabilities(t *testing.T) {
	t.Parallel()
	bnd := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETUID", "CAP_SYS_CHROOT"}
	inh := []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_CHROOT"}
	prm := []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID", "CAP_SYS_CHROOT"}
	eff := []string{"CAP_CHOWN", "CAP_KILL", "CAP_SETUID"}
	amb := []string{"CAP_KILL", "CAP_NET_RAW"}
	set := &specs.LinuxCapabilities{Bounding: bnd, Inheritable: inh, Permitted: prm, Effective: eff, Ambient: amb}
	// execve recomputes the sets: for uid 0 without file capabilities,
	// permitted = effective = inheritable | bounding; for another uid
	// permitted = effective = ambient. Bounding, inheritable and ambient
	// pass through unchanged.
	rootPE := capMask(inh...) | capMask(bnd...)
	for _, tc := range []struct {
		uid  uint32
		want map[string]uint64
	}{
		{0, map[string]uint64{"CapBnd": capMask(bnd...), "CapInh": capMask(inh...), "CapAmb": capMask(amb...), "CapPrm": rootPE, "CapEff": rootPE}},
		{1000, map[string]uint64{"CapBnd": capMask(bnd...), "CapInh": capMask(inh...), "CapAmb": capMask(amb...), "CapPrm": capMask(amb...), "CapEff": capMask(amb...)}},
	} {
		r := newRT(t)
		c := newCtr(t, r)
		c.spec.Process.Capabilities = set
		c.spec.Process.NoNewPrivileges = false
		c.spec.Process.User = specs.User{UID: tc.uid, GID: tc.uid}
		i := testprogInfo(t, c)
		for k, want := range tc.want {
			got, err := strconv.ParseUint(i.Caps[k], 16, 64)
			if err != nil || got != want {
				t.Errorf("uid %d: %s = %s, want %016x", tc.uid, k, i.Caps[k], want)
			}
		}
	}
}

func TestNoNewPrivileges(t *testing.T) {
	t.Parallel()
	for _, nnp := range []bool{true, false} {
		r := newRT(t)
		c := newCtr(t, r)
		c.spec.Process.NoNewPrivileges = nnp
		if got := testprogInfo(t, c).NoNewPrivs; got != nnp {
			t.Errorf("noNewPrivileges %v: process has %v", nnp, got)
		}
	}
}

func TestRlimits(t *testing.T) {
	t.Parallel()
	var host unix.Rlimit
	must(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &host))
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Process.Rlimits = []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 2048},
		{Type: "RLIMIT_CORE", Soft: 0, Hard: 0},
		{Type: "RLIMIT_NPROC", Soft: 500, Hard: 600},
	}
	// Read by cat, not testprog: the Go runtime raises its own NOFILE soft limit.
	out := c.args("cat", "/proc/self/limits").output()
	for _, want := range []string{
		"Max open files 1024 2048 files",
		"Max core file size 0 0 bytes",
		"Max processes 500 600 processes",
	} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
			t.Errorf("/proc/self/limits lacks %q:\n%s", want, out)
		}
	}
}

// Raising a hard limit above the runtime's own needs CAP_SYS_RESOURCE, which
// this host withholds: create must fail and say which limit.
func TestRlimitAboveHostFails(t *testing.T) {
	t.Parallel()
	if hostCaps()&(1<<unix.CAP_SYS_RESOURCE) != 0 {
		t.Skip("the host has CAP_SYS_RESOURCE: raising a hard limit is allowed")
	}
	var host unix.Rlimit
	must(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &host))
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: host.Max + 1000}}
	c.args("true")
	res := c.create()
	if res.code == 0 {
		t.Fatalf("create with a hard limit above the host's succeeded: %v", res)
	}
	contains(t, "error", strings.ToLower(res.stderr), "rlimit")
	c.assertGone()
}

func TestOOMScoreAdj(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	adj := 523
	c.spec.Process.OOMScoreAdj = &adj
	if got := testprogInfo(t, c).OOMAdj; got != adj {
		t.Errorf("oom_score_adj %d, want %d", got, adj)
	}
}

// runc's own default config lists ambient capabilities that are not
// inheritable; the kernel cannot raise those, so they are dropped (runc
// warns) and the container still runs.
func TestAmbientWithoutInheritable(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Process.Capabilities.Ambient = []string{"CAP_KILL"}
	c.spec.Process.Capabilities.Inheritable = nil
	res := c.args("sh", "-c", "grep CapAmb /proc/self/status").runC(nil)
	if res.code != 0 {
		t.Fatalf("run: %v", res)
	}
	contains(t, "stdout", res.stdout, "0000000000000000")
}
