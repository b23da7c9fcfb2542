package daemon

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/moby/moby/api/types/network"

	cnetwork "github.com/corral-dev/corral/network"
	"github.com/corral-dev/corral/network/nat"
	"github.com/corral-dev/corral/testutil"
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
	ip, ip6 := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fd00:1::2")
	ms := []nat.Mapping{
		{Proto: "tcp", HostIP: netip.IPv6Unspecified(), HostPort: 8080, ContainerIP: ip6, ContainerPort: 80},
		{Proto: "tcp", HostIP: netip.MustParseAddr("::1"), HostPort: 8082, ContainerIP: ip6, ContainerPort: 80},
		{Proto: "tcp", HostIP: netip.IPv4Unspecified(), HostPort: 8080, ContainerIP: ip, ContainerPort: 80},
		{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8081, ContainerIP: ip, ContainerPort: 80},
		{Proto: "udp", HostIP: netip.IPv4Unspecified(), HostPort: 5353, ContainerIP: ip, ContainerPort: 53},
	}
	exposed := network.PortSet{network.MustParsePort("80/tcp"): {}, network.MustParsePort("443/tcp"): {}}
	got := mappingsOf(nat.PortMap(exposed, ms), ip, ip6)
	byPort := func(a, b nat.Mapping) int {
		return cmp.Or(int(a.HostPort)-int(b.HostPort), a.HostIP.Compare(b.HostIP))
	}
	slices.SortFunc(got, byPort)
	slices.SortFunc(ms, byPort)
	if !slices.Equal(got, ms) {
		t.Errorf("mappingsOf(PortMap(ms)) = %v, want %v", got, ms)
	}
}

// TestApplyFirewallOnlyOnChange: the firewall is programmed when the state
// changes, not again for the same state (a start or an exit without
// published ports costs no netlink batch), and again once nothing is known
// to be applied.
func TestApplyFirewallOnlyOnChange(t *testing.T) {
	testutil.RequireRoot(t)
	st, err := cnetwork.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &Networks{store: st, fw: nat.New(nat.Options{Table: "corral_onchange"})}
	exists := func() bool {
		ok, err := s.fw.Exists()
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if err := s.applyFirewall(); err != nil || !exists() {
		t.Fatalf("first apply: %v, table there: %v", err, exists())
	}
	t.Cleanup(func() { _ = s.fw.Flush(context.Background()) })
	if err := s.fw.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.applyFirewall(); err != nil || exists() {
		t.Fatalf("the same state was applied again: %v, table there: %v", err, exists())
	}
	s.applied = nil
	if err := s.applyFirewall(); err != nil || !exists() {
		t.Fatalf("apply after a reset: %v, table there: %v", err, exists())
	}
}
