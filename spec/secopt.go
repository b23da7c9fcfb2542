package spec

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Values of --security-opt seccomp= besides a profile.
const (
	SeccompUnconfined = "unconfined"
	SeccompBuiltin    = "builtin"
)

// securityOpts is what HostConfig.SecurityOpt says.
type securityOpts struct {
	// noNewPrivileges and writableCgroups are nil when not given.
	noNewPrivileges *bool
	writableCgroups *bool
	// seccomp is "", "unconfined", "builtin" or a JSON profile.
	seccomp string
	// unconfinedPaths is systempaths=unconfined: no masked or read-only
	// paths.
	unconfinedPaths bool
}

// parseSecurityOpts reads Docker's --security-opt values: no-new-privileges
// [=bool], seccomp=unconfined|builtin|<profile JSON> (the docker CLI sends
// a file's contents), systempaths=unconfined, writable-cgroups[=bool];
// label= and apparmor= are accepted and ignored (no SELinux or AppArmor
// here). "key:value" is the old spelling of "key=value".
func parseSecurityOpts(opts []string) (securityOpts, error) {
	var s securityOpts
	yes := true
	for _, opt := range opts {
		switch opt {
		case "no-new-privileges":
			s.noNewPrivileges = &yes
			continue
		case "writable-cgroups":
			s.writableCgroups = &yes
			continue
		case "disable":
			continue // label=disable's short form
		}
		k, v, ok := strings.Cut(opt, "=")
		if !ok {
			k, v, ok = strings.Cut(opt, ":")
		}
		if !ok {
			return s, invalid("invalid --security-opt %q: want KEY=VALUE", opt)
		}
		if err := s.set(k, v); err != nil {
			return s, invalid("invalid --security-opt %q: %v", shorten(opt), err)
		}
	}
	return s, nil
}

func (s *securityOpts) set(k, v string) error {
	switch k {
	case "label", "apparmor":
	case "seccomp":
		s.seccomp = v
	case "no-new-privileges", "writable-cgroups":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return err
		}
		if k == "no-new-privileges" {
			s.noNewPrivileges = &b
		} else {
			s.writableCgroups = &b
		}
	case "systempaths":
		if v != "unconfined" {
			return errUnknownValue
		}
		s.unconfinedPaths = true
	default:
		return errUnknownOption
	}
	return nil
}

type optError string

func (e optError) Error() string { return string(e) }

const (
	errUnknownValue  = optError("unknown value")
	errUnknownOption = optError("unknown option")
)

// shorten keeps an error message short when a value is a whole profile.
func shorten(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// seccomp fills linux.seccomp: none for unconfined or a privileged
// container (unless it names a profile), else the container's profile,
// the daemon's or the built-in one, resolved for the container's
// capabilities, the host's architecture and kernel.
func (b *builder) seccomp() error {
	choice := b.sec.seccomp
	if choice == "" && b.hc.Privileged {
		return nil
	}
	if choice == "" {
		choice = b.in.Daemon.SeccompProfile
	}
	var p *Profile
	switch choice {
	case SeccompUnconfined:
		return nil
	case "", SeccompBuiltin:
		p = DefaultProfile()
	default:
		var err error
		if p, err = ParseProfile([]byte(choice)); err != nil {
			return fmt.Errorf("--security-opt seccomp: %w", err)
		}
	}
	sc, err := p.resolve(seccompEnv{caps: b.caps, arch: b.in.Host.Arch, kernel: b.in.Host.KernelRelease})
	if err != nil {
		return err
	}
	b.lx().Seccomp = sc
	return nil
}

// SeccompFor resolves a profile (nil for the built-in one) for a capability
// set on an architecture (GOARCH) and kernel release: what a container
// with those capabilities gets.
func SeccompFor(p *Profile, caps []string, arch, kernelRelease string) (*specs.LinuxSeccomp, error) {
	if p == nil {
		p = DefaultProfile()
	}
	return p.resolve(seccompEnv{caps: caps, arch: arch, kernel: kernelRelease})
}
