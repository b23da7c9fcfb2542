package nat_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/moby/moby/api/types/network"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/network/nat"
	"github.com/corral-dev/corral/testutil/nettopo"
)

// The tests below share the sandbox's network namespace and corral's
// table in it, so they do not run in parallel.

var (
	subnetA = netip.MustParsePrefix("172.30.1.0/24")
	subnetB = netip.MustParsePrefix("172.30.2.0/24")
	subnetI = netip.MustParsePrefix("172.30.3.0/24")
)

const serverPort = 80

func apply(t *testing.T, fw *nat.Firewall, s nat.State) {
	t.Helper()
	if err := fw.Apply(context.Background(), s); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// newFirewall returns a Firewall on a table of the test's own, flushed
// when the test ends.
func newFirewall(t *testing.T) *nat.Firewall {
	t.Helper()
	fw := nat.New(nat.Options{Table: "corral_test"})
	t.Cleanup(func() {
		if err := fw.Flush(context.Background()); err != nil {
			t.Errorf("Flush: %v", err)
		}
	})
	return fw
}

func hostPort(ip netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(ip, port) }

func TestMasquerade(t *testing.T) {
	requireSandbox(t)
	client := newClient(t)
	nettopo.Serve(t, client, serverPort)
	br := newBridge(t, subnetA)
	c := newContainer(t, br, subnetA, 0)
	fw := newFirewall(t)
	apply(t, fw, nat.State{Bridges: []nat.Bridge{{Name: br, Subnet: subnetA}}})
	for _, proto := range []string{"tcp", "udp"} {
		wantAnswer(t, "container to outside", c.ns, proto, hostPort(uplinkClient, serverPort), uplinkHost.String())
	}
}

// TestPublishedPorts runs with br_netfilter's bridge-nf-call-iptables on
// (the packets of a hairpin connection are then bridged) and off (routed),
// when the module is there.
func TestPublishedPorts(t *testing.T) {
	requireSandbox(t)
	for _, brnf := range []string{"1", "0"} {
		t.Run("bridge-nf-call-iptables="+brnf, func(t *testing.T) {
			setBridgeNF(t, brnf)
			testPublishedPorts(t)
		})
	}
}

func testPublishedPorts(t *testing.T) {
	client := newClient(t)
	br := newBridge(t, subnetA)
	gw := subnetA.Addr().Next()
	c := newContainer(t, br, subnetA, 0)
	nettopo.Serve(t, c.ns, serverPort)
	fw := newFirewall(t)
	apply(t, fw, nat.State{
		Bridges: []nat.Bridge{{Name: br, Subnet: subnetA}},
		Mappings: []nat.Mapping{
			{Proto: "tcp", HostPort: 8080, ContainerIP: c.ip, ContainerPort: serverPort},
			{Proto: "udp", HostPort: 8053, ContainerIP: c.ip, ContainerPort: serverPort},
		},
	})
	loop := netip.MustParseAddr("127.0.0.1")
	for proto, port := range map[string]uint16{"tcp": 8080, "udp": 8053} {
		wantAnswer(t, "outside client", client, proto, hostPort(uplinkHost, port), uplinkClient.String())
		wantAnswer(t, "host to its outside address", netns{}, proto, hostPort(uplinkHost, port), uplinkHost.String())
		wantAnswer(t, "host to 127.0.0.1", netns{}, proto, hostPort(loop, port), gw.String())
		wantAnswer(t, "hairpin via the uplink address", c.ns, proto, hostPort(uplinkHost, port), gw.String())
		wantAnswer(t, "hairpin via the bridge address", c.ns, proto, hostPort(gw, port), gw.String())
	}
}

// setBridgeNF sets bridge-nf-call-iptables of the sandbox's namespace for
// the test, or skips when br_netfilter is not loaded.
func setBridgeNF(t *testing.T, v string) {
	t.Helper()
	const p = "/proc/sys/net/bridge/bridge-nf-call-iptables"
	old, err := os.ReadFile(p)
	if err != nil {
		if v == "1" {
			t.Skip("br_netfilter is not loaded")
		}
		return
	}
	if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
		t.Fatalf("set %s: %v", p, err)
	}
	t.Cleanup(func() { _ = os.WriteFile(p, old, 0o644) })
}

func TestPublishedOnOneAddress(t *testing.T) {
	requireSandbox(t)
	client := newClient(t)
	br := newBridge(t, subnetA)
	c := newContainer(t, br, subnetA, 0)
	nettopo.Serve(t, c.ns, serverPort)
	fw := newFirewall(t)
	loop := netip.MustParseAddr("127.0.0.1")
	apply(t, fw, nat.State{
		Bridges: []nat.Bridge{{Name: br, Subnet: subnetA}},
		Mappings: []nat.Mapping{
			{Proto: "tcp", HostIP: loop, HostPort: 8081, ContainerIP: c.ip, ContainerPort: serverPort},
		},
	})
	wantAnswer(t, "host to 127.0.0.1", netns{}, "tcp", hostPort(loop, 8081), subnetA.Addr().Next().String())
	nettopo.WantNoAnswer(t, "outside client to a port published on 127.0.0.1", client, "tcp", hostPort(uplinkHost, 8081))
}

