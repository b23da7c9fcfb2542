package nat

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// A UDP "connection" is only a conntrack entry, which lives on while
// datagrams keep coming: one created before a port was published (the
// host answered, or nothing did) would keep bypassing the new DNAT, and one
// made through a mapping that is gone would keep going to its old
// container. So the udp ports whose mappings Apply added or removed lose
// their conntrack entries, as docker does. TCP needs none of this: a new
// connection is a new entry.

// udpPortFilter matches conntrack entries of udp packets sent to one of
// ports of one family.
type udpPortFilter struct {
	ports map[uint16]bool
}

// MatchConntrackFlow implements netlink.CustomConntrackFilter.
func (f udpPortFilter) MatchConntrackFlow(flow *netlink.ConntrackFlow) bool {
	return flow.Forward.Protocol == unix.IPPROTO_UDP && f.ports[flow.Forward.DstPort]
}

// changedUDPPorts returns the udp host ports, by family (true: IPv4),
// of mappings in only one of old and next.
func changedUDPPorts(old map[Mapping]bool, next []Mapping) map[bool]map[uint16]bool {
	out := map[bool]map[uint16]bool{}
	add := func(m Mapping) {
		if m.Proto != "udp" {
			return
		}
		v4 := m.ContainerIP.Is4()
		if out[v4] == nil {
			out[v4] = map[uint16]bool{}
		}
		out[v4][m.HostPort] = true
	}
	seen := map[Mapping]bool{}
	for _, m := range next {
		seen[m] = true
		if !old[m] {
			add(m)
		}
	}
	for m := range old {
		if !seen[m] {
			add(m)
		}
	}
	return out
}

// clearUDP deletes the conntrack entries of the given udp ports.
func clearUDP(ports map[bool]map[uint16]bool) error {
	for v4, set := range ports {
		fam := netlink.InetFamily(unix.AF_INET6)
		if v4 {
			fam = unix.AF_INET
		}
		if _, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, fam,
			udpPortFilter{ports: set}); err != nil {
			return fmt.Errorf("delete conntrack entries of published udp ports: %w", err)
		}
	}
	return nil
}
