package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/corral-dev/corral/errdefs"
)

// Profile is a seccomp profile in Docker's JSON format, the format of
// `docker run --security-opt seccomp=FILE` (the docker CLI sends the file's
// contents) and of dockerd's --seccomp-profile. Beside the fields of the OCI
// linux.seccomp section it has archMap (the architectures to list, chosen by
// the host's) and syscall rules that apply only for some capabilities,
// architectures or kernel versions.
type Profile struct {
	DefaultAction    specs.LinuxSeccompAction `json:"defaultAction"`
	DefaultErrnoRet  *uint                    `json:"defaultErrnoRet,omitempty"`
	Architectures    []specs.Arch             `json:"architectures,omitempty"`
	ArchMap          []ArchMap                `json:"archMap,omitempty"`
	Flags            []specs.LinuxSeccompFlag `json:"flags,omitempty"`
	ListenerPath     string                   `json:"listenerPath,omitempty"`
	ListenerMetadata string                   `json:"listenerMetadata,omitempty"`
	Syscalls         []Syscall                `json:"syscalls"`
}

// ArchMap lists an architecture and the ones its kernel also runs (x86_64
// runs x86 and x32 binaries).
type ArchMap struct {
	Arch      specs.Arch   `json:"architecture"`
	SubArches []specs.Arch `json:"subArchitectures"`
}

// Syscall is one rule of a Profile: an OCI rule plus the conditions under
// which it applies. Name is the older single-name form of Names.
type Syscall struct {
	Name     string                   `json:"name,omitempty"`
	Names    []string                 `json:"names,omitempty"`
	Action   specs.LinuxSeccompAction `json:"action"`
	ErrnoRet *uint                    `json:"errnoRet,omitempty"`
	Args     []specs.LinuxSeccompArg  `json:"args,omitempty"`
	Comment  string                   `json:"comment,omitempty"`
	Includes *Filter                  `json:"includes,omitempty"`
	Excludes *Filter                  `json:"excludes,omitempty"`
}

// Filter is a condition of a rule. In Includes every listed capability must
// be in the container's bounding set, the host architecture (Go's name:
// amd64, arm64, ...; also x86, x32 as libseccomp names them) must be listed
// and the kernel must be at least MinKernel ("major.minor"); in Excludes the
// rule is dropped when any capability is held, the architecture is listed or
// the kernel is at least MinKernel.
type Filter struct {
	Caps      []string `json:"caps,omitempty"`
	Arches    []string `json:"arches,omitempty"`
	MinKernel string   `json:"minKernel,omitempty"`
}

// seccompEnv is what a profile's conditions are evaluated against.
type seccompEnv struct {
	caps   []string // bounding set, CAP_ names
	arch   string   // Go's GOARCH
	kernel string   // "6.18"; "" counts as newer than any minKernel
}

// ParseProfile decodes a profile in Docker's JSON format and checks its
// actions, operators, architectures and flags. Errors are of class
// errdefs.ErrInvalidArgument.
func ParseProfile(data []byte) (*Profile, error) {
	var p Profile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&p); err != nil {
		return nil, errdefs.InvalidArgument(fmt.Errorf("decode seccomp profile: %w", err))
	}
	if err := p.validate(); err != nil {
		return nil, errdefs.InvalidArgument(fmt.Errorf("seccomp profile: %w", err))
	}
	return &p, nil
}

var seccompActions = []specs.LinuxSeccompAction{
	specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap,
	specs.ActErrno, specs.ActTrace, specs.ActAllow, specs.ActLog, specs.ActNotify,
}

var seccompOps = []specs.LinuxSeccompOperator{
	specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
	specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual,
}

var seccompFlags = []specs.LinuxSeccompFlag{
	specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow,
	specs.LinuxSeccompFlagWaitKillableRecv, "SECCOMP_FILTER_FLAG_TSYNC",
}

var seccompArches = []specs.Arch{
	specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64,
	specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL,
	specs.ArchMIPSEL64, specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64,
	specs.ArchPPC64LE, specs.ArchS390, specs.ArchS390X, specs.ArchPARISC,
	specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64, specs.ArchM68K,
	specs.ArchSH, specs.ArchSHEB,
}

func (p *Profile) validate() error {
	if p.disabled() {
		return nil
	}
	if !slices.Contains(seccompActions, p.DefaultAction) {
		return fmt.Errorf("defaultAction: unknown action %q", p.DefaultAction)
	}
	if len(p.Architectures) > 0 && len(p.ArchMap) > 0 {
		return fmt.Errorf("both architectures and archMap are set; use one")
	}
	if err := checkArches("architectures", p.Architectures); err != nil {
		return err
	}
	for i, m := range p.ArchMap {
		field := fmt.Sprintf("archMap[%d]", i)
		if err := checkArches(field, append([]specs.Arch{m.Arch}, m.SubArches...)); err != nil {
			return err
		}
	}
	for _, f := range p.Flags {
		if !slices.Contains(seccompFlags, f) {
			return fmt.Errorf("flags: unknown flag %q", f)
		}
	}
	for i := range p.Syscalls {
		if err := p.Syscalls[i].validate(); err != nil {
			return fmt.Errorf("syscalls[%d]: %w", i, err)
		}
	}
	return nil
}

func checkArches(field string, arches []specs.Arch) error {
	for _, a := range arches {
		if !slices.Contains(seccompArches, a) {
			return fmt.Errorf("%s: unknown architecture %q", field, a)
		}
	}
	return nil
}

