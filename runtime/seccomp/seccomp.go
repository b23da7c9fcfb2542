// Package seccomp compiles the seccomp section of an OCI runtime config
// (linux.seccomp) into a classic BPF filter and loads it, without cgo or
// libseccomp. It imports only the standard library, golang.org/x/sys and the
// runtime-spec types, so that corral init can use it.
//
// The filter follows libseccomp's semantics, as runc and crun use it:
//
//   - The architecture is checked first. The native one (x86_64) is always
//     covered; SCMP_ARCH_X86 and SCMP_ARCH_X32 when listed. Any other
//     audit architecture, and on x86_64 any syscall number with the x32 bit
//     (0x40000000) when SCMP_ARCH_X32 is not listed, gets the bad-arch action
//     SCMP_ACT_KILL (libseccomp's default). The other architecture names of
//     the runtime spec are accepted and compile to nothing: an x86 kernel
//     never reports them.
//   - Names are looked up per architecture (tables generated from the kernel
//     headers, ztables.go); a name an architecture does not have is skipped
//     there, as libseccomp does. Program.Ignored lists the names no covered
//     architecture has. On x86 (i386) the socketcall and ipc multiplexers are
//     not expanded: a rule names them directly.
//   - Arguments are unsigned 64-bit values, compared whole (high and low
//     halves) on x86_64; on the 32-bit architectures (x86, x32) only the low
//     32 bits are compared against the value truncated, as libseccomp does.
//     SCMP_CMP_MASKED_EQ takes the mask in value and the datum in valueTwo.
//     The conditions of one rule must all hold, except as in runc: when one
//     argument has several conditions, each condition becomes a rule of its
//     own (ORed), which profiles written for runc rely on.
//   - A rule whose action and errno equal the default action's is dropped,
//     as runc does. When several rules of a syscall match, the most
//     restrictive action wins, in the kernel's order (KILL_PROCESS,
//     KILL_THREAD, TRAP, ERRNO, NOTIFY, TRACE, LOG, ALLOW); between rules
//     of equal action the first in the config wins. A syscall whose
//     conditional rules all fail gets the default action.
//   - As runc does (its -ENOSYS stub), when the default action denies (not
//     ALLOW, LOG or TRACE), a syscall numbered above every syscall the
//     profile names on its architecture gets ERRNO(ENOSYS) rather than the
//     default: a C library then falls back from syscalls newer than the
//     profile (clone3, fchmodat2) as on an older kernel.
//   - errnoRet (default EPERM) is allowed only with SCMP_ACT_ERRNO and
//     SCMP_ACT_TRACE (for TRACE it is the message to the tracer).
//   - SCMP_ACT_NOTIFY needs listenerPath and cannot be the default action.
//
// The syscalls with rules are found by a binary search over ranges of
// syscall numbers with one outcome, so a Docker-like profile of ~350 names
// is a few hundred instructions for three architectures.
package seccomp

import (
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Program is a compiled filter.
type Program struct {
	filter  []unix.SockFilter
	flags   uintptr // for seccomp(2)
	notify  bool    // some rule uses SCMP_ACT_NOTIFY
	ignored []string
}

// Len returns the number of BPF instructions of the filter.
func (p *Program) Len() int { return len(p.filter) }

// Ignored returns, sorted, the syscall names of the config that none of the
// covered architectures knows; the filter has no rule for them.
func (p *Program) Ignored() []string { return append([]string(nil), p.ignored...) }

// Compile turns the OCI seccomp config into a classic BPF program for the
// native architecture and every architecture listed in c.Architectures.
// Unknown actions, operators, architectures and flags are errors naming the
// field; unknown syscall names are skipped (see Ignored).
func Compile(c *specs.LinuxSeccomp) (*Program, error) {
	cfg, err := parse(c)
	if err != nil {
		return nil, err
	}
	archs, err := arches(c.Architectures)
	if err != nil {
		return nil, err
	}
	g := &generator{cfg: cfg, known: map[string]bool{}}
	g.program(archs)
	filter, err := g.a.assemble()
	if err != nil {
		return nil, err
	}
	p := &Program{filter: filter, flags: cfg.flags, notify: cfg.notify}
	seen := map[string]bool{}
	for _, r := range cfg.rules {
		for _, n := range r.names {
			if !g.known[n] && !seen[n] {
				seen[n] = true
				p.ignored = append(p.ignored, n)
			}
		}
	}
	sort.Strings(p.ignored)
	return p, nil
}
