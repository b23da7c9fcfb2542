package nat_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/testutil"
)

// The test topology, all inside the sandbox's network namespace (the
// "host") and namespaces the tests create:
//
//	client ns  eth0 192.0.2.2/24 ──veth── host ux<n> 192.0.2.1/24
//	container ns eth0 <subnet>.2 ──veth── host bridge <subnet>.1
//
// 192.0.2.0/24 (TEST-NET-1) exists only between these namespaces.
var (
	uplinkHost   = netip.MustParseAddr("192.0.2.1")
	uplinkClient = netip.MustParseAddr("192.0.2.2")
)

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

var linkSeq atomic.Int32

// linkName returns a new interface name with prefix, unique in this run.
func linkName(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, linkSeq.Add(1))
}

// netns is a network namespace the test created, kept by descriptor.
type netns struct{ fd int }

// newNetns creates a network namespace with lo up.
func newNetns(t *testing.T) netns {
	t.Helper()
	var ns netns
	err := onThread(func() error {
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(orig)
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		ns.fd, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if serr := unix.Setns(orig, unix.CLONE_NEWNET); serr != nil {
			return errThreadTainted
		}
		return err
	})
	if err != nil {
		t.Fatalf("new network namespace: %v", err)
	}
	t.Cleanup(func() { unix.Close(ns.fd) })
	h := ns.handle(t)
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("set lo up: %v", err)
	}
	return ns
}

var errThreadTainted = fmt.Errorf("could not return to the original network namespace")

// onThread runs fn on a locked OS thread; a thread fn could not restore
// (errThreadTainted) is left locked so that it exits with the goroutine.
func onThread(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := fn()
		if err != errThreadTainted {
			runtime.UnlockOSThread()
		}
		done <- err
	}()
	return <-done
}

// do runs fn with the calling thread in ns; sockets fn opens stay in ns.
func (ns netns) do(fn func() error) error {
	return onThread(func() error {
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(orig)
		if err := unix.Setns(ns.fd, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("setns: %w", err)
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			return errThreadTainted
		}
		return ferr
	})
}

func (ns netns) handle(t *testing.T) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(vnetns.NsHandle(ns.fd))
	if err != nil {
		t.Fatalf("netlink handle in namespace: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

// host returns a netlink handle in the sandbox's own namespace.
func hostHandle(t *testing.T) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandle()
	if err != nil {
		t.Fatalf("netlink handle: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

// addAddrUp gives link the address p and sets it up.
func addAddrUp(t *testing.T, h *netlink.Handle, link netlink.Link, p netip.Prefix) {
	t.Helper()
	if p.IsValid() {
		addr, err := netlink.ParseAddr(p.String())
		if err == nil {
			err = h.AddrAdd(link, addr)
		}
		if err != nil {
			t.Fatalf("add %s to %s: %v", p, link.Attrs().Name, err)
		}
	}
	if err := h.LinkSetUp(link); err != nil {
		t.Fatalf("set %s up: %v", link.Attrs().Name, err)
	}
}

// vethInto makes a veth pair whose host end is named host and whose other
// end is eth0 in ns with address addr (and a default route via gw when
// gw is valid); it returns the host end.
func vethInto(t *testing.T, host string, ns netns, addr netip.Prefix, gw netip.Addr) netlink.Link {
	t.Helper()
	hh := hostHandle(t)
	peer := linkName("vp")
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: host}, PeerName: peer,
		PeerNamespace: netlink.NsFd(ns.fd)}
	if err := hh.LinkAdd(veth); err != nil {
		t.Fatalf("add veth %s: %v", host, err)
	}
	t.Cleanup(func() { _ = hh.LinkDel(veth) })
	nh := ns.handle(t)
	in, err := nh.LinkByName(peer)
	if err == nil {
		err = nh.LinkSetName(in, "eth0")
	}
	if err != nil {
		t.Fatalf("rename veth peer in namespace: %v", err)
	}
	addAddrUp(t, nh, in, addr)
	if gw.IsValid() {
		r := &netlink.Route{LinkIndex: in.Attrs().Index, Gw: gw.AsSlice()}
		if err := nh.RouteAdd(r); err != nil {
			t.Fatalf("default route via %s: %v", gw, err)
		}
	}
	out, err := hh.LinkByName(host)
	if err != nil {
		t.Fatalf("find %s: %v", host, err)
	}
	return out
}

// newBridge creates a bridge with the first address of subnet.
func newBridge(t *testing.T, subnet netip.Prefix) string {
	t.Helper()
	h := hostHandle(t)
	name := linkName("nbr")
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if err := h.LinkAdd(br); err != nil {
		t.Fatalf("add bridge %s: %v", name, err)
	}
	t.Cleanup(func() { _ = h.LinkDel(br) })
	addAddrUp(t, h, br, netip.PrefixFrom(subnet.Addr().Next(), subnet.Bits()))
	return name
}

// container is a namespace behind a bridge.
type container struct {
	ns netns
	ip netip.Addr
}

// newContainer puts a new namespace on bridge (whose subnet is subnet) at
// the subnet's second address plus n.
func newContainer(t *testing.T, bridge string, subnet netip.Prefix, n int) container {
	t.Helper()
	ns := newNetns(t)
	ip := subnet.Addr().Next()
	gw := ip
	for i := 0; i <= n; i++ {
		ip = ip.Next()
	}
	host := vethInto(t, linkName("vc"), ns, netip.PrefixFrom(ip, subnet.Bits()), gw)
	h := hostHandle(t)
	br, err := h.LinkByName(bridge)
	if err == nil {
		err = h.LinkSetMaster(host, br)
	}
	if err == nil {
		// With br_netfilter loaded, a hairpin connection is DNATed on
		// the bridge and bridged back out of the port it came in by.
		err = h.LinkSetHairpin(host, true)
	}
	if err == nil {
		err = h.LinkSetUp(host)
	}
	if err != nil {
		t.Fatalf("attach %s to %s: %v", host.Attrs().Name, bridge, err)
	}
	waitUp(t, h, bridge)
	waitUp(t, h, host.Attrs().Name)
	waitUp(t, ns.handle(t), "eth0")
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
	ns := newNetns(t)
	name := linkName("ux")
	host := vethInto(t, name, ns, netip.PrefixFrom(uplinkClient, 24), netip.Addr{})
	addAddrUp(t, hostHandle(t), host, netip.PrefixFrom(uplinkHost, 24))
	waitUp(t, hostHandle(t), name)
	waitUp(t, ns.handle(t), "eth0")
	return ns, name
}

// waitUp waits up to 3 seconds for link's operational state to be up: the
// kernel turns a new carrier on asynchronously (linkwatch, up to a second
// later), and until then packets sent on the link are dropped.
func waitUp(t *testing.T, h *netlink.Handle, link string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
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
		time.Sleep(10 * time.Millisecond)
	}
}

// addV6 adds p to link in ns (the sandbox's own when ns.fd is 0) without
// duplicate address detection, and a default route via gw if valid.
func addV6(t *testing.T, ns netns, link string, p netip.Prefix, gw netip.Addr) {
	t.Helper()
	h := hostHandle(t)
	if ns.fd != 0 {
		h = ns.handle(t)
	}
	l, err := h.LinkByName(link)
	if err != nil {
		t.Fatalf("find %s: %v", link, err)
	}
	addr, err := netlink.ParseAddr(p.String())
	if err != nil {
		t.Fatal(err)
	}
	addr.Flags = unix.IFA_F_NODAD
	if err := h.AddrAdd(l, addr); err != nil {
		t.Fatalf("add %s to %s: %v", p, link, err)
	}
	if gw.IsValid() {
		r := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: gw.AsSlice(), Family: unix.AF_INET6}
		if err := h.RouteAdd(r); err != nil {
			t.Fatalf("IPv6 default route via %s: %v", gw, err)
		}
	}
}