func (s *Syscall) validate() error {
	if s.Name != "" && len(s.Names) > 0 {
		return fmt.Errorf("both name and names are set; use one")
	}
	if s.Name == "" && len(s.Names) == 0 {
		return fmt.Errorf("no syscall names")
	}
	if !slices.Contains(seccompActions, s.Action) {
		return fmt.Errorf("action: unknown action %q", s.Action)
	}
	for i, a := range s.Args {
		if !slices.Contains(seccompOps, a.Op) {
			return fmt.Errorf("args[%d].op: unknown operator %q", i, a.Op)
		}
		if a.Index > 5 {
			return fmt.Errorf("args[%d].index: %d is not an argument index (0-5)", i, a.Index)
		}
	}
	for _, f := range []*Filter{s.Includes, s.Excludes} {
		if f == nil || f.MinKernel == "" {
			continue
		}
		if _, _, err := parseKernel(f.MinKernel); err != nil {
			return fmt.Errorf("minKernel: %w", err)
		}
	}
	return nil
}

// disabled reports whether the profile is empty, which Docker reads as
// "no seccomp".
func (p *Profile) disabled() bool {
	return p.DefaultAction == "" && len(p.Syscalls) == 0
}

// resolve turns the profile into the OCI section for one container: the
// architectures of the host's archMap entry and the rules whose conditions
// hold.
func (p *Profile) resolve(env seccompEnv) (*specs.LinuxSeccomp, error) {
	if p.disabled() {
		return nil, nil
	}
	out := &specs.LinuxSeccomp{
		DefaultAction:    p.DefaultAction,
		DefaultErrnoRet:  p.DefaultErrnoRet,
		Architectures:    slices.Clone(p.Architectures),
		Flags:            slices.Clone(p.Flags),
		ListenerPath:     p.ListenerPath,
		ListenerMetadata: p.ListenerMetadata,
	}
	if native, ok := seccompNative[env.arch]; ok {
		for _, m := range p.ArchMap {
			if m.Arch == native {
				out.Architectures = append(append(out.Architectures, m.Arch), m.SubArches...)
				break
			}
		}
	}
	for _, s := range p.Syscalls {
		ok, err := s.applies(env)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		names := s.Names
		if s.Name != "" {
			names = []string{s.Name}
		}
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{
			Names: slices.Clone(names), Action: s.Action, ErrnoRet: s.ErrnoRet, Args: slices.Clone(s.Args),
		})
	}
	return out, nil
}

// seccompNative maps GOARCH to the architecture a profile's archMap names.
var seccompNative = map[string]specs.Arch{
	"386": specs.ArchX86, "amd64": specs.ArchX86_64, "arm": specs.ArchARM,
	"arm64": specs.ArchAARCH64, "loong64": specs.ArchLOONGARCH64,
	"mips64": specs.ArchMIPS64, "mips64le": specs.ArchMIPSEL64, "mipsle": specs.ArchMIPSEL,
	"ppc64": specs.ArchPPC64, "ppc64le": specs.ArchPPC64LE, "riscv64": specs.ArchRISCV64,
	"s390x": specs.ArchS390X,
}

// seccompArchName maps GOARCH to the name includes/excludes use for it.
var seccompArchName = map[string]string{"386": "x86", "mips64le": "mipsel64", "mipsle": "mipsel"}

func (s *Syscall) applies(env seccompEnv) (bool, error) {
	arch := env.arch
	if n, ok := seccompArchName[arch]; ok {
		arch = n
	}
	if f := s.Excludes; f != nil {
		if slices.Contains(f.Arches, arch) || slices.ContainsFunc(f.Caps, func(c string) bool {
			return slices.Contains(env.caps, c)
		}) {
			return false, nil
		}
		if f.MinKernel != "" {
			if newer, err := kernelAtLeast(env.kernel, f.MinKernel); err != nil || newer {
				return false, err
			}
		}
	}
	if f := s.Includes; f != nil {
		if len(f.Arches) > 0 && !slices.Contains(f.Arches, arch) {
			return false, nil
		}
		for _, c := range f.Caps {
			if !slices.Contains(env.caps, c) {
				return false, nil
			}
		}
		if f.MinKernel != "" {
			if newer, err := kernelAtLeast(env.kernel, f.MinKernel); err != nil || !newer {
				return false, err
			}
		}
	}
	return true, nil
}

// kernelAtLeast reports whether the kernel release (uname -r, e.g.
// "6.18.0-1-amd64") is at least min ("4.8"). An empty release counts as
// newer than any.
func kernelAtLeast(release, min string) (bool, error) {
	if release == "" {
		return true, nil
	}
	maj, minor, err := parseKernel(release)
	if err != nil {
		return false, errdefs.InvalidArgument(fmt.Errorf("kernel version: %w", err))
	}
	wantMaj, wantMinor, err := parseKernel(min)
	if err != nil {
		return false, errdefs.InvalidArgument(fmt.Errorf("seccomp profile minKernel: %w", err))
	}
	return maj > wantMaj || (maj == wantMaj && minor >= wantMinor), nil
}

// parseKernel reads "major.minor" from the start of a kernel release.
func parseKernel(s string) (major, minor int, err error) {
	a, rest, ok := strings.Cut(s, ".")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not major.minor", s)
	}
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end >= 0 {
		rest = rest[:end]
	}
	major, err1 := strconv.Atoi(a)
	minor, err2 := strconv.Atoi(rest)
	if err1 != nil || err2 != nil || major < 0 || minor < 0 {
		return 0, 0, fmt.Errorf("%q is not major.minor", s)
	}
	return major, minor, nil
}
