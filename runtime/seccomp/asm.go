package seccomp

import (
	"fmt"
	"slices"

	"golang.org/x/sys/unix"
)

// maxInsns is the kernel's limit on a classic BPF program (BPF_MAXINSNS).
const maxInsns = 4096

// Classic BPF opcodes the compiler emits.
const (
	opLdAbs uint16 = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	opAndK  uint16 = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
	opJa    uint16 = unix.BPF_JMP | unix.BPF_JA
	opJeq   uint16 = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	opJgt   uint16 = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
	opJge   uint16 = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	opRet   uint16 = unix.BPF_RET | unix.BPF_K
)

// label names an instruction that jumps go to. next is the instruction that
// follows the jump.
type label int

const next label = -1

// insn is an instruction whose jump targets are still labels. For opJa the
// target is jt.
type insn struct {
	code   uint16
	k      uint32
	jt, jf label
}

func (i *insn) conditional() bool { return i.code&0x07 == unix.BPF_JMP && i.code != opJa }

// assembler collects instructions and labels, then lays them out, adding a
// trampoline (an unconditional jump) where a conditional jump would have to
// go further than its 8-bit offset reaches.
type assembler struct {
	insns   []insn
	targets []int   // label → index of the instruction it names; -1 until bound
	pending []label // labels to bind to the next instruction emitted
}

func (a *assembler) newLabel() label {
	a.targets = append(a.targets, -1)
	return label(len(a.targets) - 1)
}

// bind makes l name the next instruction emitted. A label names one
// instruction only.
func (a *assembler) bind(l label) {
	if a.targets[l] >= 0 || slices.Contains(a.pending, l) {
		panic(fmt.Sprintf("seccomp: internal error: label %d bound twice", l))
	}
	a.pending = append(a.pending, l)
}

func (a *assembler) emit(in insn) {
	for _, l := range a.pending {
		a.targets[l] = len(a.insns)
	}
	a.pending = a.pending[:0]
	// A jump to next goes to the instruction after this one, whatever
	// trampolines the layout puts between them.
	if in.jt == next || in.jf == next {
		after := a.newLabel()
		if in.jt == next {
			in.jt = after
		}
		if in.jf == next {
			in.jf = after
		}
		a.bind(after)
	}
	a.insns = append(a.insns, in)
}

func (a *assembler) load(off uint32) { a.emit(insn{code: opLdAbs, k: off}) }
func (a *assembler) and(k uint32)    { a.emit(insn{code: opAndK, k: k}) }
func (a *assembler) ret(k uint32)    { a.emit(insn{code: opRet, k: k}) }
func (a *assembler) ja(to label)     { a.emit(insn{code: opJa, jt: to}) }
func (a *assembler) jump(op uint16, k uint32, jt, jf label) {
	a.emit(insn{code: op, k: k, jt: jt, jf: jf})
}

// assemble lays the program out. It fails when a label is unbound, a jump
// goes backwards, or the program is longer than the kernel accepts.
func (a *assembler) assemble() ([]unix.SockFilter, error) {
	if len(a.pending) > 0 {
		return nil, fmt.Errorf("seccomp: internal error: label bound past the end")
	}
	prog := append([]insn(nil), a.insns...)
	targets := append([]int(nil), a.targets...)
	for i, in := range prog {
		if (in.code == opJa && targets[in.jt] < 0) ||
			(in.conditional() && (targets[in.jt] < 0 || targets[in.jf] < 0)) {
			return nil, fmt.Errorf("seccomp: internal error: jump at %d to an unbound label", i)
		}
	}
	for {
		far := a.farJumps(prog, targets)
		if len(far) == 0 {
			break
		}
		prog, targets = a.addTrampolines(prog, targets, far)
	}
	if len(prog) > maxInsns {
		return nil, fmt.Errorf("seccomp: profile compiles to %d BPF instructions, more than the kernel's %d", len(prog), maxInsns)
	}
	out := make([]unix.SockFilter, len(prog))
	for i, in := range prog {
		out[i] = unix.SockFilter{Code: in.code, K: in.k}
		switch {
		case in.code == opJa:
			out[i].K = uint32(targets[in.jt] - i - 1)
		case in.conditional():
			out[i].Jt = uint8(targets[in.jt] - i - 1)
			out[i].Jf = uint8(targets[in.jf] - i - 1)
		}
	}
	return out, a.check(prog, targets)
}

// farJumps returns the conditional jumps (by index) with a target out of
// reach, and for each whether jt, jf or both are.
func (a *assembler) farJumps(prog []insn, targets []int) map[int][2]bool {
	far := map[int][2]bool{}
	for i, in := range prog {
		if !in.conditional() {
			continue
		}
		t := targets[in.jt]-i-1 > 255
		f := targets[in.jf]-i-1 > 255
		if t || f {
			far[i] = [2]bool{t, f}
		}
	}
	return far
}

// addTrampolines puts `ja target` right after each far jump and points the
// far branch at it, through a fresh label.
func (a *assembler) addTrampolines(prog []insn, targets []int, far map[int][2]bool) ([]insn, []int) {
	newIndex := make([]int, len(prog))
	out := make([]insn, 0, len(prog)+2*len(far))
	var added []int // instruction index of each new label
	newLabel := func(at int) label {
		added = append(added, at)
		return label(len(targets) + len(added) - 1)
	}
	for i, in := range prog {
		newIndex[i] = len(out)
		var tramps []insn
		if far[i][0] {
			tramps = append(tramps, insn{code: opJa, jt: in.jt})
			in.jt = newLabel(len(out) + len(tramps))
		}
		if far[i][1] {
			tramps = append(tramps, insn{code: opJa, jt: in.jf})
			in.jf = newLabel(len(out) + len(tramps))
		}
		out = append(out, in)
		out = append(out, tramps...)
	}
	for l, t := range targets {
		if t >= 0 {
			targets[l] = newIndex[t]
		}
	}
	return out, append(targets, added...)
}

// check verifies what the kernel will: every jump lands inside the program,
// forwards, and the program ends in a return.
func (a *assembler) check(prog []insn, targets []int) error {
	if len(prog) == 0 || prog[len(prog)-1].code != opRet {
		return fmt.Errorf("seccomp: internal error: program does not end in a return")
	}
	for i, in := range prog {
		var to []label
		switch {
		case in.code == opJa:
			to = []label{in.jt}
		case in.conditional():
			to = []label{in.jt, in.jf}
		}
		for _, l := range to {
			if t := targets[l]; t <= i || t >= len(prog) {
				return fmt.Errorf("seccomp: internal error: jump at %d to %d", i, t)
			}
		}
	}
	return nil
}