func TestIsolation(t *testing.T) {
	requireSandbox(t)
	client := newClient(t)
	brA, brB, brI := newBridge(t, subnetA), newBridge(t, subnetB), newBridge(t, subnetI)
	a := newContainer(t, brA, subnetA, 0)
	a2 := newContainer(t, brA, subnetA, 1)
	b := newContainer(t, brB, subnetB, 0)
	in := newContainer(t, brI, subnetI, 0)
	for _, ns := range []netns{a.ns, b.ns, in.ns, client} {
		nettopo.Serve(t, ns, serverPort)
	}
	nettopo.Route(t, client, subnetA, uplinkHost)
	nettopo.Route(t, client, subnetI, uplinkHost)
	to := func(ip netip.Addr) netip.AddrPort { return hostPort(ip, serverPort) }
	blocked := []check{
		{"bridge A to bridge B", a.ns, "tcp", to(b.ip)},
		{"bridge B to bridge A", b.ns, "udp", to(a.ip)},
		{"outside to an unpublished container port", client, "tcp", to(a.ip)},
		{"internal bridge to outside", in.ns, "tcp", to(uplinkClient)},
		{"internal bridge to bridge A", in.ns, "tcp", to(a.ip)},
		{"outside to internal bridge", client, "tcp", to(in.ip)},
		{"bridge A to internal bridge", a.ns, "tcp", to(in.ip)},
	}
	// Without corral's table every one of these paths is open: the
	// rules are what closes them.
	setForwarding(t)
	runChecks(t, blocked, true)
	fw := newFirewall(t)
	apply(t, fw, nat.State{
		Bridges: []nat.Bridge{
			{Name: brA, Subnet: subnetA}, {Name: brB, Subnet: subnetB},
			{Name: brI, Subnet: subnetI, Internal: true},
		},
		Mappings: []nat.Mapping{{Proto: "tcp", HostPort: 8082, ContainerIP: b.ip, ContainerPort: serverPort}},
	})
	runChecks(t, blocked, false)
	wantAnswer(t, "same bridge", a2.ns, "tcp", to(a.ip), a2.ip.String())
	// As with docker, a published port is published to other networks too.
	wantAnswer(t, "bridge A to B's published port", a.ns, "tcp", hostPort(uplinkHost, 8082), subnetB.Addr().Next().String())
	wantAnswer(t, "bridge A to outside", a.ns, "tcp", to(uplinkClient), uplinkHost.String())
	// The host itself still reaches every container, internal ones too.
	wantAnswer(t, "host to internal container", netns{}, "tcp", to(in.ip), subnetI.Addr().Next().String())
}

// check is one connection attempt.
type check struct {
	what  string
	ns    netns
	proto string
	addr  netip.AddrPort
}

// runChecks tries every check at once and wants each to get an answer
// (open) or none.
func runChecks(t *testing.T, checks []check, open bool) {
	t.Helper()
	var wg sync.WaitGroup
	for _, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := nettopo.Ask(c.ns, c.proto, c.addr)
			switch {
			case open && err != nil:
				t.Errorf("without corral's table, %s (%s/%s): %v", c.what, c.addr, c.proto, err)
			case !open && err == nil:
				t.Errorf("%s (%s/%s) answered, want no way through", c.what, c.addr, c.proto)
			}
		}()
	}
	wg.Wait()
}

