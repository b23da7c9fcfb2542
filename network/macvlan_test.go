package network

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/testutil"
)

// vethParent makes a veth pair in the sandbox to serve as a macvlan parent.
func vethParent(t *testing.T, name string) {
	t.Helper()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "p"}
	if err := netlink.LinkAdd(v); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netlink.LinkDel(v) })
	if err := netlink.LinkSetUp(v); err != nil {
		t.Fatal(err)
	}
}

// A macvlan endpoint appears in the container with its address, MAC and
// dual stack routes, and DetachIn removes it; a failed attach leaves none.
func TestAttachMacvlan(t *testing.T) {
	testutil.RequireRoot(t)
	vethParent(t, "tmvpar")
	pid := netnsProcess(t)
	a := Attachment{Parent: "tmvpar", IfName: "eth0", Addr: netip.MustParsePrefix("10.80.0.2/24"),
		Addr6: netip.MustParsePrefix("fd00:80::2/64"), MAC: "02:42:0a:50:00:02",
		Gateway: netip.MustParseAddr("10.80.0.1"), Gateway6: netip.MustParseAddr("fd00:80::1"), DefaultRoute: true}
	if err := Attach(pid, a); err != nil {
		t.Fatal(err)
	}
	h := inside(t, pid)
	l, err := h.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if l.Type() != "macvlan" || l.Attrs().HardwareAddr.String() != a.MAC {
		t.Errorf("eth0 is %s with %s, want macvlan with %s", l.Type(), l.Attrs().HardwareAddr, a.MAC)
	}
	addrs, _ := h.AddrList(l, netlink.FAMILY_V6)
	found := false
	for _, x := range addrs {
		found = found || (x.IP.String() == "fd00:80::2" && x.Flags&unix.IFA_F_TENTATIVE == 0)
	}
	if !found {
		t.Errorf("eth0 lacks a usable fd00:80::2: %v", addrs)
	}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, _ := h.RouteList(l, fam)
		def := false
		for _, r := range routes {
			def = def || (r.Dst == nil && r.Gw != nil) || (r.Dst != nil && r.Dst.IP.IsUnspecified() && r.Gw != nil)
		}
		if !def {
			t.Errorf("no default route of family %d: %v", fam, routes)
		}
	}
	b := a
	b.IfName, b.Gateway, b.Gateway6 = "eth1", netip.MustParseAddr("10.99.0.1"), netip.Addr{}
	if err := Attach(pid, b); err == nil {
		t.Fatal("unreachable gateway accepted")
	}
	if _, err := h.LinkByName("eth1"); err == nil {
		t.Error("failed macvlan attach left eth1 in the container")
	}
	if err := DetachIn(pid, "eth0"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.LinkByName("eth0"); err == nil {
		t.Error("eth0 still there after DetachIn")
	}
}

func TestEnsureParent(t *testing.T) {
	testutil.RequireRoot(t)
	vethParent(t, "tmvbase")
	if made, err := EnsureParent("tmvbase"); err != nil || made {
		t.Fatalf("existing parent: made %v, %v", made, err)
	}
	for _, bad := range []string{"nosuchlink0", "nosuch.10", "tmvbase.0", "tmvbase.5000", "tmvbase.x"} {
		if _, err := EnsureParent(bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("EnsureParent(%s) = %v, want invalid argument", bad, err)
		}
	}
	made, err := EnsureParent("tmvbase.10")
	if errors.Is(err, errNoVLAN) {
		// This kernel has no 802.1q: the error says so and nothing is left.
		if LinkExists("tmvbase.10") {
			t.Fatal("failed VLAN creation left tmvbase.10")
		}
		t.Logf("no VLAN support here: %v", err)
		return
	}
	if err != nil || !made {
		t.Fatalf("VLAN parent: made %v, %v", made, err)
	}
	l, err := netlink.LinkByName("tmvbase.10")
	if err != nil || l.Type() != "vlan" || l.(*netlink.Vlan).VlanId != 10 {
		t.Fatalf("tmvbase.10 = %v, %v; want VLAN 10", l, err)
	}
	if err := DeleteVLAN("tmvbase.10"); err != nil || LinkExists("tmvbase.10") {
		t.Fatalf("DeleteVLAN: %v", err)
	}
}

func TestCreateMacvlanStore(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	mv, err := s.Create(CreateOptions{Name: "mv", Driver: DriverMacvlan, Options: map[string]string{OptionParent: "eth9"},
		EnableIPv6: true})
	if err != nil {
		t.Fatal(err)
	}
	if mv.Parent != "eth9" || mv.Bridge != "" || !mv.Subnet.IsValid() || !mv.Subnet6.Addr().Is6() || mv.LowerLink() != "eth9" {
		t.Errorf("macvlan network = %+v", mv)
	}
	_, err = s.Create(CreateOptions{Name: "mv2", Driver: DriverMacvlan, Options: map[string]string{OptionParent: "eth9"}})
	if !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("second network on eth9: %v, want conflict", err)
	}
	_, err = s.Create(CreateOptions{Name: "mv3", Driver: DriverMacvlan, Options: map[string]string{OptionMacvlanMode: "weird"}})
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bad mode: %v, want invalid argument", err)
	}
	n, err := s.Create(CreateOptions{Name: "mvint", Driver: DriverMacvlan, Internal: true})
	if err != nil || n.Bridge == "" || n.LowerLink() != n.Bridge {
		t.Errorf("parentless macvlan = %+v, %v; want a stand-in bridge", n, err)
	}
	_, err = s.Create(CreateOptions{Name: "v6dup", EnableIPv6: true, Subnet6: mv.Subnet6})
	if !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("overlapping IPv6 subnet %s: %v, want conflict", mv.Subnet6, err)
	}
	_, err = s.Create(CreateOptions{Name: "v6no", Subnet6: netip.MustParsePrefix("fd00:9::/64")})
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("IPv6 subnet without --ipv6: %v, want invalid argument", err)
	}
}
