package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// EnsureBridge makes the Linux bridge name if it does not exist, gives it
// the gateways gws (each with its subnet's length; IPv6 ones without
// duplicate address detection, so they serve at once; none for the
// stand-in of a macvlan network) and sets it up. It is idempotent, so the
// daemon calls it at every start.
func EnsureBridge(name string, gws ...netip.Prefix) error {
	link, err := netlink.LinkByName(name)
	if errors.As(err, &netlink.LinkNotFoundError{}) {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
		if err = netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("create bridge %s: %w", name, err)
		}
		link, err = netlink.LinkByName(name)
	}
	if err != nil {
		return fmt.Errorf("find bridge %s: %w", name, err)
	}
	if _, ok := link.(*netlink.Bridge); !ok {
		return fmt.Errorf("create bridge %s: a %s link of that name exists", name, link.Type())
	}
	for _, gw := range gws {
		if err := netlink.AddrReplace(link, addr(gw)); err != nil {
			return fmt.Errorf("address bridge %s: %w", name, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("set bridge %s up: %w", name, err)
	}
	return nil
}

// DeleteBridge removes bridge name; one already gone is no error.
func DeleteBridge(name string) error { return deleteLink(name, "bridge") }

// deleteLink removes link name, a what, from the caller's namespace; one
// already gone is no error.
func deleteLink(name, what string) error { return deleteLinkAt(&netlink.Handle{}, name, what) }

// deleteLinkAt is deleteLink through handle h (another namespace's).
func deleteLinkAt(h *netlink.Handle, name, what string) error {
	link, err := h.LinkByName(name)
	if errors.As(err, &netlink.LinkNotFoundError{}) {
		return nil
	}
	if err == nil {
		err = h.LinkDel(link)
	}
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", what, name, err)
	}
	return nil
}

// addr is p as a netlink address; an IPv6 one skips duplicate address
// detection, so it is usable at once (nodad), as dockerd's.
func addr(p netip.Prefix) *netlink.Addr {
	a := &netlink.Addr{IPNet: ipNet(p)}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

// EnableForwarding turns IPv4 forwarding on in the calling process's
// network namespace, as an engine with bridges needs (dockerd does the
// same).
func EnableForwarding() error {
	const p = "/proc/sys/net/ipv4/ip_forward"
	if b, err := os.ReadFile(p); err == nil && len(b) > 0 && b[0] == '1' {
		return nil
	}
	if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enable IPv4 forwarding: %w", err)
	}
	return nil
}

// Attachment is one endpoint's links: IfName in the container's network
// namespace, with Addr (and Addr6 on a dual stack network) and MAC, and
// the default routes via Gateway (and Gateway6) when DefaultRoute. On a
// bridge network IfName is a veth whose host end HostLink is on Bridge;
// on a macvlan network it is a macvlan link of mode Mode on Parent.
type Attachment struct {
	Bridge       string
	HostLink     string
	Parent, Mode string
	IfName       string
	Addr, Addr6  netip.Prefix
	MAC          string
	Gateway      netip.Addr
	Gateway6     netip.Addr
	DefaultRoute bool
}

// Attach makes a's links for the network namespace of process pid. On
// failure nothing is left: the link is deleted, which takes its
// addresses and routes with it.
func Attach(pid int, a Attachment) (err error) {
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return fmt.Errorf("attach %s: open network namespace of %d: %w", a.IfName, pid, err)
	}
	defer ns.Close()
	add, undo := addPair, func() error { return Detach(a.HostLink) }
	if a.Parent != "" {
		add, undo = addMacvlan, func() error { return deleteIn(ns, a.IfName) }
	}
	if err := add(int(ns), a); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = undo()
		}
	}()
	return configureInside(ns, a)
}

// addPair creates the veth pair with its peer already in namespace nsFD
// and the host end up on the bridge.
func addPair(nsFD int, a Attachment) error {
	br, err := netlink.LinkByName(a.Bridge)
	if err != nil {
		return fmt.Errorf("attach %s: find bridge %s: %w", a.IfName, a.Bridge, err)
	}
	mac, err := net.ParseMAC(a.MAC)
	if err != nil {
		return fmt.Errorf("attach %s: mac address %q: %w", a.IfName, a.MAC, err)
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: a.HostLink, MasterIndex: br.Attrs().Index, MTU: br.Attrs().MTU},
		PeerName: a.IfName, PeerHardwareAddr: mac, PeerNamespace: netlink.NsFd(nsFD)}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("attach %s: create veth pair %s: %w", a.IfName, a.HostLink, err)
	}
	// Hairpin mode lets a container reach its own published port: the
	// DNAT sends the packet back out of the bridge port it came in by.
	if err := netlink.LinkSetHairpin(veth, true); err != nil {
		_ = Detach(a.HostLink)
		return fmt.Errorf("attach %s: set %s in hairpin mode: %w", a.IfName, a.HostLink, err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		_ = Detach(a.HostLink)
		return fmt.Errorf("attach %s: set %s up: %w", a.IfName, a.HostLink, err)
	}
	return nil
}

// configureInside gives the container's end its address, sets it up and
// adds the default route, through a netlink handle in namespace ns.
func configureInside(ns netns.NsHandle, a Attachment) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("attach %s: netlink in the container's namespace: %w", a.IfName, err)
	}
	defer h.Close()
	link, err := h.LinkByName(a.IfName)
	if err != nil {
		return fmt.Errorf("attach %s: find it in the container: %w", a.IfName, err)
	}
	for _, p := range []netip.Prefix{a.Addr, a.Addr6} {
		if !p.IsValid() {
			continue
		}
		if err := h.AddrAdd(link, addr(p)); err != nil {
			return fmt.Errorf("attach %s: add address %s: %w", a.IfName, p, err)
		}
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("attach %s: set up: %w", a.IfName, err)
	}
	if !a.DefaultRoute {
		return nil
	}
	for _, gw := range []netip.Addr{a.Gateway, a.Gateway6} {
		if !gw.IsValid() {
			continue
		}
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: net.IP(gw.AsSlice())}
		if err := h.RouteAdd(r); err != nil {
			return fmt.Errorf("attach %s: default route via %s: %w", a.IfName, gw, err)
		}
	}
	return nil
}

// hostID seeds this host's IPv6 ULA pool: /etc/machine-id, else the host
// name.
func hostID() []byte {
	if b, err := os.ReadFile("/etc/machine-id"); err == nil && len(b) > 0 {
		return b
	}
	h, _ := os.Hostname()
	return []byte(h)
}

// Detach deletes the veth pair whose host end is hostLink (its peer, with
// its address and routes, goes with it); one already gone is no error.
func Detach(hostLink string) error { return deleteLink(hostLink, "veth") }

// LinkExists reports whether a link of that name is in the calling
// process's network namespace.
func LinkExists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// RoutedPrefixes are the IPv4 and IPv6 destinations the calling
// process's network namespace routes (default routes, link-local and
// multicast aside): a subnet picked from the pools must overlap none of
// them, as dockerd's does not.
func RoutedPrefixes() ([]netip.Prefix, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	var out []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		a, ok := netip.AddrFromSlice(r.Dst.IP)
		a = a.Unmap()
		if ok && ones > 0 && !a.IsLinkLocalUnicast() && !a.IsMulticast() {
			out = append(out, netip.PrefixFrom(a, ones).Masked())
		}
	}
	return out, nil
}
