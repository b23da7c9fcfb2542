package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/image"
)

// defaultShell is the shell of the shell form when SHELL set none.
var defaultShell = []string{"/bin/sh", "-c"}

// dispatch runs one instruction on s.
func (j *job) dispatch(ctx context.Context, s *state, c instructions.Command) error {
	if e, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		if _, isRun := c.(*instructions.RunCommand); !isRun {
			if err := e.Expand(j.expander(s)); err != nil {
				return errdefs.InvalidArgument(err)
			}
		}
	}
	switch c := c.(type) {
	case *instructions.RunCommand:
		return j.runStep(ctx, s, c)
	case *instructions.CopyCommand:
		if err := unsupportedCopy(c.Parents, c.ExcludePatterns, ""); err != nil {
			return err
		}
		return j.copy(ctx, s, copyArgs{sd: c.SourcesAndDest, from: c.From, chown: c.Chown, chmod: c.Chmod, text: c.String()})
	case *instructions.AddCommand:
		if err := unsupportedCopy(c.KeepGitDir != nil || (c.Unpack != nil && !*c.Unpack), c.ExcludePatterns, c.Checksum); err != nil {
			return err
		}
		return j.copy(ctx, s, copyArgs{sd: c.SourcesAndDest, chown: c.Chown, chmod: c.Chmod, add: true, text: c.String()})
	case *instructions.ArgCommand:
		j.arg(s, c)
		return j.commitConfig(ctx, s, c.String())
	case *instructions.WorkdirCommand:
		return j.workdir(ctx, s, c)
	}
	if err := configure(s, c); err != nil {
		return err
	}
	return j.commitConfig(ctx, s, c.(fmt.Stringer).String())
}

// unsupportedCopy refuses the COPY/ADD flags whose meaning the builder
// does not implement (rather than ignore them): --parents, --exclude,
// --checksum, --keep-git-dir, --unpack=false.
func unsupportedCopy(other bool, exclude []string, checksum string) error {
	if other || len(exclude) > 0 || checksum != "" {
		return errdefs.Wrap(errdefs.ErrNotImplemented, errors.New("--parents, --exclude, --checksum, --keep-git-dir and --unpack are not supported yet"))
	}
	return nil
}

// configure applies an instruction that only changes the config.
func configure(s *state, c instructions.Command) error {
	cfg := &s.cfg
	switch c := c.(type) {
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			cfg.Env = setEnv(cfg.Env, kv.Key, kv.Value)
		}
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range c.Labels {
			cfg.Labels[kv.Key] = kv.Value
		}
	case *instructions.UserCommand:
		cfg.User = c.User
	case *instructions.CmdCommand:
		cfg.Cmd, s.cmdSet = commandLine(cfg, c.ShellDependantCmdLine), true
	case *instructions.EntrypointCommand:
		cfg.Entrypoint = commandLine(cfg, c.ShellDependantCmdLine)
		if !s.cmdSet {
			cfg.Cmd = nil
		}
	case *instructions.ExposeCommand:
		return expose(cfg, c.Ports)
	case *instructions.VolumeCommand:
		return volumes(cfg, c.Volumes)
	case *instructions.StopSignalCommand:
		cfg.StopSignal = c.Signal
	case *instructions.HealthCheckCommand:
		h := c.Health
		cfg.Healthcheck = &image.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
	case *instructions.ShellCommand:
		cfg.Shell = slices.Clone(c.Shell)
	case *instructions.OnbuildCommand:
		cfg.OnBuild = append(cfg.OnBuild, c.Expression)
	case *instructions.MaintainerCommand:
		// docker records it as the image's author only; nothing to run
	default:
		return errdefs.InvalidArgument(fmt.Errorf("instruction %s is not supported", strings.ToUpper(c.Name())))
	}
	return nil
}

// commitConfig makes the image of a config-only step on s.
func (j *job) commitConfig(ctx context.Context, s *state, text string) error {
	key := j.key(s, text, configDigest(s.cfg))
	return j.cached(ctx, s, key, func() (string, error) {
		return j.b.opts.Images.Commit(ctx, Commit{Parent: s.id, Epoch: j.epoch, Config: s.cfg.Clone(),
			CreatedBy: "/bin/sh -c #(nop) " + text})
	})
}

