package cgroups

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The bpf(2) attributes devices_bpf.go uses: the parts of union bpf_attr
// for each command, padded to one size that holds every field the kernel
// may write back (BPF_PROG_QUERY's revision, BPF_PROG_LOAD's
// log_true_size), which it does whatever size it is told.
const bpfAttrSize = 160

// bpfLoadAttr is BPF_PROG_LOAD's part.
type bpfLoadAttr struct {
	progType, insnCnt  uint32
	insns, license     uint64
	logLevel, logSize  uint32
	logBuf             uint64
	kernVersion, flags uint32
	_                  [bpfAttrSize - 48]byte
}

// bpfAttachAttr is BPF_PROG_ATTACH's and BPF_PROG_DETACH's part.
type bpfAttachAttr struct {
	target, prog, attachType, flags uint32
	_                               [bpfAttrSize - 16]byte
}

// bpfQueryAttr is BPF_PROG_QUERY's part.
type bpfQueryAttr struct {
	target, attachType, queryFlags, attachFlags uint32
	progIDs                                     uint64
	progCnt                                     uint32
	_                                           [bpfAttrSize - 28]byte
}

// bpfGetIDAttr is BPF_PROG_GET_FD_BY_ID's part.
type bpfGetIDAttr struct {
	id, nextID, openFlags uint32
	_                     [bpfAttrSize - 12]byte
}

// bpf calls bpf(2); a returned descriptor is close-on-exec (the kernel
// makes every BPF descriptor so).
func bpf(cmd int, attr unsafe.Pointer, size uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// The buffers an attribute points to (instructions, license, log, ids) are
// heap memory, which Go never moves, kept alive by the callers.

func bpfLoad(a *bpfLoadAttr) (int, error) {
	return bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(a), unsafe.Sizeof(*a))
}

func bpfAttach(cmd int, a *bpfAttachAttr) error {
	_, err := bpf(cmd, unsafe.Pointer(a), unsafe.Sizeof(*a))
	return err
}

func bpfQuery(a *bpfQueryAttr) error {
	_, err := bpf(unix.BPF_PROG_QUERY, unsafe.Pointer(a), unsafe.Sizeof(*a))
	return err
}

func bpfProgByID(id uint32) (int, error) {
	a := bpfGetIDAttr{id: id}
	return bpf(unix.BPF_PROG_GET_FD_BY_ID, unsafe.Pointer(&a), unsafe.Sizeof(a))
}

// addr is the address of a heap buffer, for an attribute.
func addr[T any](p *T) uint64 { return uint64(uintptr(unsafe.Pointer(p))) }
