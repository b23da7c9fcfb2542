package cgroups

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/corral-dev/corral/testutil"
	"golang.org/x/sys/unix"
)

// TestBPFLayout: the kernel reads instructions as 8-byte struct bpf_insn
// and writes attributes back up to its own fields.
func TestBPFLayout(t *testing.T) {
	if n := unsafe.Sizeof(insn{}); n != 8 {
		t.Errorf("insn is %d bytes, want 8", n)
	}
	i := ins(opMovReg32, r1, r3, -2, 7)
	if b := *(*[8]byte)(unsafe.Pointer(&i)); b[1] != 0x31 || b[2] != 0xfe || b[3] != 0xff || b[4] != 7 {
		t.Errorf("encoding % x, want regs 0x31, off -2, imm 7 (little endian)", b)
	}
	for name, n := range map[string]uintptr{"load": unsafe.Sizeof(bpfLoadAttr{}),
		"attach": unsafe.Sizeof(bpfAttachAttr{}), "query": unsafe.Sizeof(bpfQueryAttr{}),
		"get id": unsafe.Sizeof(bpfGetIDAttr{})} {
		if n != bpfAttrSize {
			t.Errorf("%s attributes are %d bytes, want %d", name, n, bpfAttrSize)
		}
	}
	var q bpfQueryAttr
	if off := unsafe.Offsetof(q.progCnt); off != 24 {
		t.Errorf("query prog_cnt at %d, want 24", off)
	}
	var l bpfLoadAttr
	if off := unsafe.Offsetof(l.logBuf); off != 32 {
		t.Errorf("load log_buf at %d, want 32", off)
	}
}

// TestBPFVerifierLog: a program the verifier refuses fails with its log.
func TestBPFVerifierLog(t *testing.T) {
	testutil.RequireRoot(t)
	fd, err := loadDeviceProgram([]insn{ins(opMov32, r0, 0, 0, 1)}) // no exit
	if err == nil {
		unix.Close(fd)
		t.Fatal("a program without exit loaded")
	}
	if !strings.Contains(err.Error(), "verifier") {
		t.Errorf("error %q does not quote the verifier", err)
	}
}
