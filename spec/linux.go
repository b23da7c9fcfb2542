package spec

import (
	"maps"
	"path"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultCgroupParent is the cgroup under which containers' cgroups are
// made when neither the container nor the daemon names one.
const DefaultCgroupParent = "/corral"

// DefaultMaskedPaths are hidden from containers (over-mounted with an empty
// file or directory): kernel information and controls a container has no
// business with, as Docker's list.
func DefaultMaskedPaths() []string {
	return []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
		"/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
}

// DefaultReadonlyPaths are made read-only in containers, as Docker's list.
func DefaultReadonlyPaths() []string {
	return []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
}

// lx returns spec.linux, made on first use.
func (b *builder) lx() *specs.Linux {
	if b.s.Linux == nil {
		b.s.Linux = &specs.Linux{}
	}
	return b.s.Linux
}

// userns reports whether the container gets a user namespace.
func (b *builder) userns() bool {
	return !b.hc.UsernsMode.IsHost() &&
		(len(b.in.UIDMappings) > 0 || b.in.NamespacePaths[specs.UserNamespace] != "")
}

// privateNetwork reports whether the container gets a network namespace of
// its own (not the host's, not another container's).
func (b *builder) privateNetwork() bool {
	return !b.hc.NetworkMode.IsHost() && !b.hc.NetworkMode.IsContainer()
}

// namespaces fills linux.namespaces (and the user namespace's mappings) in
// dockerd's order: mount, network, uts, pid, ipc, cgroup, user.
func (b *builder) namespaces() error {
	hc, l := b.hc, b.lx()
	type nsWant struct {
		typ          specs.LinuxNamespaceType
		skip, shared bool // skip: the host's; shared: another container's
		mode         string
	}
	cgroupPrivate := hc.CgroupnsMode.IsPrivate() || (hc.CgroupnsMode.IsEmpty() && b.in.Host.CgroupV2)
	wants := []nsWant{
		{typ: specs.MountNamespace},
		{specs.NetworkNamespace, hc.NetworkMode.IsHost(), hc.NetworkMode.IsContainer(), "--network " + string(hc.NetworkMode)},
		{typ: specs.UTSNamespace, skip: hc.UTSMode.IsHost()},
		{specs.PIDNamespace, hc.PidMode.IsHost(), hc.PidMode.IsContainer(), "--pid " + string(hc.PidMode)},
		{specs.IPCNamespace, hc.IpcMode.IsHost(), hc.IpcMode.IsContainer(), "--ipc " + string(hc.IpcMode)},
		{typ: specs.CgroupNamespace, skip: !cgroupPrivate},
		{typ: specs.UserNamespace, skip: !b.userns()},
	}
	for _, w := range wants {
		if w.skip {
			continue
		}
		p := b.in.NamespacePaths[w.typ]
		if w.shared && p == "" {
			return invalid("%s: the engine gave no namespace path to join", w.mode)
		}
		l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{Type: w.typ, Path: p})
	}
	if b.userns() && b.in.NamespacePaths[specs.UserNamespace] == "" {
		l.UIDMappings = slices.Clone(b.in.UIDMappings)
		l.GIDMappings = slices.Clone(b.in.GIDMappings)
	}
	return nil
}

// linux fills cgroupsPath, sysctls and the masked and read-only paths.
func (b *builder) linux() error {
	l := b.lx()
	parent := b.hc.CgroupParent
	if parent == "" {
		parent = b.in.Daemon.CgroupParent
	}
	if parent == "" {
		parent = DefaultCgroupParent
	}
	if slices.Contains(strings.Split(parent, "/"), "..") {
		return invalid("invalid --cgroup-parent %q: must not contain \"..\"", parent)
	}
	l.CgroupsPath = path.Join(parent, b.in.ID)
	l.Sysctl = map[string]string{}
	if b.privateNetwork() {
		// Ports below 1024 and ICMP echo sockets without CAP_NET_BIND_SERVICE
		// or CAP_NET_RAW, as dockerd allows; ping sockets cannot be set up
		// in a user namespace.
		l.Sysctl["net.ipv4.ip_unprivileged_port_start"] = "0"
		if !b.userns() {
			l.Sysctl["net.ipv4.ping_group_range"] = "0 2147483647"
		}
	}
	maps.Copy(l.Sysctl, b.hc.Sysctls)
	if len(l.Sysctl) == 0 {
		l.Sysctl = nil
	}
	l.MaskedPaths, l.ReadonlyPaths = DefaultMaskedPaths(), DefaultReadonlyPaths()
	if b.hc.Privileged || b.sec.unconfinedPaths {
		l.MaskedPaths, l.ReadonlyPaths = nil, nil
	}
	if b.hc.MaskedPaths != nil {
		l.MaskedPaths = slices.Clone(b.hc.MaskedPaths)
	}
	if b.hc.ReadonlyPaths != nil {
		l.ReadonlyPaths = slices.Clone(b.hc.ReadonlyPaths)
	}
	return nil
}
