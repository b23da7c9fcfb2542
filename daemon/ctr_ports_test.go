package daemon

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	ccontainer "github.com/corral-dev/corral/container"
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

// TestApplyFirewallForSkipsUnnetworked: the start or exit of a container
// on no bridge network (none here) leaves the firewall alone; one on a
// bridge network, or an unknown record, brings it up to date.
func TestApplyFirewallForSkipsUnnetworked(t *testing.T) {
	testutil.RequireRoot(t)
	st, err := cnetwork.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []cnetwork.CreateOptions{{Name: "none", Driver: cnetwork.DriverNull, Predefined: true},
		{Name: "br", Driver: cnetwork.DriverBridge}} {
		if _, err := st.Create(o); err != nil {
			t.Fatal(err)
		}
	}
	s := &Containers{nets: &Networks{store: st, fw: nat.New(nat.Options{Table: "corral_forctr"})}}
	t.Cleanup(func() { _ = s.nets.fw.Flush(context.Background()) })
	exists := func() bool {
		ok, err := s.nets.fw.Exists()
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	on := func(name string) *ccontainer.Container {
		return &ccontainer.Container{HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(name)},
			NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{name: {}}}}
	}
	if err := s.applyFirewallFor(on("none")); err != nil || exists() {
		t.Fatalf("a container on none: %v, table there: %v", err, exists())
	}
	if err := s.applyFirewallFor(on("br")); err != nil || !exists() {
		t.Fatalf("a container on a bridge network: %v, table there: %v", err, exists())
	}
	if err := s.nets.fw.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.nets.applied = nil
	if err := s.applyFirewallFor(nil); err != nil || !exists() {
		t.Fatalf("an unknown record: %v, table there: %v", err, exists())
	}
}
