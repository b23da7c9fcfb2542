package cgroups

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// deviceProgram compiles s into a BPF_PROG_TYPE_CGROUP_DEVICE program. The
// kernel passes struct bpf_cgroup_dev_ctx: access_type (low 16 bits: device
// type, high 16 bits: access), major, minor. Each exception is one block
// that returns the exception's verdict when it matches; the last block
// returns the default.
func deviceProgram(s *devState) asm.Instructions {
	insts := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.And.Imm32(asm.R2, 0xFFFF), // R2: device type
		asm.LoadMem(asm.R3, asm.R1, 0, asm.Word),
		asm.RSh.Imm32(asm.R3, 16),                // R3: access asked for
		asm.LoadMem(asm.R4, asm.R1, 4, asm.Word), // R4: major
		asm.LoadMem(asm.R5, asm.R1, 8, asm.Word), // R5: minor
	}
	for i, e := range s.exceptions {
		block := exceptionBlock(e, s.defaultAllow, "block-"+strconv.Itoa(i+1))
		block[0] = block[0].WithSymbol("block-" + strconv.Itoa(i))
		insts = append(insts, block...)
	}
	last := "block-" + strconv.Itoa(len(s.exceptions))
	insts = append(insts,
		asm.Mov.Imm32(asm.R0, verdict(s.defaultAllow)).WithSymbol(last),
		asm.Return())
	return insts
}

// exceptionBlock matches one exception, jumping to next when it does not.
// Against a deny default the exception must cover all the access asked
// for; against an allow default it must touch some of it (v1 semantics).
func exceptionBlock(e devRule, defaultAllow bool, next string) asm.Instructions {
	typ := int32(unix.BPF_DEVCG_DEV_CHAR)
	if e.typ == 'b' {
		typ = int32(unix.BPF_DEVCG_DEV_BLOCK)
	}
	b := asm.Instructions{asm.JNE.Imm32(asm.R2, typ, next)}
	if e.major >= 0 {
		b = append(b, asm.JNE.Imm32(asm.R4, int32(uint32(e.major)), next))
	}
	if e.minor >= 0 {
		b = append(b, asm.JNE.Imm32(asm.R5, int32(uint32(e.minor)), next))
	}
	if e.access != accAll {
		b = append(b, asm.Mov.Reg32(asm.R1, asm.R3))
		if defaultAllow {
			b = append(b, asm.And.Imm32(asm.R1, int32(e.access)), asm.JEq.Imm32(asm.R1, 0, next))
		} else {
			b = append(b, asm.And.Imm32(asm.R1, int32(accAll&^e.access)), asm.JNE.Imm32(asm.R1, 0, next))
		}
	}
	return append(b, asm.Mov.Imm32(asm.R0, verdict(!defaultAllow)), asm.Return())
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
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.CGroupDevice, License: "Apache", Instructions: deviceProgram(s),
	})
	if err != nil {
		return fmt.Errorf("load device filter: %w", err)
	}
	defer prog.Close()
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open cgroup: %w", err)
	}
	defer d.Close()
	fd := int(d.Fd())
	old, err := link.QueryPrograms(link.QueryOptions{Target: fd, Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		return fmt.Errorf("query device filters of %s: %w", dir, err)
	}
	err = link.RawAttachProgram(link.RawAttachProgramOptions{
		Target: fd, Program: prog, Attach: ebpf.AttachCGroupDevice, Flags: unix.BPF_F_ALLOW_MULTI,
	})
	if err != nil {
		return fmt.Errorf("attach device filter to %s: %w", dir, err)
	}
	for _, ap := range old.Programs {
		detachProgram(fd, ap.ID, dir)
	}
	return nil
}

// detachProgram detaches an older device program; failing that, it stays
// attached, which only denies more.
func detachProgram(fd int, id ebpf.ProgramID, dir string) {
	p, err := ebpf.NewProgramFromID(id)
	if err == nil {
		err = link.RawDetachProgram(link.RawDetachProgramOptions{Target: fd, Program: p, Attach: ebpf.AttachCGroupDevice})
		p.Close()
	}
	if err != nil {
		slog.Warn("detach old device filter", "cgroup", dir, "program", id, "err", err)
	}
}
