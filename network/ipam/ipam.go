// Package ipam allocates IPv4 and IPv6 subnets and addresses for corral's
// networks.
// It holds no state of its own: callers pass what is in use (the subnets of
// the existing networks, the addresses of a network's endpoints), so the
// only record of an allocation is the network record that holds it, and a
// crash cannot leave the two apart.
package ipam

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/corral-dev/corral/errdefs"
)

// Pool is a range of subnets handed out one Size-bit prefix at a time, as
// Docker's default-address-pools entries.
type Pool struct {
	Base netip.Prefix
	Size int
}

// DefaultBridge is the default network's subnet, docker0's.
var DefaultBridge = netip.MustParsePrefix("172.17.0.0/16")

// DefaultPools are Docker's default address pools for user networks:
// 172.18.0.0/16 to 172.31.0.0/16, then 192.168.0.0/16 in /20s.
var DefaultPools = defaultPools()

func defaultPools() []Pool {
	var pools []Pool
	for b := byte(17); b <= 31; b++ {
		pools = append(pools, Pool{Base: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, b, 0, 0}), 16), Size: 16})
	}
	return append(pools, Pool{Base: netip.MustParsePrefix("192.168.0.0/16"), Size: 20})
}

// ULAPool is the pool IPv6 networks without a --subnet take /64s from, as
// dockerd 27 does: a /48 of fd00::/8 whose 40 global-ID bits are the first
// bytes of the SHA-256 of seed (the host's ID), so each host has its own
// and keeps it across restarts.
func ULAPool(seed []byte) Pool {
	sum := sha256.Sum256(seed)
	var a [16]byte
	a[0] = 0xfd
	copy(a[1:6], sum[:5])
	return Pool{Base: netip.PrefixFrom(netip.AddrFrom16(a), 48), Size: 64}
}

// ErrPoolExhausted is the error when no pool has a free subnet; its text
// is dockerd's.
var ErrPoolExhausted = errors.New("all predefined address pools have been fully subnetted")

// Overlaps reports whether prefixes a and b share an address.
func Overlaps(a, b netip.Prefix) bool { return a.Overlaps(b) }

// CheckFree fails when subnet overlaps one of used, naming it.
func CheckFree(subnet netip.Prefix, used []netip.Prefix) error {
	for _, u := range used {
		if subnet.Overlaps(u) {
			return errdefs.Conflict(fmt.Errorf("invalid pool request: Pool overlaps with other one on this address space (%s overlaps %s)", subnet, u))
		}
	}
	return nil
}

// NextSubnet is the first subnet of the pools of family v6 (IPv6 when
// true, else IPv4) that overlaps none of used.
func NextSubnet(pools []Pool, used []netip.Prefix, v6 bool) (netip.Prefix, error) {
	for _, p := range pools {
		if p.Base.Addr().Is6() != v6 {
			continue
		}
		if s, ok := nextIn(p, used); ok {
			return s, nil
		}
	}
	return netip.Prefix{}, errdefs.Unavailable(ErrPoolExhausted)
}

// maxScan bounds the subnets nextIn tries in one pool (a /48 has 65536
// /64s), so a huge pool cannot make a create spin.
const maxScan = 1 << 17

