package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// The runtime checks a config by compiling its filter; Encode and Decode
// carry that compiled filter to init, which so neither compiles it again
// nor decodes the profile (most of a Docker config's bytes).
//
// The encoding: a header of the seccomp(2) flags (uint64) and the notify
// marker (uint64, 0 or 1), then 8 bytes per instruction (code uint16, jt
// and jf uint8, k uint32), all little-endian. Ignored names stay behind.

const (
	headerLen = 16
	insnLen   = 8
)

// Encode returns the filter in the form Decode reads.
func (p *Program) Encode() []byte {
	b := make([]byte, headerLen, headerLen+insnLen*len(p.filter))
	binary.LittleEndian.PutUint64(b, uint64(p.flags))
	if p.notify {
		binary.LittleEndian.PutUint64(b[8:], 1)
	}
	for _, in := range p.filter {
		b = binary.LittleEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.LittleEndian.AppendUint32(b, in.K)
	}
	return b
}

// Decode reads a filter Encode wrote.
func Decode(b []byte) (*Program, error) {
	if len(b) < headerLen || (len(b)-headerLen)%insnLen != 0 {
		return nil, fmt.Errorf("decode seccomp filter: %d bytes is not a header and whole instructions", len(b))
	}
	n := (len(b) - headerLen) / insnLen
	if n == 0 || n > maxInsns {
		return nil, fmt.Errorf("decode seccomp filter: %d instructions (want 1 to %d)", n, maxInsns)
	}
	notify := binary.LittleEndian.Uint64(b[8:])
	if notify > 1 {
		return nil, errors.New("decode seccomp filter: bad notify marker")
	}
	p := &Program{flags: uintptr(binary.LittleEndian.Uint64(b)), notify: notify == 1,
		filter: make([]unix.SockFilter, n)}
	for i := range p.filter {
		in := b[headerLen+i*insnLen:]
		p.filter[i] = unix.SockFilter{Code: binary.LittleEndian.Uint16(in), Jt: in[2], Jf: in[3],
			K: binary.LittleEndian.Uint32(in[4:])}
	}
	return p, nil
}
