package network

import (
	"net/netip"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/corral-dev/corral/network/ipam"
	"github.com/corral-dev/corral/testutil"
)

// The link tests run as root in the sandbox's private network namespace:
// bridges and veths vanish with it.
func TestMain(m *testing.M) { os.Exit(testutil.Sandbox(m)) }

// netnsProcess is a process in a network namespace of its own, gone with
// the test.
func netnsProcess(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd.Process.Pid
}

func inside(t *testing.T, pid int) *netlink.Handle {
	t.Helper()
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func TestAttachDetach(t *testing.T) {
	testutil.RequireRoot(t)
	const br = "tbr-attach"
	if err := EnsureBridge(br, netip.MustParsePrefix("10.77.0.1/24")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = DeleteBridge(br) })
	if err := EnsureBridge(br, netip.MustParsePrefix("10.77.0.1/24")); err != nil {
		t.Fatalf("second EnsureBridge: %v", err)
	}
	pid := netnsProcess(t)
	a := Attachment{Bridge: br, HostLink: "vethtest1", IfName: "eth0", Addr: netip.MustParsePrefix("10.77.0.2/24"),
		MAC: "02:42:0a:4d:00:02", Gateway: netip.MustParseAddr("10.77.0.1"), DefaultRoute: true}
	if err := Attach(pid, a); err != nil {
		t.Fatal(err)
	}
	h := inside(t, pid)
	link, err := h.LinkByName("eth0")
	if err != nil || link.Attrs().HardwareAddr.String() != a.MAC || link.Attrs().Flags&1 == 0 {
		t.Fatalf("eth0: %+v, %v", link, err)
	}
	addrs, _ := h.AddrList(link, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IPNet.String() != "10.77.0.2/24" {
		t.Errorf("addresses %v", addrs)
	}
	routes, _ := h.RouteList(link, netlink.FAMILY_V4)
	var gw bool
	for _, r := range routes {
		gw = gw || ((r.Dst == nil || r.Dst.String() == "0.0.0.0/0") && r.Gw.String() == "10.77.0.1")
	}
	if !gw {
		t.Errorf("no default route via the gateway: %v", routes)
	}
	host, err := netlink.LinkByName(a.HostLink)
	if err != nil || host.Attrs().MasterIndex == 0 {
		t.Fatalf("host end: %+v, %v", host, err)
	}
	if err := Detach(a.HostLink); err != nil {
		t.Fatal(err)
	}
	if LinkExists(a.HostLink) {
		t.Error("host end left after Detach")
	}
	if _, err := h.LinkByName("eth0"); err == nil {
		t.Error("container end left after Detach")
	}
}

// A failed attach leaves no veth: here the container already has eth0.
func TestAttachFailureLeavesNothing(t *testing.T) {
	testutil.RequireRoot(t)
	const br = "tbr-fail"
	if err := EnsureBridge(br, netip.MustParsePrefix("10.78.0.1/24")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = DeleteBridge(br) })
	pid := netnsProcess(t)
	a := Attachment{Bridge: br, HostLink: "vethtest2", IfName: "eth0", Addr: netip.MustParsePrefix("10.78.0.2/24"),
		MAC: "02:42:0a:4e:00:02", Gateway: netip.MustParseAddr("10.78.0.1"), DefaultRoute: true}
	if err := Attach(pid, a); err != nil {
		t.Fatal(err)
	}
	b := a
	b.HostLink, b.Addr = "vethtest3", netip.MustParsePrefix("10.78.0.3/24")
	if err := Attach(pid, b); err == nil {
		t.Fatal("second eth0 attached")
	}
	if LinkExists(b.HostLink) {
		t.Error("failed attach left its host end")
	}
	// A bad address fails after the pair exists: the pair goes.
	c := a
	c.HostLink, c.IfName, c.Gateway = "vethtest4", "eth1", netip.MustParseAddr("10.99.0.1")
	if err := Attach(pid, c); err == nil {
		t.Fatal("unreachable gateway accepted")
	}
	if LinkExists(c.HostLink) {
		t.Error("failed attach left its host end")
	}
	if _, err := inside(t, pid).LinkByName("eth1"); err == nil {
		t.Error("failed attach left eth1 in the container")
	}
}

// A subnet picked from the pools avoids what the namespace routes.
func TestRoutedPrefixesAvoided(t *testing.T) {
	testutil.RequireRoot(t)
	const br = "tbr-routes"
	if err := EnsureBridge(br, netip.MustParsePrefix("172.17.0.1/16"), netip.MustParsePrefix("fd00:77::1/64")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = DeleteBridge(br) })
	routed, err := RoutedPrefixes()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.TempDir(), []ipam.Pool{ipam.DefaultPools[0], ipam.DefaultPools[1],
		{Base: netip.MustParsePrefix("fd00:77::/48"), Size: 64}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Create(CreateOptions{Name: "n", Avoid: routed, EnableIPv6: true})
	if err != nil || n.Subnet.String() != "172.18.0.0/16" || n.Subnet6.String() != "fd00:77:0:1::/64" {
		t.Fatalf("subnets %v %v, %v; want 172.18.0.0/16 and fd00:77:0:1::/64 (routed: %v)", n.Subnet, n.Subnet6, err, routed)
	}
}

// BenchmarkAttachDetach is one endpoint's links made and removed.
func BenchmarkAttachDetach(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	const br = "tbr-bench"
	if err := EnsureBridge(br, netip.MustParsePrefix("10.79.0.1/24")); err != nil {
		b.Fatal(err)
	}
	defer DeleteBridge(br)
	cmd := exec.Command("sleep", "600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	a := Attachment{Bridge: br, HostLink: "vethbench", IfName: "eth0", Addr: netip.MustParsePrefix("10.79.0.2/24"),
		MAC: "02:42:0a:4f:00:02", Gateway: netip.MustParseAddr("10.79.0.1"), DefaultRoute: true}
	var attach, detach time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := Attach(cmd.Process.Pid, a); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := Detach(a.HostLink); err != nil {
			b.Fatal(err)
		}
		attach, detach = attach+t1.Sub(t0), detach+time.Since(t1)
	}
	b.ReportMetric(float64(attach.Microseconds())/float64(b.N), "attach-µs/op")
	b.ReportMetric(float64(detach.Microseconds())/float64(b.N), "detach-µs/op")
}