// setForwarding turns on IPv4 forwarding in the sandbox's namespace (Apply
// would).
func setForwarding(t *testing.T) {
	t.Helper()
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestApplyReplaces checks that Apply is idempotent, that a smaller state
// removes what is gone, that Flush leaves no table, and that a table not
// corral's survives all of it.
func TestApplyReplaces(t *testing.T) {
	requireSandbox(t)
	client := newClient(t)
	br := newBridge(t, subnetA)
	c := newContainer(t, br, subnetA, 0)
	nettopo.Serve(t, c.ns, serverPort)
	nettopo.Serve(t, c.ns, serverPort+1)
	other := addForeignTable(t)
	fw := newFirewall(t)
	bridges := []nat.Bridge{{Name: br, Subnet: subnetA}}
	m80 := nat.Mapping{Proto: "tcp", HostPort: 8083, ContainerIP: c.ip, ContainerPort: serverPort}
	m81 := nat.Mapping{Proto: "tcp", HostPort: 8084, ContainerIP: c.ip, ContainerPort: serverPort + 1}
	full := nat.State{Bridges: bridges, Mappings: []nat.Mapping{m80, m81}}
	apply(t, fw, full)
	first := ruleCount(t, fw.Table())
	apply(t, fw, full)
	if again := ruleCount(t, fw.Table()); again != first {
		t.Errorf("second Apply of the same state: %d rules, first had %d", again, first)
	}
	wantAnswer(t, "port 8084 before", client, "tcp", hostPort(uplinkHost, 8084), uplinkClient.String())
	apply(t, fw, nat.State{Bridges: bridges, Mappings: []nat.Mapping{m80}})
	if n := ruleCount(t, fw.Table()); n != first-1 {
		t.Errorf("after removing a mapping: %d rules, want %d", n, first-1)
	}
	wantAnswer(t, "port 8083 kept", client, "tcp", hostPort(uplinkHost, 8083), uplinkClient.String())
	nettopo.WantNoAnswer(t, "port 8084 removed", client, "tcp", hostPort(uplinkHost, 8084))
	bad := nat.State{Bridges: bridges, Mappings: []nat.Mapping{m80, m80}}
	if err := fw.Apply(context.Background(), bad); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Apply of a state mapping a port twice: %v, want an invalid argument", err)
	}
	wantAnswer(t, "port 8083 after a refused Apply", client, "tcp", hostPort(uplinkHost, 8083), uplinkClient.String())
	if err := fw.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if ok, err := fw.Exists(); err != nil || ok {
		t.Errorf("after Flush: table exists %v (%v), want gone", ok, err)
	}
	if err := fw.Flush(context.Background()); err != nil {
		t.Errorf("Flush without a table: %v", err)
	}
	nettopo.WantNoAnswer(t, "port 8083 after Flush", client, "tcp", hostPort(uplinkHost, 8083))
	if n := ruleCount(t, other); n != 1 {
		t.Errorf("foreign table %s has %d rules after Apply and Flush, want 1", other, n)
	}
}

// addForeignTable adds a table corral does not own, with one rule.
func addForeignTable(t *testing.T) string {
	t.Helper()
	conn, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tb := conn.AddTable(&nftables.Table{Name: "not_corral", Family: nftables.TableFamilyINet})
	ch := conn.AddChain(&nftables.Chain{Name: "c", Table: tb})
	conn.AddRule(&nftables.Rule{Table: tb, Chain: ch})
	if err := conn.Flush(); err != nil {
		t.Fatalf("add foreign table: %v", err)
	}
	t.Cleanup(func() {
		conn.DelTable(tb)
		_ = conn.Flush()
	})
	return tb.Name
}

// ruleCount counts the rules of every chain of inet table name.
func ruleCount(t *testing.T, name string) int {
	t.Helper()
	conn, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tb := &nftables.Table{Name: name, Family: nftables.TableFamilyINet}
	chains, err := conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatalf("list chains: %v", err)
	}
	n := 0
	for _, ch := range chains {
		if ch.Table.Name != name {
			continue
		}
		rules, err := conn.GetRules(tb, ch)
		if err != nil {
			t.Fatalf("list rules of %s: %v", ch.Name, err)
		}
		n += len(rules)
	}
	return n
}

// TestPlannedPorts drives the firewall as the daemon will: Plan on the
// bindings the CLI makes of -p 9000-9002:80-82, -p 9100-9110:80/udp and
// -P, then Apply, then PortMap.
func TestPlannedPorts(t *testing.T) {
	requireSandbox(t)
	client := newClient(t)
	br := newBridge(t, subnetA)
	c := newContainer(t, br, subnetA, 0)
	for p := 80; p <= 83; p++ {
		nettopo.Serve(t, c.ns, p)
	}
	bindings := network.PortMap{}
	for i := range 3 {
		p, _ := network.PortFrom(uint16(80+i), "tcp")
		bindings[p] = []network.PortBinding{{HostPort: fmt.Sprint(9000 + i)}}
	}
	udp80, _ := network.PortFrom(80, "udp")
	tcp83, _ := network.PortFrom(83, "tcp")
	bindings[udp80] = []network.PortBinding{{HostPort: "9100-9110"}}
	req := nat.Request{Bindings: bindings, PublishAll: true, ContainerIP: c.ip,
		Exposed: network.PortSet{tcp83: {}}}
	ms, err := (&nat.Planner{}).Plan(req, nil)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	fw := newFirewall(t)
	apply(t, fw, nat.State{Bridges: []nat.Bridge{{Name: br, Subnet: subnetA}}, Mappings: ms})
	for _, m := range ms {
		wantAnswer(t, m.String(), client, m.Proto, hostPort(uplinkHost, m.HostPort), uplinkClient.String())
	}
	ports := nat.PortMap(req.Exposed, ms)
	if got := ports[udp80]; len(got) != 1 || got[0].HostPort != "9100" {
		t.Errorf("80/udp published as %v, want 0.0.0.0:9100", got)
	}
	if got := ports[tcp83]; len(got) != 1 || got[0].HostPort == "" {
		t.Errorf("83/tcp (-P) published as %v, want a random port", got)
	}
	t.Logf("NetworkSettings.Ports: %v", ports)
}