// configDigest fingerprints cfg for the cache key of config steps, whose
// result is the config alone (an ONBUILD trigger's text is not enough).
func configDigest(cfg image.ContainerConfig) string {
	b, _ := json.Marshal(cfg)
	return string(b)
}

// arg declares the ARGs of c in s's scope: a build arg's value, else the
// default, else the meta arg's.
func (j *job) arg(s *state, c *instructions.ArgCommand) {
	for _, kv := range c.Args {
		j.use(kv.Key)
		switch v, ok := j.opts.BuildArgs[kv.Key]; {
		case ok && v != nil:
			s.args[kv.Key] = *v
		case kv.Value != nil:
			s.args[kv.Key] = *kv.Value
		default:
			if m, ok := j.meta[kv.Key]; ok {
				s.args[kv.Key] = m
			}
		}
	}
}

// commandLine is CMD's or ENTRYPOINT's argv: the shell form run by the
// config's shell.
func commandLine(cfg *image.ContainerConfig, c instructions.ShellDependantCmdLine) []string {
	if !c.PrependShell {
		return slices.Clone(c.CmdLine)
	}
	return append(shellOf(cfg), strings.Join(c.CmdLine, " "))
}

func shellOf(cfg *image.ContainerConfig) []string {
	if len(cfg.Shell) > 0 {
		return slices.Clone(cfg.Shell)
	}
	return slices.Clone(defaultShell)
}

// setEnv sets k=v in env, in place of an earlier k.
func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			env = slices.Clone(env)
			env[i] = k + "=" + v
			return env
		}
	}
	return append(slices.Clone(env), k+"="+v)
}

// expose adds ports ("80", "53/udp", "8000-8002/tcp") to cfg.
func expose(cfg *image.ContainerConfig, ports []string) error {
	if cfg.ExposedPorts == nil {
		cfg.ExposedPorts = map[string]struct{}{}
	}
	for _, p := range ports {
		num, proto, _ := strings.Cut(p, "/")
		if proto == "" {
			proto = "tcp"
		}
		lo, hi, err := portRange(num)
		if err != nil || (proto != "tcp" && proto != "udp" && proto != "sctp") {
			return errdefs.InvalidArgument(fmt.Errorf("invalid port %q in EXPOSE", p))
		}
		for n := lo; n <= hi; n++ {
			cfg.ExposedPorts[fmt.Sprintf("%d/%s", n, proto)] = struct{}{}
		}
	}
	return nil
}

func portRange(s string) (int, int, error) {
	a, b, isRange := strings.Cut(s, "-")
	var lo, hi int
	if _, err := fmt.Sscanf(a, "%d", &lo); err != nil || fmt.Sprint(lo) != a {
		return 0, 0, errors.New("bad port")
	}
	hi = lo
	if isRange {
		if _, err := fmt.Sscanf(b, "%d", &hi); err != nil || fmt.Sprint(hi) != b {
			return 0, 0, errors.New("bad port")
		}
	}
	if lo < 1 || hi > 65535 || hi < lo {
		return 0, 0, errors.New("bad port")
	}
	return lo, hi, nil
}

func volumes(cfg *image.ContainerConfig, vols []string) error {
	if cfg.Volumes == nil {
		cfg.Volumes = map[string]struct{}{}
	}
	for _, v := range vols {
		if strings.TrimSpace(v) == "" {
			return errdefs.InvalidArgument(errors.New("VOLUME specified can not be an empty string"))
		}
		cfg.Volumes[v] = struct{}{}
	}
	return nil
}

// label adds labels (--label) to the image of s, as a last step.
func (j *job) label(ctx context.Context, s *state, labels map[string]string) error {
	if s.cfg.Labels == nil {
		s.cfg.Labels = map[string]string{}
	}
	maps.Copy(s.cfg.Labels, labels)
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, fmt.Sprintf("%q=%q", k, labels[k]))
	}
	return j.commitConfig(ctx, s, "LABEL "+strings.Join(parts, " "))
}

func joinCmd(cmd []string) string { return strings.Join(cmd, " ") }
