package network

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/network/ipam"
)

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCreateSubnets(t *testing.T) {
	s := openStore(t, t.TempDir())
	def, err := s.Create(CreateOptions{Name: DefaultName, Subnet: ipam.DefaultBridge, Predefined: true,
		Options: map[string]string{OptionBridgeName: DefaultBridge}})
	if err != nil || def.Gateway.String() != "172.17.0.1" || def.Bridge != DefaultBridge {
		t.Fatalf("default: %+v, %v", def, err)
	}
	a, err := s.Create(CreateOptions{Name: "a"})
	if err != nil || a.Subnet.String() != "172.18.0.0/16" || a.Gateway.String() != "172.18.0.1" {
		t.Fatalf("a: %v %v, %v", a.Subnet, a.Gateway, err)
	}
	if !strings.HasPrefix(a.Bridge, "br-") || len(a.Bridge) != 15 {
		t.Errorf("bridge name %q", a.Bridge)
	}
	if _, err := s.Create(CreateOptions{Name: "a"}); !errdefs.IsConflict(err) {
		t.Errorf("same name: %v", err)
	}
	if _, err := s.Create(CreateOptions{Name: "b", Subnet: netip.MustParsePrefix("172.18.3.0/24")}); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "overlaps") {
		t.Errorf("overlap: %v", err)
	}
	c, err := s.Create(CreateOptions{Name: "c", Subnet: netip.MustParsePrefix("10.5.0.0/24"),
		Gateway: netip.MustParseAddr("10.5.0.254"), IPRange: netip.MustParsePrefix("10.5.0.128/25")})
	if err != nil || c.Gateway.String() != "10.5.0.254" {
		t.Fatalf("c: %+v, %v", c, err)
	}
	if _, err := s.Create(CreateOptions{Name: "d", Subnet: netip.MustParsePrefix("10.6.0.0/24"),
		Gateway: netip.MustParseAddr("10.7.0.1")}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("gateway outside: %v", err)
	}
	if _, err := s.Create(CreateOptions{Name: "bad name"}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("bad name: %v", err)
	}
	if _, err := s.Create(CreateOptions{Name: "e", Options: map[string]string{OptionBridgeName: DefaultBridge}}); !errdefs.IsConflict(err) {
		t.Errorf("same bridge: %v", err)
	}
}

func TestEndpointsPersisted(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	n, err := s.Create(CreateOptions{Name: "n", Subnet: netip.MustParsePrefix("10.1.0.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	_, e1, err := s.Allocate("n", EndpointOptions{Container: "c1", Name: "one"})
	if err != nil || e1.IP.String() != "10.1.0.2" || e1.MAC != "02:42:0a:01:00:02" {
		t.Fatalf("e1: %+v, %v", e1, err)
	}
	_, e2, err := s.Allocate(n.ID[:5], EndpointOptions{Container: "c2", IP: netip.MustParseAddr("10.1.0.9"), Aliases: []string{"x"}})
	if err != nil || e2.IP.String() != "10.1.0.9" {
		t.Fatalf("e2: %+v, %v", e2, err)
	}
	if _, _, err := s.Allocate("n", EndpointOptions{Container: "c3", IP: netip.MustParseAddr("10.1.0.9")}); !errdefs.IsConflict(err) {
		t.Errorf("taken --ip: %v", err)
	}
	if _, _, err := s.Allocate("n", EndpointOptions{Container: "c3", IP: netip.MustParseAddr("10.2.0.9")}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("--ip outside: %v", err)
	}
	if _, err := s.Remove("n"); !errors.Is(err, errdefs.ErrForbidden) || !strings.Contains(err.Error(), "has active endpoints") {
		t.Errorf("rm in use: %v", err)
	}
	// A second store on the same directory sees what the first wrote.
	s2 := openStore(t, dir)
	got, err := s2.Get("n")
	if err != nil || len(got.Endpoints) != 2 || got.Endpoints["c2"].Aliases[0] != "x" {
		t.Fatalf("reopened: %+v, %v", got, err)
	}
	if _, ok, err := s2.Release("n", "c1"); !ok || err != nil {
		t.Fatalf("release: %v %v", ok, err)
	}
	_, e3, err := s2.Allocate("n", EndpointOptions{Container: "c3"})
	if err != nil || e3.IP != e1.IP {
		t.Fatalf("reuse of a released address: %+v, %v", e3, err)
	}
	if _, ok, _ := s2.Release("n", "nobody"); ok {
		t.Error("released an endpoint that was not there")
	}
}

func TestRemoveAndGet(t *testing.T) {
	s := openStore(t, t.TempDir())
	if _, err := s.Create(CreateOptions{Name: "none", Driver: DriverNull, Predefined: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove("none"); !errors.Is(err, errdefs.ErrForbidden) {
		t.Errorf("rm predefined: %v", err)
	}
	if _, err := s.Get("missing"); !errdefs.IsNotFound(err) || err.Error() != "network missing not found" {
		t.Errorf("missing: %v", err)
	}
	// With two IDs, "" matches nothing and a shared first digit is
	// ambiguous only when both share it.
	n, _ := s.Create(CreateOptions{Name: "x"})
	if _, err := s.Get(""); !errdefs.IsNotFound(err) {
		t.Errorf("empty ref: %v", err)
	}
	if _, err := s.Remove(n.ID[:12]); err != nil {
		t.Fatal(err)
	}
	if len(s.List()) != 1 {
		t.Errorf("list after rm: %v", s.List())
	}
}

func TestAmbiguousPrefix(t *testing.T) {
	s := openStore(t, t.TempDir())
	s.nets["abc1"] = &Network{ID: "abc1", Name: "one"}
	s.nets["abc2"] = &Network{ID: "abc2", Name: "two"}
	if _, err := s.Get("abc"); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "2 matches") {
		t.Errorf("ambiguous: %v", err)
	}
	if n, err := s.Get("abc2"); err != nil || n.Name != "two" {
		t.Errorf("full ID: %v, %v", n.Name, err)
	}
}

// BenchmarkAllocateRelease is one container's endpoint taken and given
// back: two fsynced record writes.
func BenchmarkAllocateRelease(b *testing.B) {
	s, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Create(CreateOptions{Name: "n", Subnet: netip.MustParsePrefix("10.1.0.0/16")}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := s.Allocate("n", EndpointOptions{Container: "c"}); err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.Release("n", "c"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRenameEndpoints(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	for _, name := range []string{"a", "b"} {
		if _, err := s.Create(CreateOptions{Name: name}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Allocate(name, EndpointOptions{Container: "c1", Name: "old"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Allocate("a", EndpointOptions{Container: "c2", Name: "other"}); err != nil {
		t.Fatal(err)
	}
	if err := s.RenameEndpoints("c1", "new"); err != nil {
		t.Fatal(err)
	}
	for _, n := range openStore(t, dir).List() {
		if got := n.Endpoints["c1"].Name; got != "new" {
			t.Errorf("%s: c1 named %q after rename and reopen", n.Name, got)
		}
		if n.Name == "a" && n.Endpoints["c2"].Name != "other" {
			t.Errorf("c2 renamed too: %q", n.Endpoints["c2"].Name)
		}
	}
}