// TestIPv6 publishes a port and masquerades on a dual-stack bridge.
func TestIPv6(t *testing.T) {
	requireSandbox(t)
	client, uplink := newClientLink(t)
	br := newBridge(t, subnetA)
	c := newContainer(t, br, subnetA, 0)
	sub6 := netip.MustParsePrefix("fd00:30:1::/64")
	gw6, ctr6 := netip.MustParseAddr("fd00:30:1::1"), netip.MustParseAddr("fd00:30:1::2")
	up6Host, up6Client := netip.MustParseAddr("fd00:2::1"), netip.MustParseAddr("fd00:2::2")
	addV6(t, netns{}, br, netip.PrefixFrom(gw6, 64), netip.Addr{})
	addV6(t, c.ns, "eth0", netip.PrefixFrom(ctr6, 64), gw6)
	addV6(t, netns{}, uplink, netip.PrefixFrom(up6Host, 64), netip.Addr{})
	addV6(t, client, "eth0", netip.PrefixFrom(up6Client, 64), netip.Addr{})
	nettopo.Serve(t, c.ns, serverPort)
	nettopo.Serve(t, client, serverPort)
	// IPv6 neighbours take a moment after addresses are added.
	waitAnswer(t, netns{}, hostPort(ctr6, serverPort))
	waitAnswer(t, netns{}, hostPort(up6Client, serverPort))
	fw := newFirewall(t)
	apply(t, fw, nat.State{
		Bridges:  []nat.Bridge{{Name: br, Subnet: subnetA, Subnet6: sub6}},
		Mappings: []nat.Mapping{tcp(netip.Addr{}, 8086, ctr6, serverPort)},
	})
	wantAnswer(t, "outside client over IPv6", client, "tcp", hostPort(up6Host, 8086), up6Client.String())
	wantAnswer(t, "container to outside over IPv6", c.ns, "tcp", hostPort(up6Client, serverPort), up6Host.String())
}

// hostServer answers "host" to every udp datagram to port in the
// sandbox's namespace.
func hostServer(t *testing.T, port int) {
	t.Helper()
	pc, err := net.ListenPacket("udp", fmt.Sprintf(":%d", port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte("host"), from)
		}
	}()
}

// TestUDPConntrack checks that a udp flow the host answered before the
// port was published reaches the container once it is, and the host again
// once the mapping is gone: the stale conntrack entries are deleted.
func TestUDPConntrack(t *testing.T) {
	requireSandbox(t)
	client := newClient(t)
	br := newBridge(t, subnetA)
	c := newContainer(t, br, subnetA, 0)
	nettopo.Serve(t, c.ns, serverPort)
	hostServer(t, 8054)
	var conn net.Conn
	err := client.Do(func() error {
		var err error
		conn, err = net.Dial("udp", hostPort(uplinkHost, 8054).String())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	exchange := func() (string, error) {
		if _, err := conn.Write([]byte("?")); err != nil {
			return "", err
		}
		_ = conn.SetReadDeadline(time.Now().Add(nettopo.DialTimeout))
		buf := make([]byte, 64)
		n, err := conn.Read(buf)
		return string(buf[:n]), err
	}
	// The table exists (other containers) when the flow starts.
	bridges := []nat.Bridge{{Name: br, Subnet: subnetA}}
	fw := newFirewall(t)
	apply(t, fw, nat.State{Bridges: bridges})
	if got, err := exchange(); err != nil || got != "host" {
		t.Fatalf("before publishing: %q, %v; want the host's answer", got, err)
	}
	m := nat.Mapping{Proto: "udp", HostPort: 8054, ContainerIP: c.ip, ContainerPort: serverPort}
	apply(t, fw, nat.State{Bridges: bridges, Mappings: []nat.Mapping{m}})
	if got, err := exchange(); err != nil || strings.TrimSpace(got) != uplinkClient.String() {
		t.Errorf("same flow after publishing: %q, %v; want the container's answer", got, err)
	}
	apply(t, fw, nat.State{Bridges: bridges})
	if got, err := exchange(); err != nil || got != "host" {
		t.Errorf("same flow after unpublishing: %q, %v; want the host's answer", got, err)
	}
}
