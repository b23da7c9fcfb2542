package nsinit

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// capSets is the process's five capability sets, resolved against the
// running kernel. A nil *capSets leaves capabilities untouched.
type capSets struct {
	c capability.Capabilities
	// warnings name ambient capabilities that were dropped because they
	// are not also permitted and inheritable (the kernel refuses them).
	warnings []string
}

var capByName = func() map[string]capability.Cap {
	m := make(map[string]capability.Cap)
	for _, c := range capability.ListKnown() {
		m["CAP_"+strings.ToUpper(c.String())] = c
	}
	return m
}()

// parseCaps checks every name; names this kernel does not support are
// ignored, as they cannot be granted anyway.
func parseCaps(pc *specs.LinuxCapabilities) (*capSets, error) {
	if pc == nil {
		return nil, nil
	}
	c, err := capability.NewPid2(0)
	if err != nil {
		return nil, fmt.Errorf("capabilities: %w", err)
	}
	last, err := capability.LastCap()
	if err != nil {
		return nil, fmt.Errorf("capabilities: %w", err)
	}
	sets := []struct {
		which capability.CapType
		field string
		names []string
	}{
		{capability.BOUNDING, "bounding", pc.Bounding},
		{capability.EFFECTIVE, "effective", pc.Effective},
		{capability.PERMITTED, "permitted", pc.Permitted},
		{capability.INHERITABLE, "inheritable", pc.Inheritable},
		{capability.AMBIENT, "ambient", pc.Ambient},
	}
	c.Clear(capability.CAPS | capability.BOUNDS | capability.AMBS)
	for _, s := range sets {
		for _, name := range s.names {
			cp, ok := capByName[strings.ToUpper(name)]
			if !ok {
				return nil, fmt.Errorf("process.capabilities.%s: unknown capability %q", s.field, name)
			}
			if cp <= last {
				c.Set(s.which, cp)
			}
		}
	}
	s := &capSets{c: c}
	s.dropBadAmbient(pc.Ambient)
	return s, nil
}

// dropBadAmbient removes ambient capabilities that are not both permitted
// and inheritable: the kernel would refuse to raise them. runc warns and
// goes on, and so do we, so that its default config runs here too.
func (s *capSets) dropBadAmbient(names []string) {
	for _, name := range names {
		cp, ok := capByName[strings.ToUpper(name)]
		if !ok || !s.c.Get(capability.AMBIENT, cp) {
			continue
		}
		if !s.c.Get(capability.PERMITTED, cp) || !s.c.Get(capability.INHERITABLE, cp) {
			s.c.Unset(capability.AMBIENT, cp)
			s.warnings = append(s.warnings, fmt.Sprintf("ambient capability %s dropped: it is not also permitted and inheritable", name))
		}
	}
}

// applyBounding drops what is outside the bounding set; it needs
// CAP_SETPCAP, so it runs before the user switch.
func (s *capSets) applyBounding() error {
	if s == nil {
		return nil
	}
	if err := s.c.Apply(capability.BOUNDS); err != nil {
		return fmt.Errorf("apply bounding capabilities: %w", err)
	}
	return nil
}

// applyRest sets the effective, permitted, inheritable and ambient sets.
func (s *capSets) applyRest() error {
	if s == nil {
		return nil
	}
	if err := s.c.Apply(capability.CAPS); err != nil {
		return fmt.Errorf("apply capabilities: %w", err)
	}
	if err := s.c.Apply(capability.AMBS); err != nil {
		return fmt.Errorf("apply ambient capabilities: %w", err)
	}
	return nil
}

func unsafePointer(g *uint32) unsafe.Pointer { return unsafe.Pointer(g) }
