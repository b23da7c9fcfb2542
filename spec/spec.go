// Package spec builds the OCI runtime config (config.json) of a container
// from Docker's wire types (container.Config and HostConfig), the image's
// config and what the engine decided (ID, rootfs, resolved mounts and
// devices, namespace paths, host facts). It does what dockerd's createSpec
// does, and its output is close to the config.json dockerd writes; it reads
// no files and makes no syscalls, so Build is a pure function, tested with
// golden files (go test ./spec -update rewrites testdata/*.json).
//
// What the engine must resolve beforehand, because it needs the host or the
// rootfs: user names (pass the rootfs's /etc/passwd and /etc/group), --device
// host paths (stat them into Device values), volume names (Mount.Source is a
// host path), blkio device paths (DeviceNumbers), the network namespace
// (NamespacePaths) and the host's facts (Host).
//
// The default seccomp profile is an allow-list equivalent to Docker's, kept
// in Docker's profile format (Profile) so that --security-opt seccomp=<json>
// profiles go through the same code: conditions on capabilities,
// architecture and kernel version are resolved here, per container.
//
// Errors caused by the user's input are of class errdefs.ErrInvalidArgument
// and name the flag or field and the value.
package spec

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"

	"github.com/moby/moby/api/types/container"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/corral-dev/corral/errdefs"
)

// Input is everything Build reads.
type Input struct {
	// ID is the container's ID (64 hex digits).
	ID string
	// Config and HostConfig are the container's, as stored at create.
	Config     *container.Config
	HostConfig *container.HostConfig
	// Image, when set, is merged under Config first, by Docker's
	// create-time rules (MergeImageConfig); leave it nil when Config was
	// merged already (dockerd stores the merged config).
	Image *ocispec.ImageConfig

	// Rootfs is the host path of the container's root filesystem.
	Rootfs string
	// ResolvConfPath, HostnamePath and HostsPath are files the engine made
	// for the container, bind-mounted over /etc/resolv.conf, /etc/hostname
	// and /etc/hosts; "" leaves the image's file.
	ResolvConfPath, HostnamePath, HostsPath string
	// ShmPath, when set, is bind-mounted at /dev/shm (ipc mode shareable,
	// host or container:<id>); otherwise /dev/shm is a tmpfs of
	// HostConfig.ShmSize (none with ipc mode none).
	ShmPath string
	// Passwd and Group are the contents of the rootfs's /etc/passwd and
	// /etc/group (nil when absent), read safely by the engine, to resolve
	// user and group names (ResolveUser).
	Passwd, Group []byte

	// Mounts are the container's volumes, bind mounts and --mount tmpfs
	// mounts, resolved by the engine. HostConfig.Tmpfs is read by Build.
	Mounts []Mount
	// Devices are HostConfig.Devices resolved by the engine (a directory
	// becomes the devices under it).
	Devices []Device
	// HostDevices are all of the host's devices, given to --privileged
	// containers.
	HostDevices []Device
	// DeviceNumbers has the major:minor of the host paths that HostConfig's
	// blkio limits name.
	DeviceNumbers map[string]DeviceNumber
	// NamespacePaths are existing namespaces to join: network (the one the
	// engine made, or another container's), ipc and pid for container:<id>
	// modes. A private namespace without a path is created new.
	NamespacePaths map[specs.LinuxNamespaceType]string
	// UIDMappings and GIDMappings, when set, put the container in a new user
	// namespace (daemon-wide remapping), unless HostConfig.UsernsMode is host.
	UIDMappings, GIDMappings []specs.LinuxIDMapping
	// Hooks are passed through (network setup hooks, for example).
	Hooks *specs.Hooks

	Daemon Daemon
	Host   Host
}

// Daemon holds the daemon-wide settings that apply when the container's
// own configuration says nothing.
type Daemon struct {
	// Ulimits are the default ulimits (dockerd --default-ulimit); see
	// DefaultUlimits. Nil adds none: the container inherits the runtime's.
	Ulimits []*container.Ulimit
	// SeccompProfile is the default profile: "" for the built-in one,
	// "unconfined", or a profile in Docker's JSON format.
	SeccompProfile string
	// NoNewPrivileges sets no_new_privs for every container.
	NoNewPrivileges bool
	// Init runs InitPath as PID 1 when HostConfig.Init is unset.
	Init bool
	// InitPath is the host path of the init binary for --init, bind-mounted
	// read-only at /sbin/corral-init.
	InitPath string
	// CgroupParent is the parent of containers' cgroups when
	// HostConfig.CgroupParent is empty; "" means "/corral".
	CgroupParent string
}

