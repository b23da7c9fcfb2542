package daemon

import (
	"context"
	"errors"
	"net/netip"
	"os/exec"
	"syscall"
	"testing"

	"github.com/moby/moby/api/types/network"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
	cnetwork "github.com/corral-dev/corral/network"
)

func TestCreateOptions(t *testing.T) {
	yes := true
	sub := netip.MustParsePrefix("10.4.0.0/16")
	o, err := createOptions(network.CreateRequest{Name: "n", IPAM: &network.IPAM{Driver: "default",
		Config: []network.IPAMConfig{{Subnet: sub, Gateway: netip.MustParseAddr("10.4.0.9")}}}, Internal: true})
	if err != nil || o.Driver != cnetwork.DriverBridge || o.Subnet != sub || o.Gateway.String() != "10.4.0.9" || !o.Internal {
		t.Fatalf("options %+v, %v", o, err)
	}
	sub6 := netip.MustParsePrefix("fd00:4::/64")
	o, err = createOptions(network.CreateRequest{Name: "n", Driver: "macvlan", EnableIPv6: &yes, IPAM: &network.IPAM{
		Config: []network.IPAMConfig{{Subnet: sub6}, {Subnet: sub}}}})
	if err != nil || o.Driver != cnetwork.DriverMacvlan || !o.EnableIPv6 || o.Subnet != sub || o.Subnet6 != sub6 {
		t.Fatalf("dual stack macvlan options %+v, %v", o, err)
	}
	for _, tc := range []struct {
		req   network.CreateRequest
		class error
	}{
		{network.CreateRequest{Name: "n", Driver: "overlay"}, errdefs.ErrNotFound},
		{network.CreateRequest{Name: "n", Driver: "host"}, errdefs.ErrForbidden},
		{network.CreateRequest{Name: "n", Driver: "ipvlan"}, errdefs.ErrNotFound},
		{network.CreateRequest{Name: "n", EnableIPv6: &yes, IPAM: &network.IPAM{Config: []network.IPAMConfig{
			{Subnet: netip.MustParsePrefix("fd00:1::/64")}, {Subnet: netip.MustParsePrefix("fd00:2::/64")}}}}, errdefs.ErrInvalidArgument},
		{network.CreateRequest{Name: "n", Scope: "swarm"}, errdefs.ErrInvalidArgument},
		{network.CreateRequest{Name: "n", IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: sub}, {Subnet: sub}}}}, errdefs.ErrInvalidArgument},
	} {
		if _, err := createOptions(tc.req); !errors.Is(err, tc.class) {
			t.Errorf("%+v: err %v, want %v", tc.req, err, tc.class)
		}
	}
}

func TestCheckEndpointConfig(t *testing.T) {
	user := cnetwork.Network{Name: "u", Driver: cnetwork.DriverBridge, Subnet: netip.MustParsePrefix("10.4.0.0/16"), UserSubnet: true}
	auto := user
	auto.UserSubnet = false
	def := user
	def.Name, def.Predefined = "bridge", true
	ip := func(s string) *network.EndpointIPAMConfig {
		return &network.EndpointIPAMConfig{IPv4Address: netip.MustParseAddr(s)}
	}
	for _, tc := range []struct {
		n  cnetwork.Network
		es network.EndpointSettings
		ok bool
	}{
		{user, network.EndpointSettings{IPAMConfig: ip("10.4.1.1"), Aliases: []string{"a"}}, true},
		{user, network.EndpointSettings{IPAMConfig: ip("10.5.1.1")}, false},
		{def, network.EndpointSettings{IPAMConfig: ip("10.4.1.1")}, false},
		{def, network.EndpointSettings{Aliases: []string{"a"}}, false},
		{auto, network.EndpointSettings{IPAMConfig: ip("10.4.1.1")}, false},
		{auto, network.EndpointSettings{Aliases: []string{"a"}}, true},
		{user, network.EndpointSettings{MacAddress: network.HardwareAddr{1, 2, 3}}, false},
	} {
		if err := checkEndpointConfig(tc.n, &tc.es); (err == nil) != tc.ok {
			t.Errorf("%s %+v: %v", tc.n.Name, tc.es, err)
		}
	}
}

func TestMatchNetwork(t *testing.T) {
	n := cnetwork.Network{ID: "abcdef0123", Name: "front-net", Driver: cnetwork.DriverBridge, Labels: map[string]string{"k": "v"}}
	for _, tc := range []struct {
		kv   []string
		want bool
	}{
		{nil, true},
		{[]string{"name", "front"}, true},
		{[]string{"name", "back"}, false},
		{[]string{"id", "abcd"}, true},
		{[]string{"id", "bcd"}, false},
		{[]string{"driver", "bridge"}, true},
		{[]string{"driver", "bri"}, false},
		{[]string{"label", "k=v"}, true},
		{[]string{"label", "k=w"}, false},
		{[]string{"type", "custom"}, true},
		{[]string{"type", "builtin"}, false},
		{[]string{"scope", "local"}, true},
	} {
		if got := matchNetwork(api.NewFilters(tc.kv...), n); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.kv, got, tc.want)
		}
	}
}

// What a crash leaves between an endpoint's allocation and the record of
// a running container (an endpoint and its veth for a container that is
// not running) is released when the service opens again.
func TestReconcileStaleEndpoints(t *testing.T) {
	e := newCtrEnv(t)
	ctx := context.Background()
	resp, err := e.s.nets.NetworkCreate(ctx, network.CreateRequest{Name: "stale",
		IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: netip.MustParsePrefix("10.220.0.0/24")}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.s.nets.NetworkRemove(ctx, resp.ID) })
	id := e.create("", nil, "true") // created, never started
	n, ep, err := e.s.nets.store.Allocate(resp.ID, cnetwork.EndpointOptions{Container: id, IfName: "eth0"})
	if err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("sleep", "60")
	sleeper.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	if err := attach(sleeper.Process.Pid, n, ep, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.s.nets.store.Allocate(resp.ID, cnetwork.EndpointOptions{Container: "gone"}); err != nil {
		t.Fatal(err)
	}
	e.s.Close()
	e.open()
	got, _ := e.s.nets.store.Get(resp.ID)
	if len(got.Endpoints) != 0 {
		t.Errorf("stale endpoints kept: %+v", got.Endpoints)
	}
	if cnetwork.LinkExists(ep.HostLink) {
		t.Errorf("stale veth %s kept", ep.HostLink)
	}
}

func TestAddressPools(t *testing.T) {
	p, err := ParseAddressPool("base=10.10.0.0/16,size=24")
	if err != nil || p.Base != "10.10.0.0/16" || p.Size != 24 {
		t.Fatalf("%+v, %v", p, err)
	}
	pools, err := addressPools([]AddressPool{p, {Base: "fd00:7::/48", Size: 64}})
	if err != nil || len(pools) != 2 || pools[0].Size != 24 || pools[1].Size != 64 {
		t.Fatalf("%+v, %v", pools, err)
	}
	for _, s := range []string{"base=10.0.0.0/8,size=x", "bse=10.0.0.0/8"} {
		if _, err := ParseAddressPool(s); !errdefs.IsInvalidArgument(err) {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, bad := range []AddressPool{{Base: "10.0.0.0/16", Size: 8}, {Base: "fd00::/48", Size: 127}, {Base: "x", Size: 24}, {Base: "10.0.0.0/16", Size: 31}} {
		if _, err := addressPools([]AddressPool{bad}); !errdefs.IsInvalidArgument(err) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}
