package nsinit

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSysctlPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ key, rel, dotted string }{
		{"net.ipv4.ip_forward", "net/ipv4/ip_forward", "net.ipv4.ip_forward"},
		{"net/ipv4/ip_forward", "net/ipv4/ip_forward", "net.ipv4.ip_forward"},
		{"net.ipv4.conf.eth0/100.forwarding", "net/ipv4/conf/eth0.100/forwarding", "net.ipv4.conf.eth0/100.forwarding"},
		{"net/ipv4/conf/eth0.100/forwarding", "net/ipv4/conf/eth0.100/forwarding", "net.ipv4.conf.eth0/100.forwarding"},
		{"kernel.shmmax", "kernel/shmmax", "kernel.shmmax"},
	} {
		rel, dotted, err := sysctlPath(tc.key)
		if err != nil || rel != tc.rel || dotted != tc.dotted {
			t.Errorf("sysctlPath(%q) = %q, %q, %v; want %q, %q", tc.key, rel, dotted, err, tc.rel, tc.dotted)
		}
	}
	for _, bad := range []string{"", "../../../etc/passwd", "net/../../etc/passwd", "..", ".net.ipv4",
		"net..ipv4", "/net/ipv4/ip_forward", "net/ipv4/", "net.ipv4.", "net/./ipv4", "net\x00.x",
		"......etc.passwd"} {
		if rel, _, err := sysctlPath(bad); err == nil {
			t.Errorf("sysctlPath(%q) accepted as %q", bad, rel)
		}
	}
}

func TestCheckSysctlNamespace(t *testing.T) {
	t.Parallel()
	ns := func(types ...specs.LinuxNamespaceType) *specs.Spec {
		s := &specs.Spec{Linux: &specs.Linux{}}
		for _, t := range types {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t})
		}
		return s
	}
	for _, tc := range []struct {
		spec *specs.Spec
		name string
		ok   bool
	}{
		{ns(specs.NetworkNamespace), "net.ipv4.ip_forward", true},
		{ns(specs.IPCNamespace), "net.ipv4.ip_forward", false},
		{ns(specs.IPCNamespace), "kernel.shmmax", true},
		{ns(specs.IPCNamespace), "fs.mqueue.msg_max", true},
		{ns(specs.NetworkNamespace), "kernel.shmmax", false},
		{ns(specs.UTSNamespace), "kernel.domainname", true},
		{ns(specs.UTSNamespace), "kernel.hostname", false},
		{ns(), "kernel.domainname", false},
		{ns(specs.UserNamespace), "user.max_user_namespaces", true},
		{ns(), "user.max_user_namespaces", false},
		{ns(specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace), "kernel.core_pattern", false},
		{ns(specs.NetworkNamespace), "vm.overcommit_memory", false},
	} {
		err := checkSysctlNamespace(tc.spec, tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("checkSysctlNamespace(%v, %s) = %v, want ok=%v", tc.spec.Linux.Namespaces, tc.name, err, tc.ok)
		}
	}
}

func TestRootfsSysctl(t *testing.T) {
	t.Parallel()
	rootfs := newRootfs(t)
	spec := exampleSpec(rootfs)
	spec.Linux.Sysctl = map[string]string{
		"net.ipv4.ip_forward":         "1",
		"net/ipv4/conf/lo/forwarding": "1",
		"kernel.shmmni":               "2048",
	}
	kv := mustRun(t, rootfsRun{Spec: spec, Rootfs: rootfs, Script: `
echo "ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)"
echo "lo_forwarding=$(cat /proc/sys/net/ipv4/conf/lo/forwarding)"
echo "shmmni=$(cat /proc/sys/kernel/shmmni)"
`})
	expectKV(t, kv, map[string]string{"ip_forward": "1", "lo_forwarding": "1", "shmmni": "2048"})
}

// TestRootfsSysctlRefused: every key here would be refused before any write.
// Even a broken check could not hurt the host: the helper has its own
// network, uts and ipc namespaces.
func TestRootfsSysctlRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key  string
		drop specs.LinuxNamespaceType
		want string
	}{
		{"../../../etc/passwd", "", "invalid sysctl name"},
		{"net/../../../../etc/passwd", "", "invalid sysctl name"},
		{"net.ipv4.ip_forward", specs.NetworkNamespace, "needs a network namespace"},
		{"kernel.domainname", specs.UTSNamespace, "not isolated"},
		{"net.ipv4.no_such_sysctl", "", "no such file"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			t.Parallel()
			rootfs := newRootfs(t)
			spec := exampleSpec(rootfs)
			spec.Linux.Sysctl = map[string]string{tc.key: "1"}
			var kept []specs.LinuxNamespace
			for _, ns := range spec.Linux.Namespaces {
				if ns.Type != tc.drop {
					kept = append(kept, ns)
				}
			}
			spec.Linux.Namespaces = kept
			_, err := runRootfs(t, rootfsRun{Spec: spec, Rootfs: rootfs, Script: "echo ran=yes"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
