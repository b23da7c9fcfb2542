package daemon

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/moby/moby/api/types/network"

	"github.com/corral-dev/corral/network/nat"
)

func TestFirewallTable(t *testing.T) {
	for bridge, want := range map[string]string{"": "corral", "corral0": "corral", "tcr0": "corral_tcr0"} {
		if got := firewallTable(bridge); got != want {
			t.Errorf("firewallTable(%q) = %q, want %q", bridge, got, want)
		}
	}
}

// mappingsOf undoes nat.PortMap: the record's Ports are the mappings.
func TestMappingsOfPortMap(t *testing.T) {
	ip := netip.MustParseAddr("10.0.0.2")
	ms := []nat.Mapping{
		{Proto: "tcp", HostIP: netip.IPv4Unspecified(), HostPort: 8080, ContainerIP: ip, ContainerPort: 80},
		{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8081, ContainerIP: ip, ContainerPort: 80},
		{Proto: "udp", HostIP: netip.IPv4Unspecified(), HostPort: 5353, ContainerIP: ip, ContainerPort: 53},
	}
	exposed := network.PortSet{network.MustParsePort("80/tcp"): {}, network.MustParsePort("443/tcp"): {}}
	got := mappingsOf(nat.PortMap(exposed, ms), ip)
	cmp := func(a, b nat.Mapping) int { return int(a.HostPort) - int(b.HostPort) }
	slices.SortFunc(got, cmp)
	slices.SortFunc(ms, cmp)
	if !slices.Equal(got, ms) {
		t.Errorf("mappingsOf(PortMap(ms)) = %v, want %v", got, ms)
	}
}
