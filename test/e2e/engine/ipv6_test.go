package engine_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/corral-dev/corral/testutil"
	"github.com/corral-dev/corral/testutil/nettopo"
)

// Dual stack user networks (--ipv6): containers get an IPv6 address and
// default route, reach each other over IPv6, go out by NAT66, are reached
// on their published ports over IPv6 from the client namespace and the
// sandbox, and cannot reach another network's containers over IPv6.

func TestIPv6Networks(t *testing.T) {
	testutil.RequireRoot(t)
	if !testutil.InSandbox() {
		t.Skip("needs the test sandbox's network namespace")
	}
	e := newEngineArgs(t, "--bridge", "tv60", "--bip", "10.222.0.1/24")
	client := nettopo.Client(t, "tv6up0")
	t.Run("DualStack", func(t *testing.T) { testDualStack(t, e, client) })
	t.Run("BadInput", func(t *testing.T) { testIPv6BadInput(t, e) })
}

// ip6On is the container's IPv6 address on network net, from inspect.
func (e *engine) ip6On(t *testing.T, ctr, net string) netip.Addr {
	t.Helper()
	es := e.inspect(t, ctr).NetworkSettings.Networks[net]
	if es == nil || !es.GlobalIPv6Address.IsValid() {
		t.Fatalf("%s has no IPv6 address on %s: %+v", ctr, net, es)
	}
	return es.GlobalIPv6Address
}

func testDualStack(t *testing.T, e *engine, client nettopo.Netns) {
	n, other := e.netName(t), e.netName(t)
	e.ok(t, "network", "create", "--ipv6", n)
	e.ok(t, "network", "create", "--ipv6", "--subnet", "fd00:222:2::/64", other)
	cfg := strings.Fields(e.ok(t, "network", "inspect", "-f", "{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{end}}", n))
	if len(cfg) != 5 || cfg[0] != "true" {
		t.Fatalf("network inspect: %q", cfg)
	}
	sub6, gw6 := netip.MustParsePrefix(cfg[3]), netip.MustParseAddr(cfg[4])
	if !netip.MustParsePrefix("fd00::/8").Contains(sub6.Addr()) || sub6.Bits() != 64 {
		t.Errorf("IPv6 subnet from the pool: %s, want a ULA /64", sub6)
	}
	a := e.echo(t, []string{"--network", n, "-p", "18500:7000"}, "7000")
	b := e.runD(t, "--network", n, "busybox", "sleep", "600")
	ip6 := e.ip6On(t, a, n)
	es := e.inspect(t, a).NetworkSettings.Networks[n]
	if !sub6.Contains(ip6) || es.IPv6Gateway != gw6 || es.GlobalIPv6PrefixLen != 64 {
		t.Errorf("endpoint settings: %+v", es)
	}
	if out := e.ok(t, "network", "inspect", "-f", "{{range .Containers}}{{.IPv6Address}} {{end}}", n); !strings.Contains(out, ip6.String()+"/64") {
		t.Errorf("network inspect containers: %q, want %s/64", out, ip6)
	}
	e.ok(t, "exec", b, "ping", "-c1", "-W2", ip6.String())
	if got := e.ok(t, "exec", b, "sh", "-c", fmt.Sprintf("nc -w 2 %s 7000 </dev/null", ip6)); strings.TrimSpace(got) != e.ip6On(t, b, n).String() {
		t.Errorf("container to container over IPv6: the server saw %q", got)
	}
	// The embedded DNS answers AAAA with it, and the hosts file lists it.
	if out := e.ok(t, "exec", b, "nslookup", "-type=AAAA", a); !strings.Contains(out, ip6.String()) {
		t.Errorf("AAAA of %s: %q, want %s", a, out, ip6)
	}
	if out := e.ok(t, "exec", a, "cat", "/etc/hosts"); !strings.Contains(out, ip6.String()+"\t") {
		t.Errorf("hosts of %s: %q, want a line for %s", a, out, ip6)
	}
	if out := e.ok(t, "exec", b, "ip", "-6", "route", "show", "default"); !strings.Contains(out, "via "+gw6.String()) {
		t.Errorf("IPv6 default route: %q, want via %s", out, gw6)
	}
	if got := nettopo.WantAnswer(t, "client to published port over IPv6", client, "tcp", at(nettopo.UplinkAddr6, 18500)); got != nettopo.ClientAddr6.String() {
		t.Errorf("server saw %q, want the client's %s", got, nettopo.ClientAddr6)
	}
	nettopo.WantAnswer(t, "sandbox to its own IPv6 address's published port", nettopo.Netns{}, "tcp", at(nettopo.UplinkAddr6, 18500))
	if got := nettopo.WantAnswer(t, "client to published port over IPv4", client, "tcp", at(nettopo.UplinkAddr, 18500)); got != nettopo.ClientAddr.String() {
		t.Errorf("server saw %q over IPv4, want %s", got, nettopo.ClientAddr)
	}
	nettopo.Serve(t, client, 9500)
	out := fmt.Sprintf("nc -w 2 %s 9500 </dev/null", nettopo.ClientAddr6)
	if got := e.ok(t, "exec", b, "sh", "-c", out); strings.TrimSpace(got) != nettopo.UplinkAddr6.String() {
		t.Errorf("out over IPv6: the client saw %q, want %s (NAT66)", got, nettopo.UplinkAddr6)
	}
	c := e.runD(t, "--network", other, "busybox", "sleep", "600")
	if r := e.docker(t, "", "exec", c, "sh", "-c", fmt.Sprintf("nc -w 2 %s 7000 </dev/null", ip6)); strings.TrimSpace(r.stdout) != "" {
		t.Errorf("%s on %s reached %s over IPv6: %v", c, other, ip6, r)
	}
	if r := e.docker(t, "", "exec", c, "ping", "-c1", "-W1", ip6.String()); r.code == 0 {
		t.Errorf("ping across networks over IPv6 went through: %v", r)
	}
}