// routeVia adds a route to dst via gw in ns (an outside host that knows
// the way to a container subnet).
func routeVia(t *testing.T, ns netns, dst netip.Prefix, gw netip.Addr) {
	t.Helper()
	_, ipnet, _ := net.ParseCIDR(dst.String())
	if err := ns.handle(t).RouteAdd(&netlink.Route{Dst: ipnet, Gw: gw.AsSlice()}); err != nil {
		t.Fatalf("route %s via %s: %v", dst, gw, err)
	}
}

// serve starts, in ns, a TCP and a UDP server on port that answer each
// connection or datagram with the address it came from.
func serve(t *testing.T, ns netns, port int) {
	t.Helper()
	var ln net.Listener
	var pc net.PacketConn
	err := ns.do(func() error {
		var err error
		if ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port)); err != nil {
			return err
		}
		pc, err = net.ListenPacket("udp", fmt.Sprintf(":%d", port))
		return err
	})
	if err != nil {
		t.Fatalf("listen in namespace: %v", err)
	}
	t.Cleanup(func() { ln.Close(); pc.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			fmt.Fprint(c, host)
			c.Close()
		}
	}()
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(from.String())
			_, _ = pc.WriteTo([]byte(host), from)
		}
	}()
}

const dialTimeout = 500 * time.Millisecond

// ask connects from ns (the sandbox's own when ns.fd is 0) to addr over
// proto and returns what the server answered: the address it saw.
func ask(ns netns, proto string, addr netip.AddrPort) (string, error) {
	var c net.Conn
	dial := func() error {
		var err error
		c, err = net.DialTimeout(proto, addr.String(), dialTimeout)
		return err
	}
	var err error
	if ns.fd == 0 {
		err = dial()
	} else {
		err = ns.do(dial)
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	if proto == "udp" {
		if _, err := c.Write([]byte("?")); err != nil {
			return "", err
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(dialTimeout))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		return "", fmt.Errorf("read from %s/%s: %w", addr, proto, err)
	}
	return strings.TrimSpace(string(buf[:n])), nil
}

// wantAnswer checks that ask gets want.
func wantAnswer(t *testing.T, what string, ns netns, proto string, addr netip.AddrPort, want string) {
	t.Helper()
	got, err := ask(ns, proto, addr)
	if err != nil {
		t.Errorf("%s: %s/%s: %v", what, addr, proto, err)
		return
	}
	if got != want {
		t.Errorf("%s: %s/%s: server saw %s, want %s", what, addr, proto, got, want)
	}
}

// wantNoAnswer checks that ask fails.
func wantNoAnswer(t *testing.T, what string, ns netns, proto string, addr netip.AddrPort) {
	t.Helper()
	if got, err := ask(ns, proto, addr); err == nil {
		t.Errorf("%s: %s/%s answered (server saw %s), want no way through", what, addr, proto, got)
	}
}

// waitAnswer waits up to 5 seconds for a tcp server at addr to answer from
// ns.
func waitAnswer(t *testing.T, ns netns, addr netip.AddrPort) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := ask(ns, "tcp", addr)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("topology: %s does not answer: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