// Host holds facts about the host that the config depends on.
type Host struct {
	// Arch is the GOARCH of the host; "" means runtime.GOARCH.
	Arch string
	// KernelRelease is uname -r; "" counts as a recent kernel.
	KernelRelease string
	// CgroupV2 says the host uses the unified hierarchy only; containers
	// then get a private cgroup namespace by default, as with dockerd.
	CgroupV2 bool
	// Caps are the capabilities the daemon can grant (its bounding set);
	// nil means every known capability.
	Caps []string
	// NumCPU bounds --cpus; 0 skips the check.
	NumCPU int
}

// Mount is a mount the engine resolved: a bind mount or volume (Source is a
// host path) or a tmpfs.
type Mount struct {
	// Type is "bind" (bind mounts and volumes) or "tmpfs".
	Type        string
	Source      string
	Destination string
	ReadOnly    bool
	// ReadOnlyNonRecursive makes a read-only bind "ro" (its submounts stay
	// writable) rather than recursively read-only.
	ReadOnlyNonRecursive bool
	// NonRecursive binds without the submounts of Source ("bind", not
	// "rbind").
	NonRecursive bool
	// Propagation is "", private, rprivate, shared, rshared, slave or
	// rslave; dockerd uses rprivate for bind mounts and "" for volumes.
	Propagation string
	// Options of a tmpfs (size=, mode=, exec, ...), merged over the defaults
	// noexec, nosuid, nodev.
	Options []string
}

// Device is a device node the engine found on the host (--device), with the
// path it gets in the container.
type Device struct {
	// Path is the path in the container.
	Path string
	// Type is "c" (character), "b" (block) or "p" (fifo).
	Type         string
	Major, Minor int64
	FileMode     os.FileMode
	UID, GID     uint32
	// Access is the device cgroup permission: r, w and m; "" means rwm.
	Access string
}

// DeviceNumber is a block device's major and minor numbers.
type DeviceNumber struct{ Major, Minor int64 }

// Build returns the OCI runtime config of the container.
func Build(in Input) (*specs.Spec, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	cfg := *in.Config
	if in.Image != nil {
		cfg = *MergeImageConfig(&cfg, in.Image)
	}
	if cfg.Hostname == "" {
		cfg.Hostname = in.ID[:min(12, len(in.ID))]
	}
	hc := in.HostConfig
	if err := Validate(&cfg, hc); err != nil {
		return nil, err
	}
	sec, err := parseSecurityOpts(hc.SecurityOpt)
	if err != nil {
		return nil, err
	}
	b := &builder{in: in, cfg: &cfg, hc: hc, sec: sec, s: &specs.Spec{Version: specs.Version}}
	if b.in.Host.Arch == "" {
		b.in.Host.Arch = runtime.GOARCH
	}
	for _, step := range []func() error{
		b.process, b.root, b.mounts, b.namespaces, b.linux, b.resources, b.devices, b.seccomp,
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	b.s.Hooks = cloneHooks(in.Hooks)
	if len(hc.Annotations) > 0 {
		b.s.Annotations = maps.Clone(hc.Annotations)
	}
	return b.s, nil
}

// builder carries Build's state between its steps.
type builder struct {
	in  Input
	cfg *container.Config
	hc  *container.HostConfig
	sec securityOpts
	s   *specs.Spec
	// caps is the capability set, which the seccomp profile depends on.
	caps []string
}

func (in *Input) check() error {
	switch {
	case in.ID == "":
		return errors.New("build spec: no container ID")
	case in.Config == nil || in.HostConfig == nil:
		return errors.New("build spec: Config and HostConfig are required")
	case in.Rootfs == "":
		return errors.New("build spec: no rootfs path")
	}
	return nil
}

// cloneHooks deep-copies the hooks.
func cloneHooks(h *specs.Hooks) *specs.Hooks {
	if h == nil {
		return nil
	}
	c := *h
	//lint:ignore SA1019 Prestart is deprecated in the spec, but runtimes still run it.
	for _, list := range []*[]specs.Hook{&c.Prestart, &c.CreateRuntime, &c.CreateContainer,
		&c.StartContainer, &c.Poststart, &c.Poststop} {
		*list = slices.Clone(*list)
		for i := range *list {
			hk := &(*list)[i]
			hk.Args, hk.Env = slices.Clone(hk.Args), slices.Clone(hk.Env)
			if hk.Timeout != nil {
				hk.Timeout = ptrTo(*hk.Timeout)
			}
		}
	}
	return &c
}

// ptrTo returns a pointer to a copy of v: the config must not point into
// the input.
func ptrTo[T any](v T) *T { return &v }

// invalid returns an errdefs.ErrInvalidArgument error.
func invalid(format string, args ...any) error {
	return errdefs.InvalidArgument(fmt.Errorf(format, args...))
}
