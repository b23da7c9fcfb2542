package nsinit

import (
	"encoding/json"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The config init decodes is Config, but with its spec decoded into
// initSpec: specs.Spec less the parts init never reads (the cgroup
// resources and path, network devices, Intel RDT and the memory policy,
// which the runtime applies, and the sections of other systems). The
// first decoding of a type makes encoding/json build an encoder for every
// type its fields reach, whatever the input holds: for all of specs.Spec
// that is about 0.9 ms of every init's start in this VM, for initSpec
// about half. TestInitSpecFields keeps the two types in step, and
// TestInitReadsNoDroppedField keeps init off the fields left out.

// initSpec is specs.Spec as init decodes it.
type initSpec struct {
	Version     string            `json:"ociVersion"`
	Process     *specs.Process    `json:"process,omitempty"`
	Root        *specs.Root       `json:"root,omitempty"`
	Hostname    string            `json:"hostname,omitempty"`
	Domainname  string            `json:"domainname,omitempty"`
	Mounts      []specs.Mount     `json:"mounts,omitempty"`
	Hooks       *specs.Hooks      `json:"hooks,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Linux       *initLinux        `json:"linux,omitempty"`
}

// initLinux is specs.Linux as init decodes it.
type initLinux struct {
	UIDMappings       []specs.LinuxIDMapping           `json:"uidMappings,omitempty"`
	GIDMappings       []specs.LinuxIDMapping           `json:"gidMappings,omitempty"`
	Sysctl            map[string]string                `json:"sysctl,omitempty"`
	Namespaces        []specs.LinuxNamespace           `json:"namespaces,omitempty"`
	Devices           []specs.LinuxDevice              `json:"devices,omitempty"`
	Seccomp           *specs.LinuxSeccomp              `json:"seccomp,omitempty"`
	RootfsPropagation string                           `json:"rootfsPropagation,omitempty"`
	MaskedPaths       []string                         `json:"maskedPaths,omitempty"`
	ReadonlyPaths     []string                         `json:"readonlyPaths,omitempty"`
	MountLabel        string                           `json:"mountLabel,omitempty"`
	Personality       *specs.LinuxPersonality          `json:"personality,omitempty"`
	TimeOffsets       map[string]specs.LinuxTimeOffset `json:"timeOffsets,omitempty"`
}

// wireConfig is Config with its spec as initSpec: the outer Spec hides
// Config's for encoding/json.
type wireConfig struct {
	Config
	Spec *initSpec `json:"spec"`
}

// readConfig decodes the runtime's Config.
func readConfig(dec *json.Decoder) (Config, error) {
	var w wireConfig
	if err := dec.Decode(&w); err != nil {
		return Config{}, err
	}
	cfg := w.Config
	cfg.Spec = w.Spec.spec()
	return cfg, nil
}

// spec is s as a specs.Spec.
func (s *initSpec) spec() *specs.Spec {
	if s == nil {
		return nil
	}
	sp := &specs.Spec{Version: s.Version, Process: s.Process, Root: s.Root, Hostname: s.Hostname,
		Domainname: s.Domainname, Mounts: s.Mounts, Hooks: s.Hooks, Annotations: s.Annotations}
	if l := s.Linux; l != nil {
		sp.Linux = &specs.Linux{UIDMappings: l.UIDMappings, GIDMappings: l.GIDMappings, Sysctl: l.Sysctl,
			Namespaces: l.Namespaces, Devices: l.Devices, Seccomp: l.Seccomp,
			RootfsPropagation: l.RootfsPropagation, MaskedPaths: l.MaskedPaths,
			ReadonlyPaths: l.ReadonlyPaths, MountLabel: l.MountLabel, Personality: l.Personality,
			TimeOffsets: l.TimeOffsets}
	}
	return sp
}
