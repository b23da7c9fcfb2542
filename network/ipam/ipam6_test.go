package ipam

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/corral-dev/corral/errdefs"
)

func TestULAPool(t *testing.T) {
	a, b := ULAPool([]byte("host-a")), ULAPool([]byte("host-b"))
	if a != ULAPool([]byte("host-a")) {
		t.Fatal("ULAPool is not stable for one seed")
	}
	if a.Base == b.Base {
		t.Fatalf("two hosts got the same pool %s", a.Base)
	}
	fd := netip.MustParsePrefix("fd00::/8")
	if a.Base.Bits() != 48 || a.Size != 64 || !fd.Contains(a.Base.Addr()) {
		t.Fatalf("ULAPool = %+v, want a /48 of fd00::/8 in /64s", a)
	}
}

func TestNextSubnet6(t *testing.T) {
	pools := []Pool{DefaultPools[0], {Base: netip.MustParsePrefix("fd12:3456:789a::/48"), Size: 64}}
	for _, tc := range []struct {
		used []netip.Prefix
		want string
	}{
		{nil, "fd12:3456:789a::/64"},
		{prefixes("fd12:3456:789a::/64"), "fd12:3456:789a:1::/64"},
		// a user subnet smaller than a /64, and one spanning several
		{prefixes("fd12:3456:789a::80/121"), "fd12:3456:789a:1::/64"},
		{prefixes("fd12:3456:789a::/62", "172.17.0.0/16"), "fd12:3456:789a:4::/64"},
	} {
		got, err := NextSubnet(pools, tc.used, true)
		if err != nil || got.String() != tc.want {
			t.Errorf("NextSubnet6(%v) = %v, %v; want %s", tc.used, got, err, tc.want)
		}
	}
	if got, err := NextSubnet(pools, nil, false); err != nil || got != DefaultPools[0].Base {
		t.Errorf("NextSubnet v4 of mixed pools = %v, %v; want %s", got, err, DefaultPools[0].Base)
	}
	_, err := NextSubnet(pools, prefixes("fd12:3456:789a::/48"), true)
	if !errors.Is(err, ErrPoolExhausted) || !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("exhausted v6 pool: %v", err)
	}
	if _, err := NextSubnet(DefaultPools, nil, true); !errors.Is(err, ErrPoolExhausted) {
		t.Errorf("no v6 pool: %v, want exhausted", err)
	}
}

func TestAllocate6(t *testing.T) {
	r := Range{Subnet: netip.MustParsePrefix("fd00:1::/64"), Gateway: netip.MustParseAddr("fd00:1::1")}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	a, err := r.Allocate(netip.Addr{}, nil)
	if err != nil || a.String() != "fd00:1::2" {
		t.Fatalf("first address = %v, %v; want fd00:1::2", a, err)
	}
	a, err = r.Allocate(netip.Addr{}, []netip.Addr{a})
	if err != nil || a.String() != "fd00:1::3" {
		t.Fatalf("second address = %v, %v; want fd00:1::3", a, err)
	}
	for _, bad := range []string{"fd00:1::", "fd00:1::1", "fd00:2::5"} {
		if _, err := r.Allocate(netip.MustParseAddr(bad), nil); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Allocate(%s) = %v, want invalid argument", bad, err)
		}
	}
	if _, err := r.Allocate(netip.MustParseAddr("fd00:1::9"), []netip.Addr{netip.MustParseAddr("fd00:1::9")}); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("taken address: %v, want conflict", err)
	}
	small := Range{Subnet: netip.MustParsePrefix("fd00:1::/126"), Gateway: netip.MustParseAddr("fd00:1::1")}
	used := []netip.Addr{netip.MustParseAddr("fd00:1::2"), netip.MustParseAddr("fd00:1::3")}
	if _, err := small.Allocate(netip.Addr{}, used); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("full /126: %v, want unavailable", err)
	}
	if err := (Range{Subnet: netip.MustParsePrefix("fd00::/127")}).Check(); err == nil {
		t.Error("a /127 passed Check")
	}
}
