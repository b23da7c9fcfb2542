package runtime

import (
	"errors"
	"reflect"
	"testing"

	"github.com/corral-dev/corral/runtime/nsenter"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestSpawnerTimeNamespace: a new time namespace sends init through nsenter
// with its offsets (sorted by clock); a joined one is an ordinary join.
func TestSpawnerTimeNamespace(t *testing.T) {
	spec := &specs.Spec{Linux: &specs.Linux{
		Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.TimeNamespace}},
		TimeOffsets: map[string]specs.LinuxTimeOffset{
			"monotonic": {Secs: -3, Nanosecs: 5}, "boottime": {Secs: 864000},
		},
	}}
	var s spawner
	if err := s.namespaces(spec); err != nil {
		t.Fatal(err)
	}
	if !s.viaNsenter() || s.newFlags != unix.CLONE_NEWPID|unix.CLONE_NEWTIME {
		t.Errorf("viaNsenter %v, flags %#x: want nsenter with NEWPID|NEWTIME", s.viaNsenter(), s.newFlags)
	}
	want := []nsenter.TimeOffset{{Clock: "boottime", Secs: 864000}, {Clock: "monotonic", Secs: -3, Nanosecs: 5}}
	if !reflect.DeepEqual(s.timeOffsets, want) {
		t.Errorf("offsets %+v, want %+v", s.timeOffsets, want)
	}

	spec.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.TimeNamespace, Path: "/proc/1/ns/time"}}
	s = spawner{}
	if err := s.namespaces(spec); err != nil {
		t.Fatal(err)
	}
	if s.newFlags != unix.CLONE_NEWPID || len(s.timeOffsets) != 0 || len(s.joins) != 1 {
		t.Errorf("joined time namespace: flags %#x, offsets %v, joins %v", s.newFlags, s.timeOffsets, s.joins)
	}

	spec.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.PIDNamespace}}
	s = spawner{}
	if err := s.namespaces(spec); err != nil || s.viaNsenter() {
		t.Errorf("no time namespace: %v, viaNsenter %v; want clone flags", err, s.viaNsenter())
	}
}

func TestSpawnerTimeOffsetsRefused(t *testing.T) {
	for name, off := range map[string]map[string]specs.LinuxTimeOffset{
		"unknown clock": {"realtime": {Secs: 1}},
		"nanoseconds":   {"boottime": {Nanosecs: 1e9}},
	} {
		spec := &specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.TimeNamespace}}, TimeOffsets: off}}
		var s spawner
		if err := s.namespaces(spec); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: %v, want ErrBadConfig", name, err)
		}
	}
}
