package seccomp

import (
	"fmt"
	goruntime "runtime"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

//go:generate go run ./gen -o ztables.go

// x32Bit is __X32_SYSCALL_BIT: x32 syscalls enter the kernel with the x86_64
// audit architecture and this bit set in their number.
const x32Bit = 0x40000000

// Audit architecture tokens (linux/audit.h), as seccomp_data.arch holds them.
const (
	auditArchX86_64 = 0xc000003e
	auditArchI386   = 0x40000003
)

// sysEntry is one syscall of an architecture's table.
type sysEntry struct {
	name string
	nr   uint32
}

// table is an architecture's syscalls sorted by name (ztables.go).
type table []sysEntry

// lookup returns the number of the syscall called name.
func (t table) lookup(name string) (uint32, bool) {
	i := sort.Search(len(t), func(i int) bool { return t[i].name >= name })
	if i < len(t) && t[i].name == name {
		return t[i].nr, true
	}
	return 0, false
}

// arch is an architecture a filter can be compiled for.
type arch struct {
	name  specs.Arch
	audit uint32 // seccomp_data.arch
	table table
	// bits32: arguments are compared on their low 32 bits only, the value
	// truncated, as libseccomp does for its 32-bit architectures (x86, x32).
	bits32 bool
	// x32: the numbers carry x32Bit and share the x86_64 audit token.
	x32 bool
}

var (
	archX86_64 = &arch{name: specs.ArchX86_64, audit: auditArchX86_64, table: tableX86_64}
	archX86    = &arch{name: specs.ArchX86, audit: auditArchI386, table: tableX86, bits32: true}
	archX32    = &arch{name: specs.ArchX32, audit: auditArchX86_64, table: tableX32, bits32: true, x32: true}
)

// nativeArch returns the architecture of the running program.
func nativeArch() (*arch, error) {
	switch goruntime.GOARCH {
	case "amd64":
		return archX86_64, nil
	case "386":
		return archX86, nil
	}
	return nil, fmt.Errorf("seccomp: native architecture %s is not supported", goruntime.GOARCH)
}

// foreignArches are the other names the runtime spec lists. A kernel running
// an x86 program never reports their audit tokens, so a filter section for
// them could never run: they are accepted and compiled to nothing.
var foreignArches = map[specs.Arch]bool{
	specs.ArchARM: true, specs.ArchAARCH64: true, specs.ArchMIPS: true, specs.ArchMIPS64: true,
	specs.ArchMIPS64N32: true, specs.ArchMIPSEL: true, specs.ArchMIPSEL64: true,
	specs.ArchMIPSEL64N32: true, specs.ArchPPC: true, specs.ArchPPC64: true,
	specs.ArchPPC64LE: true, specs.ArchS390: true, specs.ArchS390X: true,
	specs.ArchPARISC: true, specs.ArchPARISC64: true, specs.ArchRISCV64: true,
	specs.ArchLOONGARCH64: true, specs.ArchM68K: true, specs.ArchSH: true, specs.ArchSHEB: true,
}

// arches returns the architectures a filter covers: the native one first,
// then those listed that an x86 kernel can report.
func arches(listed []specs.Arch) ([]*arch, error) {
	native, err := nativeArch()
	if err != nil {
		return nil, err
	}
	out := []*arch{native}
	for i, name := range listed {
		var a *arch
		switch name {
		case specs.ArchX86_64:
			a = archX86_64
		case specs.ArchX86:
			a = archX86
		case specs.ArchX32:
			a = archX32
		default:
			if foreignArches[name] {
				continue
			}
			return nil, fmt.Errorf("seccomp: architectures[%d]: unknown or unsupported architecture %q", i, name)
		}
		if !contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

func contains(list []*arch, a *arch) bool {
	for _, b := range list {
		if a == b {
			return true
		}
	}
	return false
}
