// Package ipam allocates IPv4 subnets and addresses for corral's networks.
// It holds no state of its own: callers pass what is in use (the subnets of
// the existing networks, the addresses of a network's endpoints), so the
// only record of an allocation is the network record that holds it, and a
// crash cannot leave the two apart.
package ipam

import (
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

// NextSubnet is the first subnet of pools that overlaps none of used.
func NextSubnet(pools []Pool, used []netip.Prefix) (netip.Prefix, error) {
	for _, p := range pools {
		if s, ok := nextIn(p, used); ok {
			return s, nil
		}
	}
	return netip.Prefix{}, errdefs.Unavailable(ErrPoolExhausted)
}

// nextIn is the first free Size-bit subnet of pool p.
func nextIn(p Pool, used []netip.Prefix) (netip.Prefix, bool) {
	base := p.Base.Masked()
	if !base.Addr().Is4() || p.Size < base.Bits() || p.Size > 32 {
		return netip.Prefix{}, false
	}
	step := uint32(1) << (32 - p.Size)
	count := uint32(1) << (p.Size - base.Bits())
	start := toU32(base.Addr())
	for i := uint32(0); i < count; i++ {
		s := netip.PrefixFrom(fromU32(start+i*step), p.Size)
		if CheckFree(s, used) == nil {
			return s, true
		}
	}
	return netip.Prefix{}, false
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
	if !r.Subnet.IsValid() || !r.Subnet.Addr().Is4() {
		return errdefs.InvalidArgument(fmt.Errorf("invalid subnet %s: only IPv4 subnets are supported", r.Subnet))
	}
	if r.Subnet.Bits() > 30 {
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
	return netip.Addr{}, errdefs.Unavailable(fmt.Errorf("no available IPv4 addresses on this network's address pools: %s", pool))
}

// checkWanted fails when address a cannot be given out.
func (r Range) checkWanted(a netip.Addr, used []netip.Addr) error {
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
// gateway.
func (r Range) usable(a netip.Addr) bool {
	s := r.Subnet.Masked()
	bcast := fromU32(toU32(s.Addr()) | (1<<(32-s.Bits()) - 1))
	return s.Contains(a) && a != s.Addr() && a != bcast && a != r.Gateway
}

func toU32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func fromU32(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