// nextIn is the first free Size-bit subnet of pool p. A used prefix that
// covers several candidates is skipped in one step.
func nextIn(p Pool, used []netip.Prefix) (netip.Prefix, bool) {
	base := p.Base.Masked()
	if p.Size < base.Bits() || p.Size > base.Addr().BitLen() {
		return netip.Prefix{}, false
	}
	s := netip.PrefixFrom(base.Addr(), p.Size)
	for i := 0; i < maxScan && base.Contains(s.Addr()); i++ {
		end := lastAddr(s)
		for _, u := range used {
			if s.Overlaps(u) && lastAddr(u).Compare(end) > 0 {
				end = lastAddr(u)
			}
		}
		if end == lastAddr(s) && CheckFree(s, used) == nil {
			return s, true
		}
		next := end.Next()
		if !next.IsValid() {
			break
		}
		s = netip.PrefixFrom(next, p.Size).Masked()
	}
	return netip.Prefix{}, false
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	p = p.Masked()
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Gateway is the address a network's gateway gets by default: the first
// host address of the subnet.
func Gateway(subnet netip.Prefix) netip.Addr {
	return subnet.Masked().Addr().Next()
}

// Range is where a network's addresses come from: its subnet, narrowed by
// --ip-range, less its gateway.
type Range struct {
	Subnet  netip.Prefix
	IPRange netip.Prefix // zero: the whole subnet
	Gateway netip.Addr
}

// Check fails when the range does not hold together: a gateway or an
// ip-range outside the subnet.
func (r Range) Check() error {
	if !r.Subnet.IsValid() || r.Subnet.Addr().Is4In6() {
		return errdefs.InvalidArgument(fmt.Errorf("invalid subnet %s", r.Subnet))
	}
	if r.Subnet.Bits() > r.Subnet.Addr().BitLen()-2 {
		return errdefs.InvalidArgument(fmt.Errorf("invalid subnet %s: too small for a gateway and an endpoint", r.Subnet))
	}
	if r.Gateway.IsValid() && !r.Subnet.Contains(r.Gateway) {
		return errdefs.InvalidArgument(fmt.Errorf("invalid gateway %s: not in subnet %s", r.Gateway, r.Subnet))
	}
	if r.IPRange.IsValid() && (r.IPRange.Bits() < r.Subnet.Bits() || !r.Subnet.Contains(r.IPRange.Addr())) {
		return errdefs.InvalidArgument(fmt.Errorf("invalid ip-range %s: not in subnet %s", r.IPRange, r.Subnet))
	}
	return nil
}

// Allocate picks an address of r that is not in used: want when it is
// valid (it must lie in the subnet, and be neither taken, the network or
// broadcast address nor the gateway), else the lowest free one of the
// ip-range.
func (r Range) Allocate(want netip.Addr, used []netip.Addr) (netip.Addr, error) {
	if want.IsValid() {
		return want, r.checkWanted(want, used)
	}
	pool := r.Subnet.Masked()
	if r.IPRange.IsValid() {
		pool = r.IPRange.Masked()
	}
	for a := pool.Addr(); pool.Contains(a); a = a.Next() {
		if r.usable(a) && !slices.Contains(used, a) {
			return a, nil
		}
	}
	return netip.Addr{}, errdefs.Unavailable(fmt.Errorf("no available %s addresses on this network's address pools: %s", familyName(pool.Addr()), pool))
}

// checkWanted fails when address a cannot be given out.
func (r Range) checkWanted(a netip.Addr, used []netip.Addr) error {
	if a.Is4In6() {
		a = a.Unmap()
	}
	if !r.Subnet.Contains(a) {
		return errdefs.InvalidArgument(fmt.Errorf("invalid address %s: it does not belong to any of this network's subnets (%s)", a, r.Subnet))
	}
	if !r.usable(a) {
		return errdefs.InvalidArgument(fmt.Errorf("invalid address %s: it is the subnet's network, broadcast or gateway address", a))
	}
	if slices.Contains(used, a) {
		return errdefs.Conflict(fmt.Errorf("address %s already in use", a))
	}
	return nil
}

// usable reports whether a is a host address of the subnet other than the
// gateway: not the network address (IPv6's subnet-router anycast) and,
// in IPv4, not the broadcast address.
func (r Range) usable(a netip.Addr) bool {
	s := r.Subnet.Masked()
	bcast := a.Is4() && a == lastAddr(s)
	return s.Contains(a) && a != s.Addr() && !bcast && a != r.Gateway
}

// familyName is "IPv4" or "IPv6", as dockerd's messages say.
func familyName(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}
