package spec

import (
	"maps"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultPath is the PATH of a container whose image sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// InitPath is where the --init binary appears in the container.
const InitPath = "/sbin/corral-init"

// MergeImageConfig returns the container's config with the image's filled
// in, as dockerd does at create: the image's user, working directory, stop
// signal when the container sets none; image environment variables the
// container does not set, after the container's; image labels, volumes and
// exposed ports the container lacks. The command: with no --entrypoint the
// image's Cmd applies when the container has none, and the image's
// Entrypoint when the container's is nil; an --entrypoint drops the image's
// Cmd; --entrypoint "" (Entrypoint [""]) clears the entrypoint. c is not
// modified.
func MergeImageConfig(c *container.Config, img *ocispec.ImageConfig) *container.Config {
	out := *c
	out.Env = slices.Clone(c.Env)
	out.Labels = maps.Clone(c.Labels)
	out.Volumes = maps.Clone(c.Volumes)
	out.ExposedPorts = maps.Clone(c.ExposedPorts)
	if img == nil {
		img = &ocispec.ImageConfig{}
	}
	if out.User == "" {
		out.User = img.User
	}
	if out.WorkingDir == "" {
		out.WorkingDir = img.WorkingDir
	}
	if out.StopSignal == "" {
		out.StopSignal = img.StopSignal
	}
	out.Env = mergeEnv(out.Env, img.Env)
	out.Labels = fill(out.Labels, img.Labels)
	out.Volumes = fill(out.Volumes, img.Volumes)
	for p := range img.ExposedPorts {
		if port, err := network.ParsePort(p); err == nil {
			if out.ExposedPorts == nil {
				out.ExposedPorts = network.PortSet{}
			}
			out.ExposedPorts[port] = struct{}{}
		}
	}
	if len(out.Entrypoint) == 0 {
		if len(out.Cmd) == 0 {
			out.Cmd = slices.Clone(img.Cmd)
		}
		if out.Entrypoint == nil {
			out.Entrypoint = slices.Clone(img.Entrypoint)
		}
	}
	if len(out.Entrypoint) == 1 && out.Entrypoint[0] == "" {
		out.Entrypoint = nil
	}
	return &out
}

// mergeEnv appends the image's variables whose names the container does not
// set.
func mergeEnv(own, image []string) []string {
	for _, e := range image {
		name, _, _ := strings.Cut(e, "=")
		if !slices.ContainsFunc(own, func(o string) bool {
			n, _, _ := strings.Cut(o, "=")
			return n == name
		}) {
			own = append(own, e)
		}
	}
	return own
}

// fill adds the entries of src whose keys dst lacks.
func fill[V any](dst, src map[string]V) map[string]V {
	for k, v := range src {
		if _, ok := dst[k]; !ok {
			if dst == nil {
				dst = map[string]V{}
			}
			dst[k] = v
		}
	}
	return dst
}

// Args returns the process's argv: Entrypoint followed by Cmd.
func Args(c *container.Config) []string {
	return append(slices.Clone([]string(c.Entrypoint)), c.Cmd...)
}

// Env returns the process environment as dockerd makes it: PATH, HOSTNAME
// and with a TTY TERM=xterm first, then the container's variables, which
// replace those of the same name; a variable without "=" removes it.
func Env(c *container.Config) []string {
	env := []string{"PATH=" + DefaultPath, "HOSTNAME=" + c.Hostname}
	if c.Tty {
		env = append(env, "TERM=xterm")
	}
	for _, e := range c.Env {
		name, _, hasValue := strings.Cut(e, "=")
		i := slices.IndexFunc(env, func(d string) bool { return strings.HasPrefix(d, name+"=") })
		switch {
		case !hasValue && i >= 0:
			env = slices.Delete(env, i, i+1)
		case !hasValue:
		case i >= 0:
			env[i] = e
		default:
			env = append(env, e)
		}
	}
	return env
}

// process fills spec.process.
func (b *builder) process() error {
	cfg, hc := b.cfg, b.hc
	p := &specs.Process{
		Terminal:        cfg.Tty,
		Args:            Args(cfg),
		Env:             Env(cfg),
		Cwd:             cfg.WorkingDir,
		NoNewPrivileges: b.in.Daemon.NoNewPrivileges,
		OOMScoreAdj:     ptrTo(hc.OomScoreAdj),
	}
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	if b.sec.noNewPrivileges != nil {
		p.NoNewPrivileges = *b.sec.noNewPrivileges
	}
	if cfg.Tty && hc.ConsoleSize[0] > 0 && hc.ConsoleSize[1] > 0 {
		p.ConsoleSize = &specs.Box{Height: hc.ConsoleSize[0], Width: hc.ConsoleSize[1]}
	}
	user, err := ResolveUser(cfg.User, hc.GroupAdd, b.in.Passwd, b.in.Group)
	if err != nil {
		return err
	}
	if hc.Umask != nil {
		user.Umask = ptrTo(*hc.Umask)
	}
	p.User = user
	if p.Rlimits, err = rlimits(hc.Ulimits, b.in.Daemon.Ulimits); err != nil {
		return err
	}
	if b.caps, err = Caps(hc.CapAdd, hc.CapDrop, hc.Privileged, b.in.Host.Caps); err != nil {
		return err
	}
	p.Capabilities = &specs.LinuxCapabilities{
		Bounding: b.caps, Effective: slices.Clone(b.caps), Permitted: slices.Clone(b.caps),
	}
	b.s.Process = p
	return b.init()
}

// useInit reports whether the container runs the engine's init as PID 1:
// --init (or the daemon's default) in a private PID namespace.
func (b *builder) useInit() bool {
	want := b.in.Daemon.Init
	if b.hc.Init != nil {
		want = *b.hc.Init
	}
	return want && !b.hc.PidMode.IsHost() && !b.hc.PidMode.IsContainer()
}

// init makes the engine's init PID 1: argv becomes [init, "--", argv...]
// and the binary is bind-mounted read-only (the mount is added with the
// others).
func (b *builder) init() error {
	if !b.useInit() {
		return nil
	}
	if b.in.Daemon.InitPath == "" {
		return invalid("--init: the engine has no init binary configured")
	}
	b.s.Process.Args = append([]string{InitPath, "--"}, b.s.Process.Args...)
	return nil
}

// root fills root, hostname and domainname.
func (b *builder) root() error {
	b.s.Root = &specs.Root{Path: b.in.Rootfs, Readonly: b.hc.ReadonlyRootfs}
	if b.hc.UTSMode.IsHost() {
		return nil
	}
	b.s.Hostname = b.cfg.Hostname
	b.s.Domainname = b.cfg.Domainname
	return nil
}