// Overlapping IPv6 subnets, an IPv6 subnet without --ipv6, an --ip6
// outside the subnet: clear errors.
func testIPv6BadInput(t *testing.T, e *engine) {
	first := e.netName(t)
	e.ok(t, "network", "create", "--ipv6", "--subnet", "fd00:223::/64", first)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--ipv6", "--subnet", "fd00:223::/56"}, "overlaps"},
		{[]string{"--subnet", "fd00:224::/64"}, "needs --ipv6"},
		{[]string{"--ipv6", "--subnet", "fd00:225::/64", "--gateway", "fd00:226::1"}, "fd00:226::1"},
	} {
		n := e.netName(t)
		out := e.fails(t, 1, append(append([]string{"network", "create"}, tc.args...), n)...)
		if !strings.Contains(out, tc.want) {
			t.Errorf("create %v: %q, want %q", tc.args, out, tc.want)
		}
	}
	name := e.name(t)
	out := e.fails(t, 125, "run", "-d", "--name", name, "--network", first, "--ip6", "fd00:999::5", "busybox", "true")
	if !strings.Contains(out, "fd00:999::5") {
		t.Errorf("--ip6 outside the subnet: %q", out)
	}
	c := e.runD(t, "--network", first, "--ip6", "fd00:223::99", "busybox", "sleep", "600")
	if got := e.ip6On(t, c, first); got.String() != "fd00:223::99" {
		t.Errorf("--ip6: got %s", got)
	}
}

// The default network with the daemon's --ipv6 --fixed-cidr-v6: its
// containers get addresses of that subnet and reach each other over IPv6.
func TestIPv6DefaultBridge(t *testing.T) {
	testutil.RequireRoot(t)
	if !testutil.InSandbox() {
		t.Skip("needs the test sandbox's network namespace")
	}
	sub6 := netip.MustParsePrefix("fd00:223:1::/64")
	e := newEngineArgs(t, "--bridge", "tv61", "--bip", "10.223.0.1/24", "--ipv6", "--fixed-cidr-v6", sub6.String())
	cfg := e.ok(t, "network", "inspect", "-f", "{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}} {{end}}", "bridge")
	if strings.TrimSpace(cfg) != "true 10.223.0.0/24 "+sub6.String() {
		t.Errorf("default network: %q", cfg)
	}
	a := e.runD(t, "busybox", "sleep", "600")
	b := e.runD(t, "busybox", "sleep", "600")
	ip6 := e.ip6On(t, a, "bridge")
	if !sub6.Contains(ip6) {
		t.Errorf("address %s outside %s", ip6, sub6)
	}
	e.ok(t, "exec", b, "ping", "-c1", "-W2", ip6.String())
	e.ok(t, "exec", b, "ping", "-c1", "-W2", ipamGateway(sub6).String())
}

// ipamGateway is the first host address of p, the default gateway.
func ipamGateway(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }
