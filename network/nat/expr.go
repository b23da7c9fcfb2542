package nat

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Building blocks of rules, each the expressions nft would emit for the
// match named. Every match loads into register 1; DNAT uses 1 and 2.

// ipsStatusDstNAT is IPS_DST_NAT of conntrack's status bits: the
// connection was DNATed (nft's "ct status dnat").
const ipsStatusDstNAT = 1 << 5

// ifname pads an interface name as the kernel compares it.
func ifname(name string) []byte {
	b := make([]byte, ifNameSize)
	copy(b, name)
	return b
}

func metaCmp(key expr.MetaKey, op expr.CmpOp, data []byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: data},
	}
}

// iifname matches (eq) or excludes (neq) the input interface.
func iifname(op expr.CmpOp, name string) []expr.Any {
	return metaCmp(expr.MetaKeyIIFNAME, op, ifname(name))
}

// oifname matches (eq) or excludes (neq) the output interface.
func oifname(op expr.CmpOp, name string) []expr.Any {
	return metaCmp(expr.MetaKeyOIFNAME, op, ifname(name))
}

// family matches IPv4 or IPv6 packets (the inet table sees both).
func family(v4 bool) []expr.Any {
	p := byte(unix.NFPROTO_IPV6)
	if v4 {
		p = unix.NFPROTO_IPV4
	}
	return metaCmp(expr.MetaKeyNFPROTO, expr.CmpOpEq, []byte{p})
}

// l4proto matches tcp or udp.
func l4proto(proto string) []expr.Any {
	p := byte(unix.IPPROTO_TCP)
	if proto == "udp" {
		p = unix.IPPROTO_UDP
	}
	return metaCmp(expr.MetaKeyL4PROTO, expr.CmpOpEq, []byte{p})
}

// addrOffset is where the source or destination address sits in the IPv4
// or IPv6 header.
func addrOffset(v4, src bool) uint32 {
	switch {
	case v4 && src:
		return 12
	case v4:
		return 16
	case src:
		return 8
	}
	return 24
}

// inPrefix matches a source (src) or destination address inside p; the
// caller has matched the family first.
func inPrefix(src bool, p netip.Prefix) []expr.Any {
	p = p.Masked()
	v4 := p.Addr().Is4()
	n := uint32(p.Addr().BitLen() / 8)
	mask := make([]byte, n)
	for i := 0; i < p.Bits(); i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader,
			Offset: addrOffset(v4, src), Len: n},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask, Xor: make([]byte, n)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Addr().AsSlice()},
	}
}

// daddr matches one destination address.
func daddr(ip netip.Addr) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader,
			Offset: addrOffset(ip.Is4(), false), Len: uint32(ip.BitLen() / 8)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip.AsSlice()},
	}
}

// dport matches the tcp or udp destination port.
func dport(port uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)},
	}
}

// localDaddr matches packets to one of the host's own addresses ("fib
// daddr type local").
func localDaddr() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

// ctBits matches connections whose conntrack key (state or status) has
// any of bits set.
func ctBits(key expr.CtKey, bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: key},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

// established matches "ct state established,related".
func established() []expr.Any {
	return ctBits(expr.CtKeySTATE, expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED)
}

// dnatted matches "ct status dnat".
func dnatted() []expr.Any {
	return ctBits(expr.CtKeySTATUS, ipsStatusDstNAT)
}

// dnatTo rewrites the destination to ip:port.
func dnatTo(ip netip.Addr, port uint16) []expr.Any {
	fam := uint32(unix.NFPROTO_IPV6)
	if ip.Is4() {
		fam = unix.NFPROTO_IPV4
	}
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: ip.AsSlice()},
		&expr.Immediate{Register: 2, Data: binary.BigEndian.AppendUint16(nil, port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: fam, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	}
}

func verdict(k expr.VerdictKind) expr.Any { return &expr.Verdict{Kind: k} }

func jump(chain string) expr.Any { return &expr.Verdict{Kind: expr.VerdictJump, Chain: chain} }

// all concatenates matches and a final statement into one rule body.
func all(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
