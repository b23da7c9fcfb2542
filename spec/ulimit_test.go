package spec

import (
	"math"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/corral-dev/corral/errdefs"
)

func TestParseUlimit(t *testing.T) {
	good := map[string]container.Ulimit{
		"nofile=1024:4096": {Name: "nofile", Soft: 1024, Hard: 4096},
		"nproc=64":         {Name: "nproc", Soft: 64, Hard: 64},
		"core=-1":          {Name: "core", Soft: -1, Hard: -1},
		"memlock=100:-1":   {Name: "memlock", Soft: 100, Hard: -1},
	}
	for s, want := range good {
		u, err := ParseUlimit(s)
		if err != nil || *u != want {
			t.Errorf("%s: %+v %v", s, u, err)
		}
	}
	bad := map[string]string{
		"nofile":                      "want name=soft[:hard]",
		"nofile=a":                    `soft limit "a"`,
		"nofile=1:b":                  `hard limit "b"`,
		"as=1":                        `unknown resource "as"`,
		"NOFILE=1":                    "unknown resource",
		"nofile=10:5":                 "10 > 5",
		"nofile=-1:5":                 "-1 > 5",
		"nofile=-2":                   "-1 (unlimited)",
		"nofile=1:2:3":                `hard limit "2:3"`,
		"nofile=99999999999999999999": "soft limit",
	}
	for s, want := range bad {
		_, err := ParseUlimit(s)
		if err == nil || !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), want) ||
			!strings.Contains(err.Error(), "--ulimit") {
			t.Errorf("%s: err = %v, want invalid --ulimit containing %q", s, err, want)
		}
	}
}

func TestRlimits(t *testing.T) {
	own := []*container.Ulimit{{Name: "nofile", Soft: 10, Hard: 20}, nil, {Name: "core", Soft: -1, Hard: -1}}
	defaults := []*container.Ulimit{{Name: "nproc", Soft: 1, Hard: 2}, {Name: "nofile", Soft: 1024, Hard: 4096}, nil,
		{Name: "memlock", Soft: 3, Hard: 4}}
	got, err := rlimits(own, defaults)
	if err != nil {
		t.Fatal(err)
	}
	want := []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 20}, {Type: "RLIMIT_CORE", Soft: math.MaxUint64, Hard: math.MaxUint64},
		{Type: "RLIMIT_MEMLOCK", Soft: 3, Hard: 4}, {Type: "RLIMIT_NPROC", Soft: 1, Hard: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("rlimit %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if _, err := rlimits([]*container.Ulimit{{Name: "bogus", Soft: 1, Hard: 1}}, nil); !errdefs.IsInvalidArgument(err) {
		t.Errorf("unknown ulimit from the API: %v", err)
	}
}

func TestDefaultUlimits(t *testing.T) {
	for _, tt := range []struct {
		hostHard   uint64
		soft, hard int64
	}{{0, 1024, 524288}, {20000, 1024, 20000}, {1 << 20, 1024, 524288}, {512, 512, 512}} {
		u := DefaultUlimits(tt.hostHard)[0]
		if u.Name != "nofile" || u.Soft != tt.soft || u.Hard != tt.hard {
			t.Errorf("DefaultUlimits(%d) = %+v, want %d:%d", tt.hostHard, u, tt.soft, tt.hard)
		}
	}
}
