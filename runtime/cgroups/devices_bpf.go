package cgroups

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// The cgroup v2 device filter: a BPF_PROG_TYPE_CGROUP_DEVICE program built,
// loaded and attached here with bpf(2) directly. A general eBPF library
// would cost every corral process its package initialisation and a few
// megabytes of binary to fault in at start, for one small program.

// insn is one eBPF instruction, laid out as struct bpf_insn.
type insn struct {
	op   uint8
	regs uint8 // destination register in the low nibble, source in the high
	off  int16
	imm  int32
}

// ins makes an instruction.
func ins(op uint8, dst, src uint8, off int16, imm int32) insn {
	return insn{op: op, regs: dst | src<<4, off: off, imm: imm}
}

func (i insn) String() string {
	return fmt.Sprintf("op=%#02x dst=r%d src=r%d off=%d imm=%d", i.op, i.regs&0xf, i.regs>>4, i.off, i.imm)
}

// Instruction encodings (linux/bpf.h): class | size/op | mode/source.
const (
	opLoadWord = unix.BPF_LDX | unix.BPF_MEM | unix.BPF_W   // dst = *(u32 *)(src + off)
	opAnd32    = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K   // dst &= imm (32 bit)
	opRsh32    = unix.BPF_ALU | unix.BPF_RSH | unix.BPF_K   // dst >>= imm
	opMov32    = unix.BPF_ALU | unix.BPF_MOV | unix.BPF_K   // dst = imm
	opMovReg32 = unix.BPF_ALU | unix.BPF_MOV | unix.BPF_X   // dst = src
	opJne32    = unix.BPF_JMP32 | unix.BPF_JNE | unix.BPF_K // if dst != imm goto +off
	opJeq32    = unix.BPF_JMP32 | unix.BPF_JEQ | unix.BPF_K // if dst == imm goto +off
	opExit     = unix.BPF_JMP | unix.BPF_EXIT
)

// Registers: R0 holds the verdict, R1 the context, R2-R5 what is read from it.
const (
	r0, r1, r2, r3, r4, r5 = 0, 1, 2, 3, 4, 5
)

// deviceProgram compiles s. The kernel passes struct bpf_cgroup_dev_ctx:
// access_type (low 16 bits: device type, high 16 bits: access), major,
// minor. Each exception is one block that returns the exception's verdict
// when it matches and otherwise jumps to the next block; the last block
// returns the default.
func deviceProgram(s *devState) []insn {
	insts := []insn{
		ins(opLoadWord, r2, r1, 0, 0),
		ins(opAnd32, r2, 0, 0, 0xFFFF), // R2: device type
		ins(opLoadWord, r3, r1, 0, 0),
		ins(opRsh32, r3, 0, 0, 16),    // R3: access asked for
		ins(opLoadWord, r4, r1, 4, 0), // R4: major
		ins(opLoadWord, r5, r1, 8, 0), // R5: minor
	}
	for _, e := range s.exceptions {
		insts = append(insts, exceptionBlock(e, s.defaultAllow)...)
	}
	return append(insts, ins(opMov32, r0, 0, 0, verdict(s.defaultAllow)), ins(opExit, 0, 0, 0, 0))
}

// exceptionBlock matches one exception; its jumps lead past its end, to the
// next block, when it does not match. Against a deny default the exception
// must cover all the access asked for; against an allow default it must
// touch some of it (v1 semantics).
func exceptionBlock(e devRule, defaultAllow bool) []insn {
	typ := int32(unix.BPF_DEVCG_DEV_CHAR)
	if e.typ == 'b' {
		typ = int32(unix.BPF_DEVCG_DEV_BLOCK)
	}
	b := []insn{ins(opJne32, r2, 0, 0, typ)}
	if e.major >= 0 {
		b = append(b, ins(opJne32, r4, 0, 0, int32(uint32(e.major))))
	}
	if e.minor >= 0 {
		b = append(b, ins(opJne32, r5, 0, 0, int32(uint32(e.minor))))
	}
	if e.access != accAll {
		b = append(b, ins(opMovReg32, r1, r3, 0, 0))
		if defaultAllow {
			b = append(b, ins(opAnd32, r1, 0, 0, int32(e.access)), ins(opJeq32, r1, 0, 0, 0))
		} else {
			b = append(b, ins(opAnd32, r1, 0, 0, int32(accAll&^e.access)), ins(opJne32, r1, 0, 0, 0))
		}
	}
	b = append(b, ins(opMov32, r0, 0, 0, verdict(!defaultAllow)), ins(opExit, 0, 0, 0, 0))
	for i := range b {
		if b[i].op == opJne32 || b[i].op == opJeq32 {
			b[i].off = int16(len(b) - i - 1) // to the instruction after the block
		}
	}
	return b
}

