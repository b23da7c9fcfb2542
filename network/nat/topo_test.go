package nat_test

import (
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/corral-dev/corral/testutil"
	"github.com/corral-dev/corral/testutil/nettopo"
)

// The test topology (testutil/nettopo), all inside the sandbox's network
// namespace (the "host") and namespaces the tests create:
//
//	client ns  eth0 192.0.2.2/24 ──veth── host ux<n> 192.0.2.1/24
//	container ns eth0 <subnet>.2 ──veth── host bridge <subnet>.1
//
// 192.0.2.0/24 (TEST-NET-1) exists only between these namespaces.
var (
	uplinkHost   = nettopo.UplinkAddr
	uplinkClient = nettopo.ClientAddr
)

type netns = nettopo.Netns

func TestMain(m *testing.M) { os.Exit(testutil.Sandbox(m)) }

// requireSandbox skips unless the test runs as root inside the sandbox:
// these tests change the network namespace they run in.
func requireSandbox(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t)
	if !testutil.InSandbox() {
		t.Skip("needs the test sandbox's network namespace")
	}
}

// newBridge creates a bridge with the first address of subnet.
func newBridge(t *testing.T, subnet netip.Prefix) string {
	t.Helper()
	name := nettopo.LinkName("nbr")
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if err := netlink.LinkAdd(br); err != nil {
		t.Fatalf("add bridge %s: %v", name, err)
	}
	t.Cleanup(func() { _ = netlink.LinkDel(br) })
	nettopo.AddrUp(t, netns{}, name, netip.PrefixFrom(subnet.Addr().Next(), subnet.Bits()))
	return name
}

// container is a namespace behind a bridge.
type container struct {
	ns netns
	ip netip.Addr
}

// newContainer puts a new namespace on bridge (whose subnet is subnet) at
// the subnet's second address plus n, with a default route via the
// first.
func newContainer(t *testing.T, bridge string, subnet netip.Prefix, n int) container {
	t.Helper()
	ns := nettopo.New(t)
	gw := subnet.Addr().Next()
	ip := gw
	for i := 0; i <= n; i++ {
		ip = ip.Next()
	}
	host := nettopo.LinkName("vc")
	nettopo.Veth(t, host, ns, "eth0")
	nettopo.AddrUp(t, ns, "eth0", netip.PrefixFrom(ip, subnet.Bits()))
	nettopo.Route(t, ns, netip.Prefix{}, gw)
	br, err := netlink.LinkByName(bridge)
	var l netlink.Link
	if err == nil {
		l, err = netlink.LinkByName(host)
	}
	if err == nil {
		err = netlink.LinkSetMaster(l, br)
	}
	if err == nil {
		// With br_netfilter loaded, a hairpin connection is DNATed on
		// the bridge and bridged back out of the port it came in by.
		err = netlink.LinkSetHairpin(l, true)
	}
	if err != nil {
		t.Fatalf("attach %s to %s: %v", host, bridge, err)
	}
	nettopo.WaitUp(t, netns{}, bridge)
	nettopo.WaitUp(t, netns{}, host)
	nettopo.WaitUp(t, ns, "eth0")
	return container{ns: ns, ip: ip}
}

// newClient makes the outside host: a namespace joined to the sandbox by a
// veth, 192.0.2.2 there and 192.0.2.1 on the sandbox's end.
func newClient(t *testing.T) netns {
	t.Helper()
	ns, _ := newClientLink(t)
	return ns
}

// newClientLink is newClient, also returning the sandbox's end of the veth.
func newClientLink(t *testing.T) (netns, string) {
	t.Helper()
	name := nettopo.LinkName("ux")
	return nettopo.Client(t, name), name
}

// addV6 adds p to link in ns (the sandbox's own when zero) and a default
// route via gw if valid.
func addV6(t *testing.T, ns netns, link string, p netip.Prefix, gw netip.Addr) {
	t.Helper()
	nettopo.AddrUp(t, ns, link, p)
	if gw.IsValid() {
		nettopo.Route(t, ns, netip.Prefix{}, gw)
	}
}

// wantAnswer checks that ask gets want.
func wantAnswer(t *testing.T, what string, ns netns, proto string, addr netip.AddrPort, want string) {
	t.Helper()
	got, err := nettopo.Ask(ns, proto, addr)
	if err != nil {
		t.Errorf("%s: %s/%s: %v", what, addr, proto, err)
		return
	}
	if got != want {
		t.Errorf("%s: %s/%s: server saw %s, want %s", what, addr, proto, got, want)
	}
}

// waitAnswer waits up to 5 seconds for a tcp server at addr to answer from
// ns.
func waitAnswer(t *testing.T, ns netns, addr netip.AddrPort) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := nettopo.Ask(ns, "tcp", addr)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("topology: %s does not answer: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
