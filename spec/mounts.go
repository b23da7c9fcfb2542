package spec

import (
	"maps"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultShmSize is the size of /dev/shm when HostConfig.ShmSize is 0.
const DefaultShmSize = 64 << 20

// defaultMounts are the filesystems every container gets, as dockerd's.
func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777"}},
	}
}

// mounts fills spec.mounts: the defaults not overridden by the container's
// own mounts, the init binary, then the container's mounts (volumes,
// binds, tmpfs, the engine's /etc files, /dev/shm) ordered by depth.
func (b *builder) mounts() error {
	user, err := b.userMounts()
	if err != nil {
		return err
	}
	dests := map[string]bool{}
	for _, m := range user {
		dests[m.Destination] = true
	}
	var out []specs.Mount
	for _, m := range defaultMounts() {
		switch {
		case dests[m.Destination], dests["/dev"] && strings.HasPrefix(m.Destination, "/dev/"):
			continue
		case m.Destination == "/dev/shm":
			if b.hc.IpcMode.IsNone() {
				continue
			}
			size := b.hc.ShmSize
			if size == 0 {
				size = DefaultShmSize
			}
			m.Options = append(m.Options, "size="+strconv.FormatInt(size, 10))
		}
		out = append(out, m)
	}
	if b.useInit() {
		out = append(out, specs.Mount{Destination: InitPath, Type: "bind", Source: b.in.Daemon.InitPath, Options: []string{"bind", "ro"}})
	}
	if b.hc.ReadonlyRootfs {
		for i := range out {
			switch out[i].Destination {
			case "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue":
			default:
				out[i].Options = addOption(out[i].Options, "ro")
			}
		}
	}
	b.systemMountModes(out)
	b.s.Mounts = append(out, user...)
	return nil
}

// systemMountModes makes /sys writable for privileged containers, and the
// cgroup filesystem for privileged ones, with writable-cgroups, or in a
// user namespace.
func (b *builder) systemMountModes(ms []specs.Mount) {
	writableCgroups := b.hc.Privileged || b.userns()
	if b.sec.writableCgroups != nil {
		writableCgroups = *b.sec.writableCgroups
	}
	for i, m := range ms {
		if (m.Destination == "/sys" && b.hc.Privileged) || (m.Type == "cgroup" && writableCgroups) {
			ms[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "ro" })
		}
	}
}

// userMounts converts the container's own mounts, sorted by depth (stable,
// so parents come before the mounts inside them).
func (b *builder) userMounts() ([]specs.Mount, error) {
	var out []specs.Mount
	for _, m := range b.in.Mounts {
		sm, err := b.convertMount(m)
		if err != nil {
			return nil, err
		}
		out = append(out, sm)
	}
	tmpfs, err := b.tmpfsMounts()
	if err != nil {
		return nil, err
	}
	out = append(out, tmpfs...)
	out = append(out, b.engineMounts(out)...)
	for i, m := range out {
		if dup := slices.IndexFunc(out[:i], func(o specs.Mount) bool { return o.Destination == m.Destination }); dup >= 0 {
			return nil, invalid("duplicate mount point: %s", m.Destination)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return depth(out[i].Destination) < depth(out[j].Destination) })
	return out, nil
}

func depth(p string) int { return strings.Count(path.Clean(p), "/") }

// tmpfsMounts converts HostConfig.Tmpfs (--tmpfs PATH[:OPTIONS]), in path
// order.
func (b *builder) tmpfsMounts() ([]specs.Mount, error) {
	var out []specs.Mount
	for _, dest := range slices.Sorted(maps.Keys(b.hc.Tmpfs)) {
		var opts []string
		if o := b.hc.Tmpfs[dest]; o != "" {
			opts = strings.Split(o, ",")
		}
		sm, err := b.convertMount(Mount{Type: "tmpfs", Destination: dest, Options: opts})
		if err != nil {
			return nil, err
		}
		out = append(out, sm)
	}
	return out, nil
}

