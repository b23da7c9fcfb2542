package seccomp

import (
	"encoding/binary"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// data is a synthetic struct seccomp_data.
type data struct {
	nr   uint32
	arch uint32
	args [6]uint64
}

// packet encodes d for golang.org/x/net/bpf's VM. The VM loads words
// big-endian, the kernel native-endian (little on x86): writing each 32-bit
// field big-endian makes every load see the value the kernel's would, the low
// half of an argument at its offset and the high half 4 bytes on.
func (d data) packet() []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[offNr:], d.nr)
	binary.BigEndian.PutUint32(b[offArch:], d.arch)
	for i, a := range d.args {
		binary.BigEndian.PutUint32(b[offArgLo(uint(i)):], uint32(a))
		binary.BigEndian.PutUint32(b[offArgHi(uint(i)):], uint32(a>>32))
	}
	return b
}

// vm runs a compiled program in the BPF VM.
type vm struct {
	t  testing.TB
	vm *bpf.VM
}

func newVM(t testing.TB, p *Program) *vm {
	t.Helper()
	prog := make([]bpf.Instruction, len(p.filter))
	for i, f := range p.filter {
		prog[i] = bpf.RawInstruction{Op: f.Code, Jt: f.Jt, Jf: f.Jf, K: f.K}.Disassemble()
		if _, raw := prog[i].(bpf.RawInstruction); raw {
			t.Fatalf("instruction %d (%#v) is not one the VM knows", i, f)
		}
	}
	v, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatalf("program rejected by the BPF VM: %v", err)
	}
	return &vm{t: t, vm: v}
}

func (v *vm) run(d data) uint32 {
	v.t.Helper()
	n, err := v.vm.Run(d.packet())
	if err != nil {
		v.t.Fatalf("run %+v: %v", d, err)
	}
	return uint32(n)
}

// mustCompile compiles c, failing the test on an error.
func mustCompile(t testing.TB, c *specs.LinuxSeccomp) *Program {
	t.Helper()
	p, err := Compile(c)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return p
}

// nr returns the number of a syscall on an architecture, failing the test if
// the table lacks it.
func nr(t testing.TB, a *arch, name string) uint32 {
	t.Helper()
	n, ok := a.table.lookup(name)
	if !ok {
		t.Fatalf("%s has no syscall %q", a.name, name)
	}
	return n
}

// Return values the tests expect, written out rather than taken from the
// code under test.
const (
	retKillThread  = 0x00000000
	retKillProcess = 0x80000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retNotify      = 0x7fc00000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000
)

func errnoRet(e unix.Errno) uint32 { return retErrno | uint32(e) }

func uptr(v uint) *uint { return &v }

// ref is an independent, plain statement of the filter's semantics (see the
// package comment), for differential tests.
type ref struct {
	c      *specs.LinuxSeccomp
	rets   []uint32
	def    uint32
	listed map[specs.Arch]bool
	byNr   map[*arch]map[uint32][]int // syscall number → indexes of its rules
	max    map[*arch]uint32           // the highest number named
}

func newRef(c *specs.LinuxSeccomp) *ref {
	r := &ref{c: c, def: refRet(c.DefaultAction, c.DefaultErrnoRet), listed: map[specs.Arch]bool{specs.ArchX86_64: true},
		byNr: map[*arch]map[uint32][]int{}, max: map[*arch]uint32{}}
	for _, a := range c.Architectures {
		r.listed[a] = true
	}
	for _, a := range []*arch{archX86_64, archX86, archX32} {
		r.byNr[a] = map[uint32][]int{}
		for i, sc := range c.Syscalls {
			seen := map[uint32]bool{}
			for _, n := range sc.Names {
				if nr, ok := a.table.lookup(n); ok && !seen[nr] {
					seen[nr] = true
					r.max[a] = max(r.max[a], nr)
					r.byNr[a][nr] = append(r.byNr[a][nr], i)
				}
			}
		}
	}
	for _, sc := range c.Syscalls {
		r.rets = append(r.rets, refRet(sc.Action, sc.ErrnoRet))
	}
	return r
}

func (r *ref) eval(d data) uint32 {
	var a *arch
	switch {
	case d.arch == auditArchX86_64 && d.nr >= 0x40000000 && r.listed[specs.ArchX32]:
		a = archX32
	case d.arch == auditArchX86_64 && d.nr < 0x40000000:
		a = archX86_64
	case d.arch == auditArchI386 && r.listed[specs.ArchX86]:
		a = archX86
	default:
		return retKillThread
	}
	best, found := r.def, false
	if d.nr > r.max[a] && r.max[a] != 0 {
		switch r.def & 0xffff0000 {
		case retAllow, retLog, retTrace:
		default:
			best = errnoRet(unix.ENOSYS) // runc's ENOSYS stub
		}
	}
	for _, i := range r.byNr[a][d.nr] {
		rt := r.rets[i]
		if rt == r.def || !argsHold(a, r.c.Syscalls[i].Args, d.args) {
			continue
		}
		if !found || int32(rt&0xffff0000) < int32(best&0xffff0000) {
			best, found = rt, true
		}
	}
	return best
}

// argsHold: all conditions must hold, except (as runc) when one argument
// has several, where any one condition is enough.
func argsHold(a *arch, args []specs.LinuxSeccompArg, vals [6]uint64) bool {
	seen, anyOf := map[uint]bool{}, false
	for _, c := range args {
		anyOf = anyOf || seen[c.Index]
		seen[c.Index] = true
	}
	for _, c := range args {
		ok := holds(c.Op, vals[c.Index], c.Value, c.ValueTwo, a.bits32)
		if anyOf && ok {
			return true
		}
		if !anyOf && !ok {
			return false
		}
	}
	return !anyOf
}

// holds is one comparison: unsigned 64-bit, or on the low halves.
func holds(op specs.LinuxSeccompOperator, arg, v, v2 uint64, bits32 bool) bool {
	if bits32 {
		arg, v, v2 = uint64(uint32(arg)), uint64(uint32(v)), uint64(uint32(v2))
	}
	switch op {
	case specs.OpEqualTo:
		return arg == v
	case specs.OpNotEqual:
		return arg != v
	case specs.OpLessThan:
		return arg < v
	case specs.OpLessEqual:
		return arg <= v
	case specs.OpGreaterThan:
		return arg > v
	case specs.OpGreaterEqual:
		return arg >= v
	case specs.OpMaskedEqual:
		return arg&v == v2
	}
	panic("unknown op " + op)
}

// refRet is the return value of an action, for reference.
func refRet(act specs.LinuxSeccompAction, errno *uint) uint32 {
	e := uint32(unix.EPERM)
	if errno != nil {
		e = uint32(*errno)
	}
	switch act {
	case specs.ActKill, specs.ActKillThread:
		return retKillThread
	case specs.ActKillProcess:
		return retKillProcess
	case specs.ActTrap:
		return retTrap
	case specs.ActErrno:
		return retErrno | e
	case specs.ActTrace:
		return retTrace | e
	case specs.ActAllow:
		return retAllow
	case specs.ActLog:
		return retLog
	case specs.ActNotify:
		return retNotify
	}
	panic("unknown action " + act)
}