func verdict(allow bool) int32 {
	if allow {
		return 1
	}
	return 0
}

// attachDeviceFilter loads the program for s and attaches it to the cgroup
// v2 directory dir (BPF_F_ALLOW_MULTI), then detaches the device programs
// that were there before. While both are attached the kernel requires both
// to allow, so no access slips through during the switch.
func attachDeviceFilter(dir string, s *devState) error {
	prog, err := loadDeviceProgram(deviceProgram(s))
	if err != nil {
		return fmt.Errorf("load device filter: %w", err)
	}
	defer unix.Close(prog)
	cg, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup: %w", err)
	}
	defer unix.Close(cg)
	old, err := queryDevicePrograms(cg)
	if err != nil {
		return fmt.Errorf("query device filters of %s: %w", dir, err)
	}
	attr := bpfAttachAttr{target: uint32(cg), prog: uint32(prog), attachType: unix.BPF_CGROUP_DEVICE, flags: unix.BPF_F_ALLOW_MULTI}
	if err := bpfAttach(unix.BPF_PROG_ATTACH, &attr); err != nil {
		return fmt.Errorf("attach device filter to %s: %w", dir, err)
	}
	for _, id := range old {
		detachProgram(cg, id, dir)
	}
	return nil
}

// detachProgram detaches an older device program; failing that, it stays
// attached, which only denies more.
func detachProgram(cg int, id uint32, dir string) {
	p, err := bpfProgByID(id)
	if err == nil {
		attr := bpfAttachAttr{target: uint32(cg), prog: uint32(p), attachType: unix.BPF_CGROUP_DEVICE}
		err = bpfAttach(unix.BPF_PROG_DETACH, &attr)
		unix.Close(p)
	}
	if err != nil {
		slog.Warn("detach old device filter", "cgroup", dir, "program", id, "err", err)
	}
}

// bpfLicense is the program's license, a package variable: the kernel reads
// it from memory that must not move.
var bpfLicense = []byte("Apache\x00")

// verifierLogSize is the verifier log kept for an error. A variable, so that
// the buffer is made on the heap.
var verifierLogSize = 64 << 10

// loadDeviceProgram loads insts; when the verifier refuses them, it loads
// them again with its log, for the error.
func loadDeviceProgram(insts []insn) (int, error) {
	attr := bpfLoadAttr{progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE, insnCnt: uint32(len(insts)),
		insns: addr(&insts[0]), license: addr(&bpfLicense[0])}
	fd, err := bpfLoad(&attr)
	runtime.KeepAlive(insts)
	if err == nil {
		return fd, nil
	}
	log := make([]byte, verifierLogSize)
	attr.logLevel, attr.logSize, attr.logBuf = 1, uint32(len(log)), addr(&log[0])
	fd, lerr := bpfLoad(&attr)
	runtime.KeepAlive(insts)
	runtime.KeepAlive(log)
	if lerr == nil {
		return fd, nil // it took the second time
	}
	if msg := strings.TrimSpace(strings.TrimRight(string(log), "\x00")); msg != "" {
		return -1, fmt.Errorf("%w: verifier: %s", err, msg)
	}
	return -1, err
}

// queryDevicePrograms lists the ids of the device programs attached to the
// cgroup open at cg.
func queryDevicePrograms(cg int) ([]uint32, error) {
	for size := 16; ; size *= 4 {
		ids := make([]uint32, size)
		attr := bpfQueryAttr{target: uint32(cg), attachType: unix.BPF_CGROUP_DEVICE,
			progIDs: addr(&ids[0]), progCnt: uint32(size)}
		err := bpfQuery(&attr)
		runtime.KeepAlive(ids)
		if errors.Is(err, unix.ENOSPC) && size < 1<<16 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return ids[:attr.progCnt], nil
	}
}
