package nat_test

import (
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/moby/api/types/network"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/network/nat"
)

var (
	ctr4 = netip.MustParseAddr("172.30.1.2")
	ctr6 = netip.MustParseAddr("fd00:c0::2")
	any4 = netip.IPv4Unspecified()
	any6 = netip.IPv6Unspecified()
	lo4  = netip.MustParseAddr("127.0.0.1")
)

func port(s string) network.Port { return network.MustParsePort(s) }

// busy is a Probe that reports the listed ip:port/proto as listened on.
func busy(list ...string) func(string, netip.Addr, uint16) error {
	return func(proto string, ip netip.Addr, p uint16) error {
		for _, b := range list {
			if b == fmt.Sprintf("%s/%s", netip.AddrPortFrom(ip, p), proto) {
				return fmt.Errorf("listen: %w", syscall.EADDRINUSE)
			}
		}
		return nil
	}
}

func tcp(host netip.Addr, hp uint16, ctr netip.Addr, cp uint16) nat.Mapping {
	return nat.Mapping{Proto: "tcp", HostIP: host, HostPort: hp, ContainerIP: ctr, ContainerPort: cp}
}

func TestPlan(t *testing.T) {
	bind := func(ip netip.Addr, hp string) network.PortBinding {
		return network.PortBinding{HostIP: ip, HostPort: hp}
	}
	tests := []struct {
		name  string
		req   nat.Request
		inUse []nat.Mapping
		busy  []string
		want  []nat.Mapping
	}{
		{"fixed", nat.Request{ContainerIP: ctr4,
			Bindings: network.PortMap{port("80/tcp"): {bind(netip.Addr{}, "8080")}}},
			nil, nil, []nat.Mapping{tcp(any4, 8080, ctr4, 80)}},
		{"dual stack: one host port for both families", nat.Request{ContainerIP: ctr4, ContainerIP6: ctr6,
			Bindings: network.PortMap{port("80/tcp"): {bind(netip.Addr{}, "8080")}}},
			nil, nil, []nat.Mapping{tcp(any4, 8080, ctr4, 80), tcp(any6, 8080, ctr6, 80)}},
		{"0.0.0.0 is IPv4 only", nat.Request{ContainerIP: ctr4, ContainerIP6: ctr6,
			Bindings: network.PortMap{port("80/tcp"): {bind(any4, "8080")}}},
			nil, nil, []nat.Mapping{tcp(any4, 8080, ctr4, 80)}},
		{"one address", nat.Request{ContainerIP: ctr4,
			Bindings: network.PortMap{port("80/tcp"): {bind(lo4, "8080")}}},
			nil, nil, []nat.Mapping{tcp(lo4, 8080, ctr4, 80)}},
		{"same port on another address and protocol", nat.Request{ContainerIP: ctr4,
			Bindings: network.PortMap{port("80/tcp"): {bind(lo4, "8080")}, port("53/udp"): {bind(lo4, "8080")}}},
			[]nat.Mapping{tcp(netip.MustParseAddr("192.0.2.1"), 8080, ctr4, 80)}, nil,
			[]nat.Mapping{{Proto: "udp", HostIP: lo4, HostPort: 8080, ContainerIP: ctr4, ContainerPort: 53},
				tcp(lo4, 8080, ctr4, 80)}},
		{"range: first free", nat.Request{ContainerIP: ctr4,
			Bindings: network.PortMap{port("80/tcp"): {bind(netip.Addr{}, "8000-8002")}}},
			[]nat.Mapping{tcp(lo4, 8000, ctr4, 81)}, []string{"0.0.0.0:8001/tcp"},
			[]nat.Mapping{tcp(any4, 8002, ctr4, 80)}},
		{"publish all, explicit binding kept", nat.Request{ContainerIP: ctr4, PublishAll: true,
			Exposed:  network.PortSet{port("80/tcp"): {}, port("443/tcp"): {}},
			Bindings: network.PortMap{port("80/tcp"): {bind(netip.Addr{}, "8080")}}},
			nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := nat.Planner{Probe: busy(tt.busy...), PortMin: 40000, PortMax: 40000}
			got, err := p.Plan(tt.req, tt.inUse)
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			want := tt.want
			if want == nil {
				want = []nat.Mapping{tcp(any4, 8080, ctr4, 80), tcp(any4, 40000, ctr4, 443)}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Plan:\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestPlanRandomPort(t *testing.T) {
	p := nat.Planner{Probe: busy(), PortMin: 41000, PortMax: 41009}
	req := nat.Request{ContainerIP: ctr4, Bindings: network.PortMap{
		port("80/tcp"): {{HostPort: ""}}, port("81/tcp"): {{HostPort: "0"}}}}
	var inUse []nat.Mapping
	for range 5 {
		got, err := p.Plan(req, inUse)
		if err != nil {
			t.Fatalf("Plan: %v", err)
		}
		inUse = append(inUse, got...)
	}
	seen := map[uint16]bool{}
	for _, m := range inUse {
		if m.HostPort < 41000 || m.HostPort > 41009 || seen[m.HostPort] {
			t.Errorf("host port %d: outside 41000-41009 or given twice (%v)", m.HostPort, inUse)
		}
		seen[m.HostPort] = true
	}
	_, err := p.Plan(req, inUse)
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "no free host port in 41000-41009/tcp") {
		t.Errorf("Plan with the range used up: %v, want a conflict naming the range", err)
	}
}

func TestPlanErrors(t *testing.T) {
	one := func(pm string, b network.PortBinding) network.PortMap {
		return network.PortMap{port(pm): {b}}
	}
	tests := []struct {
		name    string
		req     nat.Request
		inUse   []nat.Mapping
		busy    []string
		class   func(error) bool
		message string
	}{
		{"mapped by another container", nat.Request{ContainerIP: ctr4,
			Bindings: one("80/tcp", network.PortBinding{HostPort: "8080"})},
			[]nat.Mapping{tcp(lo4, 8080, ctr4, 80)}, nil,
			errdefs.IsConflict, "bind for 0.0.0.0:8080/tcp failed: port is already allocated"},
		{"twice in one request", nat.Request{ContainerIP: ctr4, Bindings: network.PortMap{
			port("80/tcp"): {{HostPort: "8080"}}, port("81/tcp"): {{HostIP: lo4, HostPort: "8080"}}}},
			nil, nil, errdefs.IsConflict, "bind for 127.0.0.1:8080/tcp failed: port is already allocated"},
		{"listened on", nat.Request{ContainerIP: ctr4, ContainerIP6: ctr6,
			Bindings: one("53/udp", network.PortBinding{HostPort: "5353"})},
			nil, []string{"[::]:5353/udp"}, errdefs.IsConflict, "bind for [::]:5353/udp failed: address already in use"},
		{"IPv6 address without IPv6", nat.Request{ContainerIP: ctr4,
			Bindings: one("80/tcp", network.PortBinding{HostIP: netip.MustParseAddr("::1"), HostPort: "8080"})},
			nil, nil, errdefs.IsInvalidArgument, "host address ::1 is IPv6 but the container has no IPv6 address"},
		{"sctp", nat.Request{ContainerIP: ctr4, Bindings: one("80/sctp", network.PortBinding{})},
			nil, nil, errdefs.IsInvalidArgument, "protocol sctp is not supported"},
		{"bad host port", nat.Request{ContainerIP: ctr4, Bindings: one("80/tcp", network.PortBinding{HostPort: "80-x"})},
			nil, nil, errdefs.IsInvalidArgument, `host port "80-x"`},
		{"range used up", nat.Request{ContainerIP: ctr4, Bindings: one("80/tcp", network.PortBinding{HostPort: "8000-8001"})},
			[]nat.Mapping{tcp(any4, 8000, ctr4, 81)}, []string{"0.0.0.0:8001/tcp"},
			errdefs.IsConflict, "no free host port in 8000-8001/tcp on 0.0.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := nat.Planner{Probe: busy(tt.busy...)}
			got, err := p.Plan(tt.req, tt.inUse)
			if err == nil || !tt.class(err) || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("Plan = %v, %v; want an error of the right class containing %q", got, err, tt.message)
			}
		})
	}
}

// TestPlanProbesSockets checks the default probe against a real listener
// on loopback.
func TestPlanProbesSockets(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	hp := l.Addr().(*net.TCPAddr).Port
	req := nat.Request{ContainerIP: ctr4, Bindings: network.PortMap{
		port("80/tcp"): {{HostIP: lo4, HostPort: fmt.Sprint(hp)}}}}
	_, err = (&nat.Planner{}).Plan(req, nil)
	want := fmt.Sprintf("bind for 127.0.0.1:%d/tcp failed: address already in use", hp)
	if !errdefs.IsConflict(err) || err.Error() != want {
		t.Errorf("Plan on a listened port: %v, want %q", err, want)
	}
	req.Bindings[port("80/udp")] = req.Bindings[port("80/tcp")]
	delete(req.Bindings, port("80/tcp"))
	if _, err := (&nat.Planner{}).Plan(req, nil); err != nil {
		t.Errorf("Plan of the udp port beside a tcp listener: %v", err)
	}
}

func TestPortMap(t *testing.T) {
	exposed := network.PortSet{port("80/tcp"): {}, port("9000/udp"): {}}
	ms := []nat.Mapping{tcp(any4, 8080, ctr4, 80), tcp(any6, 8080, ctr6, 80),
		tcp(netip.Addr{}, 8443, ctr4, 443)}
	want := network.PortMap{
		port("80/tcp"):   {{HostIP: any4, HostPort: "8080"}, {HostIP: any6, HostPort: "8080"}},
		port("443/tcp"):  {{HostIP: any4, HostPort: "8443"}},
		port("9000/udp"): nil,
	}
	if got := nat.PortMap(exposed, ms); !reflect.DeepEqual(got, want) {
		t.Errorf("PortMap:\n got %v\nwant %v", got, want)
	}
}

func TestValidate(t *testing.T) {
	br := nat.Bridge{Name: "br0", Subnet: netip.MustParsePrefix("172.30.1.0/24"),
		Subnet6: netip.MustParsePrefix("fd00:c0::/64")}
	internal := nat.Bridge{Name: "br1", Subnet: netip.MustParsePrefix("172.30.2.0/24"), Internal: true}
	tests := []struct {
		name string
		s    nat.State
		want string
	}{
		{"ok", nat.State{Bridges: []nat.Bridge{br, internal},
			Mappings: []nat.Mapping{tcp(any4, 80, ctr4, 80), tcp(any6, 80, ctr6, 80), tcp(lo4, 81, ctr4, 80)}}, ""},
		{"bad name", nat.State{Bridges: []nat.Bridge{{Name: "../x", Subnet: br.Subnet}}}, "not a valid interface name"},
		{"no subnet", nat.State{Bridges: []nat.Bridge{{Name: "br0"}}}, "IPv4 subnet"},
		{"twice", nat.State{Bridges: []nat.Bridge{br, br}}, "listed twice"},
		{"outside every subnet", nat.State{Bridges: []nat.Bridge{br},
			Mappings: []nat.Mapping{tcp(any4, 80, lo4, 80)}}, "in no bridge's subnet"},
		{"internal", nat.State{Bridges: []nat.Bridge{br, internal},
			Mappings: []nat.Mapping{tcp(any4, 80, netip.MustParseAddr("172.30.2.2"), 80)}}, "is internal"},
		{"overlap", nat.State{Bridges: []nat.Bridge{br},
			Mappings: []nat.Mapping{tcp(lo4, 80, ctr4, 80), tcp(netip.Addr{}, 80, ctr4, 81)}}, "already mapped"},
		{"families", nat.State{Bridges: []nat.Bridge{br},
			Mappings: []nat.Mapping{tcp(any6, 80, ctr4, 80)}}, "different families"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := nat.Validate(tt.s)
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
}
