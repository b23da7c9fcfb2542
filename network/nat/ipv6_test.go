package nat_test

import (
	"net/netip"
	"testing"

	"github.com/corral-dev/corral/network/nat"
	"github.com/corral-dev/corral/testutil/nettopo"
)

// v6Container gives container c address p on its eth0 with a default
// route via the bridge's gw, which gets its gateway address.
func v6Container(t *testing.T, br string, c container, sub netip.Prefix) netip.Addr {
	t.Helper()
	gw, ip := sub.Addr().Next(), sub.Addr().Next().Next()
	addV6(t, netns{}, br, netip.PrefixFrom(gw, sub.Bits()), netip.Addr{})
	addV6(t, c.ns, "eth0", netip.PrefixFrom(ip, sub.Bits()), gw)
	return ip
}

// TestIPv6Isolation: as in IPv4, containers of two IPv6 bridges cannot
// reach each other, an internal bridge has no way out over IPv6 and is
// not reached, and a non-internal one goes out masqueraded (NAT66).
func TestIPv6Isolation(t *testing.T) {
	requireSandbox(t)
	client := newClient(t)
	brA, brB, brI := newBridge(t, subnetA), newBridge(t, subnetB), newBridge(t, subnetI)
	a, b, in := newContainer(t, brA, subnetA, 0), newContainer(t, brB, subnetB, 0), newContainer(t, brI, subnetI, 0)
	subA, subB, subI := netip.MustParsePrefix("fd00:31:1::/64"), netip.MustParsePrefix("fd00:31:2::/64"), netip.MustParsePrefix("fd00:31:3::/64")
	ipA, ipB, ipI := v6Container(t, brA, a, subA), v6Container(t, brB, b, subB), v6Container(t, brI, in, subI)
	for _, ns := range []netns{a.ns, b.ns, in.ns, client} {
		nettopo.Serve(t, ns, serverPort)
	}
	// The host reaches every container: the topology works.
	for _, ip := range []netip.Addr{ipA, ipB, ipI} {
		waitAnswer(t, netns{}, hostPort(ip, serverPort))
	}
	fw := newFirewall(t)
	apply(t, fw, nat.State{Bridges: []nat.Bridge{
		{Name: brA, Subnet: subnetA, Subnet6: subA},
		{Name: brB, Subnet: subnetB, Subnet6: subB},
		{Name: brI, Subnet: subnetI, Subnet6: subI, Internal: true},
	}})
	nettopo.WantNoAnswer(t, "B to A over IPv6", b.ns, "tcp", hostPort(ipA, serverPort))
	nettopo.WantNoAnswer(t, "A to B over IPv6", a.ns, "tcp", hostPort(ipB, serverPort))
	nettopo.WantNoAnswer(t, "A to internal over IPv6", a.ns, "tcp", hostPort(ipI, serverPort))
	nettopo.WantNoAnswer(t, "internal out over IPv6", in.ns, "tcp", hostPort(nettopo.ClientAddr6, serverPort))
	// Forwarding is on: what is refused above is the rules' doing.
	wantAnswer(t, "A out over IPv6", a.ns, "tcp", hostPort(nettopo.ClientAddr6, serverPort), nettopo.UplinkAddr6.String())
}
