package nettopo

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The outside client host's addresses (documentation prefixes, which
// exist only inside the test's namespaces): Uplink* on the sandbox's end
// of its veth, Client* on its own.
var (
	UplinkAddr  = netip.MustParseAddr("192.0.2.1")
	ClientAddr  = netip.MustParseAddr("192.0.2.2")
	UplinkAddr6 = netip.MustParseAddr("2001:db8::1")
	ClientAddr6 = netip.MustParseAddr("2001:db8::2")
)

// Veth makes a veth pair whose end name is in the caller's namespace and
// whose peer is in ns, both up, deleted when t ends.
func Veth(t testing.TB, name string, ns Netns, peer string) {
	t.Helper()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer}
	if ns.fd != 0 {
		v.PeerNamespace = netlink.NsFd(ns.fd)
	}
	if err := netlink.LinkAdd(v); err != nil {
		t.Fatalf("add veth %s: %v", name, err)
	}
	t.Cleanup(func() { _ = netlink.LinkDel(v) })
	AddrUp(t, Netns{}, name)
	AddrUp(t, ns, peer)
}

// AddrUp gives link in ns the addresses ps (IPv6 ones without duplicate
// address detection, so usable at once) and sets it up.
func AddrUp(t testing.TB, ns Netns, link string, ps ...netip.Prefix) {
	t.Helper()
	h := ns.Handle(t)
	l, err := h.LinkByName(link)
	if err != nil {
		t.Fatalf("find %s: %v", link, err)
	}
	for _, p := range ps {
		a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := h.AddrAdd(l, a); err != nil {
			t.Fatalf("add %s to %s: %v", p, link, err)
		}
	}
	if err := h.LinkSetUp(l); err != nil {
		t.Fatalf("set %s up: %v", link, err)
	}
}

// Route adds a route in ns to dst (the default route when zero) via gw.
func Route(t testing.TB, ns Netns, dst netip.Prefix, gw netip.Addr) {
	t.Helper()
	r := &netlink.Route{Gw: gw.AsSlice()}
	if dst.IsValid() {
		r.Dst = &net.IPNet{IP: dst.Addr().AsSlice(), Mask: net.CIDRMask(dst.Bits(), dst.Addr().BitLen())}
	} else if gw.Is6() {
		r.Family = unix.AF_INET6
	}
	if err := ns.Handle(t).RouteAdd(r); err != nil {
		t.Fatalf("route %s via %s: %v", dst, gw, err)
	}
}

// WaitUp waits up to 3 seconds for link in ns to be operationally up: the
// kernel turns a new carrier on asynchronously (linkwatch, up to a second
// later), and until then packets sent on it are dropped.
func WaitUp(t testing.TB, ns Netns, link string) {
	t.Helper()
	h := ns.Handle(t)
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		l, err := h.LinkByName(link)
		if err != nil {
			t.Fatalf("find %s: %v", link, err)
		}
		if l.Attrs().OperState == netlink.OperUp {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not up: operational state %s", link, l.Attrs().OperState)
		}
	}
}

// Client makes the outside host: a namespace joined to the caller's by a
// veth whose end there is link (eth0 in the client), with UplinkAddr/24
// and UplinkAddr6/64 on link and ClientAddr/24 and ClientAddr6/64 in the
// client, both up.
func Client(t testing.TB, link string) Netns {
	t.Helper()
	ns := New(t)
	Veth(t, link, ns, "eth0")
	AddrUp(t, Netns{}, link, netip.PrefixFrom(UplinkAddr, 24), netip.PrefixFrom(UplinkAddr6, 64))
	AddrUp(t, ns, "eth0", netip.PrefixFrom(ClientAddr, 24), netip.PrefixFrom(ClientAddr6, 64))
	WaitUp(t, Netns{}, link)
	WaitUp(t, ns, "eth0")
	return ns
}