// engineMounts are the files and directories the engine made for the
// container: /etc/resolv.conf, /etc/hostname, /etc/hosts (read-only with a
// read-only rootfs) and /dev/shm; a file the container mounts itself stays
// the container's.
func (b *builder) engineMounts(own []specs.Mount) []specs.Mount {
	var out []specs.Mount
	add := func(src, dest string, ro bool) {
		if src == "" || slices.ContainsFunc(own, func(m specs.Mount) bool { return m.Destination == dest }) {
			return
		}
		opts := []string{"rbind"}
		if ro {
			opts = append(opts, "ro")
		}
		out = append(out, specs.Mount{Destination: dest, Type: "bind", Source: src, Options: append(opts, "rprivate")})
	}
	ro := b.hc.ReadonlyRootfs
	add(b.in.ResolvConfPath, "/etc/resolv.conf", ro)
	add(b.in.HostnamePath, "/etc/hostname", ro)
	add(b.in.HostsPath, "/etc/hosts", ro)
	if !b.hc.IpcMode.IsNone() {
		add(b.in.ShmPath, "/dev/shm", false)
	}
	return out
}

var propagations = []string{"private", "rprivate", "shared", "rshared", "slave", "rslave"}

// convertMount checks one of the container's mounts and converts it.
func (b *builder) convertMount(m Mount) (specs.Mount, error) {
	dest := path.Clean(m.Destination)
	switch {
	case !path.IsAbs(m.Destination):
		return specs.Mount{}, invalid("invalid mount destination %q: not an absolute path", m.Destination)
	case dest == "/":
		return specs.Mount{}, invalid("invalid mount destination %q: cannot mount over /", m.Destination)
	case m.Propagation != "" && !slices.Contains(propagations, m.Propagation):
		return specs.Mount{}, invalid("invalid mount %s: unknown propagation %q", dest, m.Propagation)
	}
	switch m.Type {
	case "tmpfs":
		opts, err := tmpfsOptions(m)
		if err != nil {
			return specs.Mount{}, err
		}
		return specs.Mount{Destination: dest, Type: "tmpfs", Source: "tmpfs", Options: opts}, nil
	case "bind":
		if !path.IsAbs(m.Source) {
			return specs.Mount{}, invalid("invalid mount %s: source %q is not an absolute path", dest, m.Source)
		}
		return specs.Mount{Destination: dest, Type: "bind", Source: m.Source, Options: b.bindOptions(m)}, nil
	}
	return specs.Mount{}, invalid("invalid mount %s: unknown type %q (bind or tmpfs)", dest, m.Type)
}

func (b *builder) bindOptions(m Mount) []string {
	opts := []string{"rbind"}
	if m.NonRecursive {
		opts = []string{"bind"}
	}
	if m.ReadOnly {
		ro := "rro"
		if m.ReadOnlyNonRecursive || m.NonRecursive || !kernelHasRRO(b.in.Host.KernelRelease) {
			ro = "ro"
		}
		opts = append(opts, ro)
	}
	if m.Propagation != "" {
		opts = append(opts, m.Propagation)
		b.rootPropagation(m.Propagation)
	}
	return opts
}

// kernelHasRRO reports whether the kernel has mount_setattr(2) (5.12),
// which recursively read-only binds need.
func kernelHasRRO(release string) bool {
	ok, err := kernelAtLeast(release, "5.12")
	return err == nil && ok
}

// rootPropagation makes the rootfs propagation allow a shared or slave
// mount's events to reach the container, as dockerd does.
func (b *builder) rootPropagation(p string) {
	if b.s.Linux == nil {
		b.s.Linux = &specs.Linux{}
	}
	root := strings.TrimPrefix(b.s.Linux.RootfsPropagation, "r")
	switch strings.TrimPrefix(p, "r") {
	case "shared":
		if root != "shared" {
			b.s.Linux.RootfsPropagation = "shared"
		}
	case "slave":
		if root != "shared" && root != "slave" {
			b.s.Linux.RootfsPropagation = "rslave"
		}
	}
}
