package network

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/errdefs"
)

// Macvlan networks put each container on a parent link's segment with a
// macvlan link of its own (its MAC, an address of the network's pool),
// made directly in the container's network namespace: no bridge, no NAT,
// no firewall rule. Without a parent (dockerd makes a dummy link, which
// this kernel lacks) the lower link is an unaddressed bridge of the
// network's own, so its containers reach only each other.

// macvlanModes are the modes macvlan_mode takes, as dockerd's.
var macvlanModes = map[string]netlink.MacvlanMode{
	"bridge": netlink.MACVLAN_MODE_BRIDGE, "private": netlink.MACVLAN_MODE_PRIVATE,
	"vepa": netlink.MACVLAN_MODE_VEPA, "passthru": netlink.MACVLAN_MODE_PASSTHRU,
}

// assignParent checks a macvlan network's options: its mode, and a parent
// no other network uses.
func (s *Store) assignParent(n *Network, o CreateOptions) error {
	if m := n.Options[OptionMacvlanMode]; m != "" {
		if _, ok := macvlanModes[m]; !ok {
			return errdefs.InvalidArgument(fmt.Errorf("requested macvlan mode %q is not valid: 'bridge' mode is the macvlan driver default", m))
		}
	}
	n.Parent, n.VLANLink = n.Options[OptionParent], o.VLANLink
	if n.Parent == "" {
		return nil
	}
	for _, m := range s.nets {
		if m.Driver == DriverMacvlan && m.Parent == n.Parent {
			return errdefs.Conflict(fmt.Errorf("network %s is already using parent interface %s", m.Name, n.Parent))
		}
	}
	return nil
}

// LowerLink is the link n's macvlan endpoints hang on: the parent, or
// the stand-in bridge.
func (n *Network) LowerLink() string {
	if n.Parent != "" {
		return n.Parent
	}
	return n.Bridge
}

// EnsureParent checks that a macvlan network's parent link exists. A
// missing parent of the form LINK.VLAN whose LINK exists is made as that
// VLAN's subinterface, as dockerd does; made says so, for DeleteVLAN.
func EnsureParent(name string) (made bool, err error) {
	if _, err := netlink.LinkByName(name); err == nil {
		return false, nil
	}
	base, id, ok := strings.Cut(name, ".")
	vid, verr := strconv.Atoi(id)
	if !ok || verr != nil || vid < 1 || vid > 4094 || len(name) > 15 {
		return false, errdefs.InvalidArgument(fmt.Errorf("-o parent interface was not found on the host: %s", name))
	}
	lower, err := netlink.LinkByName(base)
	if err != nil {
		return false, errdefs.InvalidArgument(fmt.Errorf("-o parent interface was not found on the host: %s (nor its link %s for VLAN %d)", name, base, vid))
	}
	vlan := &netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: lower.Attrs().Index}, VlanId: vid}
	if err := netlink.LinkAdd(vlan); errors.Is(err, unix.EOPNOTSUPP) {
		return false, errdefs.InvalidArgument(fmt.Errorf("create VLAN link %s for -o parent: %w", name, errNoVLAN))
	} else if err != nil {
		return false, fmt.Errorf("create VLAN link %s: %w", name, err)
	}
	if err := netlink.LinkSetUp(vlan); err != nil {
		_ = netlink.LinkDel(vlan)
		return false, fmt.Errorf("set VLAN link %s up: %w", name, err)
	}
	return true, nil
}

// errNoVLAN is the error when the kernel cannot make VLAN links.
var errNoVLAN = errors.New("this kernel has no 802.1q VLAN support (module 8021q)")

// DeleteVLAN removes a VLAN link EnsureParent made; one gone is no error.
func DeleteVLAN(name string) error { return deleteLink(name, "VLAN link") }

// addMacvlan creates a's macvlan link on its lower link directly in
// namespace nsFD, named a.IfName, with a.MAC.
func addMacvlan(nsFD int, a Attachment) error {
	lower, err := netlink.LinkByName(a.Parent)
	if err != nil {
		return fmt.Errorf("attach %s: find parent %s: %w", a.IfName, a.Parent, err)
	}
	mac, err := net.ParseMAC(a.MAC)
	if err != nil {
		return fmt.Errorf("attach %s: mac address %q: %w", a.IfName, a.MAC, err)
	}
	mode := netlink.MACVLAN_MODE_BRIDGE
	if m, ok := macvlanModes[a.Mode]; ok {
		mode = m
	}
	mv := &netlink.Macvlan{LinkAttrs: netlink.LinkAttrs{Name: a.IfName, ParentIndex: lower.Attrs().Index,
		HardwareAddr: mac, MTU: lower.Attrs().MTU, Namespace: netlink.NsFd(nsFD)}, Mode: mode}
	if err := netlink.LinkAdd(mv); err != nil {
		return fmt.Errorf("attach %s: create macvlan link on %s: %w", a.IfName, a.Parent, err)
	}
	return nil
}

// DetachIn deletes link ifName in the network namespace of process pid
// (a macvlan endpoint of a running container); a link or a process
// already gone is no error.
func DetachIn(pid int, ifName string) error {
	ns, err := netns.GetFromPid(pid)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("detach %s: open network namespace of %d: %w", ifName, pid, err)
	}
	defer ns.Close()
	return deleteIn(ns, ifName)
}

// deleteIn deletes link ifName in namespace ns.
func deleteIn(ns netns.NsHandle, ifName string) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("detach %s: netlink in the container's namespace: %w", ifName, err)
	}
	defer h.Close()
	return deleteLinkAt(h, ifName, "container link")
}
