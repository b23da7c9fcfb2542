package ipam

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/corral-dev/corral/errdefs"
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestNextSubnet(t *testing.T) {
	for _, tc := range []struct {
		used []netip.Prefix
		want string
	}{
		{prefixes("172.17.0.0/16"), "172.18.0.0/16"},
		{prefixes("172.17.0.0/16", "172.18.5.0/24"), "172.19.0.0/16"},
		{prefixes("172.16.0.0/12"), "192.168.0.0/20"},
		{prefixes("172.16.0.0/12", "192.168.0.0/20", "192.168.17.0/24"), "192.168.32.0/20"},
	} {
		got, err := NextSubnet(DefaultPools, tc.used, false)
		if err != nil || got.String() != tc.want {
			t.Errorf("NextSubnet(%v) = %v, %v; want %s", tc.used, got, err, tc.want)
		}
	}
}

func TestNextSubnetExhausted(t *testing.T) {
	_, err := NextSubnet(DefaultPools, prefixes("172.16.0.0/12", "192.168.0.0/16"), false)
	if !errors.Is(err, ErrPoolExhausted) || !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("err = %v; want the exhausted pool, unavailable", err)
	}
}

func TestCheckFree(t *testing.T) {
	if err := CheckFree(netip.MustParsePrefix("10.1.0.0/16"), prefixes("10.0.0.0/16", "172.17.0.0/16")); err != nil {
		t.Fatal(err)
	}
	err := CheckFree(netip.MustParsePrefix("172.17.3.0/24"), prefixes("172.17.0.0/16"))
	if !errdefs.IsConflict(err) {
		t.Fatalf("overlap: err = %v; want a conflict", err)
	}
}

func TestAllocate(t *testing.T) {
	r := Range{Subnet: netip.MustParsePrefix("10.9.0.0/29"), Gateway: netip.MustParseAddr("10.9.0.1")}
	var used []netip.Addr
	for _, want := range []string{"10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"} {
		a, err := r.Allocate(netip.Addr{}, used)
		if err != nil || a.String() != want {
			t.Fatalf("Allocate = %v, %v; want %s", a, err, want)
		}
		used = append(used, a)
	}
	if _, err := r.Allocate(netip.Addr{}, used); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("full: err = %v; want unavailable", err)
	}
	used = used[1:] // release 10.9.0.2
	if a, err := r.Allocate(netip.Addr{}, used); err != nil || a.String() != "10.9.0.2" {
		t.Fatalf("after release: %v, %v", a, err)
	}
}

func TestAllocateWanted(t *testing.T) {
	r := Range{Subnet: netip.MustParsePrefix("10.9.0.0/24"), Gateway: netip.MustParseAddr("10.9.0.1")}
	used := []netip.Addr{netip.MustParseAddr("10.9.0.7")}
	for _, tc := range []struct {
		ip    string
		check func(error) bool
	}{
		{"10.9.0.9", func(err error) bool { return err == nil }},
		{"10.9.1.9", errdefs.IsInvalidArgument},
		{"10.9.0.1", errdefs.IsInvalidArgument},
		{"10.9.0.255", errdefs.IsInvalidArgument},
		{"10.9.0.0", errdefs.IsInvalidArgument},
		{"10.9.0.7", errdefs.IsConflict},
	} {
		_, err := r.Allocate(netip.MustParseAddr(tc.ip), used)
		if !tc.check(err) {
			t.Errorf("Allocate(%s): err = %v", tc.ip, err)
		}
	}
}

func TestAllocateIPRange(t *testing.T) {
	r := Range{Subnet: netip.MustParsePrefix("10.9.0.0/16"), IPRange: netip.MustParsePrefix("10.9.5.0/24"),
		Gateway: netip.MustParseAddr("10.9.0.1")}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	if a, err := r.Allocate(netip.Addr{}, nil); err != nil || a.String() != "10.9.5.0" {
		t.Fatalf("Allocate = %v, %v; want 10.9.5.0 (a host address of the subnet)", a, err)
	}
}

func TestRangeCheck(t *testing.T) {
	for _, r := range []Range{
		{Subnet: netip.MustParsePrefix("10.0.0.0/24"), Gateway: netip.MustParseAddr("10.0.1.1")},
		{Subnet: netip.MustParsePrefix("10.0.0.0/24"), IPRange: netip.MustParsePrefix("10.0.0.0/16")},
		{Subnet: netip.MustParsePrefix("10.0.0.0/24"), IPRange: netip.MustParsePrefix("10.1.0.0/25")},
		{Subnet: netip.MustParsePrefix("10.0.0.0/31")},
		{Subnet: netip.MustParsePrefix("fd00::/64"), Gateway: netip.MustParseAddr("fd01::1")},
	} {
		if err := r.Check(); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Check(%+v) = %v; want invalid", r, err)
		}
	}
}
