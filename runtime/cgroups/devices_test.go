package cgroups

import (
	"errors"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func devAllow(typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	d := specs.LinuxDeviceCgroup{Allow: true, Type: typ, Access: access}
	if major >= 0 {
		d.Major = &major
	}
	if minor >= 0 {
		d.Minor = &minor
	}
	return d
}

func devDeny(typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	d := devAllow(typ, major, minor, access)
	d.Allow = false
	return d
}

// TestDevicesV1 checks the writes: "a" into devices.deny first, then each
// rule in order into devices.allow or devices.deny.
func TestDevicesV1(t *testing.T) {
	f := newFakeV1(t, map[string]map[string]string{"devices": {
		"devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n"}})
	err := f.m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		devDeny("", -1, -1, "rwm"),
		devAllow("c", -1, -1, "m"),
		devAllow("c", 1, 3, "rwm"),
		devAllow("c", 136, -1, "rw"),
		devDeny("c", 1, 3, "w"),
		devAllow("b", 8, 0, "r"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	f.checkWrites("devices/devices.deny=a", "devices/devices.deny=a", "devices/devices.allow=c *:* m",
		"devices/devices.allow=c 1:3 rwm", "devices/devices.allow=c 136:* rw", "devices/devices.deny=c 1:3 w",
		"devices/devices.allow=b 8:0 r")
}

// TestDevicesV1Rollback: a refused rule puts the old device list back.
func TestDevicesV1Rollback(t *testing.T) {
	f := newFakeV1(t, map[string]map[string]string{"devices": {
		"devices.allow": "", "devices.deny": "", "devices.list": "c 1:3 rwm\nc 1:5 rw\n"}})
	f.fail["devices.allow"] = []error{errors.New("refused")}
	err := f.m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{devAllow("c", 1, 9, "rwm")}})
	wantErr(t, err, `linux.resources.devices[0] "c 1:9 rwm"`, "refused")
	f.checkWrites("devices/devices.deny=a", "devices/devices.allow=c 1:9 rwm (failed)",
		"devices/devices.deny=a", "devices/devices.allow=c 1:3 rwm", "devices/devices.allow=c 1:5 rw")
}

// TestDevicesAccessLetters: as runc, letters other than r, w and m are
// ignored ("rwa" is "rw"; runc's tests use it), a rule left with none is
// skipped, and the rules keep their index in error messages.
func TestDevicesAccessLetters(t *testing.T) {
	rules := []specs.LinuxDeviceCgroup{
		devDeny("", -1, -1, "rwm"),
		devDeny("c", 1, 11, "rwa"),
		devAllow("c", 1, 9, "x"),
		devAllow("c", 1, 3, "rwmq"),
		devAllow("", -1, -1, "r"),
	}
	files := map[string]map[string]string{"devices": {
		"devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n"}}
	f := newFakeV1(t, files)
	if err := f.m.Set(&specs.LinuxResources{Devices: rules}); err != nil {
		t.Fatal(err)
	}
	f.checkWrites("devices/devices.deny=a", "devices/devices.deny=a", "devices/devices.deny=c 1:11 rw",
		"devices/devices.allow=c 1:3 rwm", "devices/devices.allow=a")

	f = newFakeV1(t, files)
	f.fail["devices.allow"] = []error{errors.New("refused")}
	err := f.m.Set(&specs.LinuxResources{Devices: rules})
	wantErr(t, err, `linux.resources.devices[3] "c 1:3 rwm"`, "refused")
}

func TestDevicesBadRules(t *testing.T) {
	f := newFakeV1(t, map[string]map[string]string{"devices": {"devices.list": ""}})
	for _, tt := range []struct {
		rule specs.LinuxDeviceCgroup
		part string
	}{
		{devAllow("c", 1, 3, ""), "linux.resources.devices[0].access"},
		{devAllow("p", 1, 3, "rwm"), "linux.resources.devices[0].type"},
		{devAllow("c", 1<<32, 3, "rwm"), "linux.resources.devices[0].major"},
	} {
		err := f.m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{tt.rule}})
		wantErr(t, err, tt.part)
	}
	f.checkWrites()
}

// devCase is a rule list and the accesses it must allow or deny.
type devCase struct {
	name  string
	rules []specs.LinuxDeviceCgroup
	check []devCheck
}

type devCheck struct {
	typ          byte
	major, minor int64
	acc          uint8
	allowed      bool
}

// devCases follow the v1 controller's rules (security/device_cgroup.c).
var devCases = []devCase{
	{"deny all", []specs.LinuxDeviceCgroup{devDeny("a", -1, -1, "rwm")},
		[]devCheck{{'c', 1, 3, accRead, false}, {'b', 8, 0, accMknod, false}}},
	{"allow list", []specs.LinuxDeviceCgroup{devDeny("a", -1, -1, "rwm"), devAllow("c", 1, 3, "rw"), devAllow("c", 136, -1, "rwm")},
		[]devCheck{{'c', 1, 3, accRead | accWrite, true}, {'c', 1, 3, accMknod, false}, {'c', 1, 5, accRead, false},
			{'c', 136, 7, accWrite, true}, {'b', 136, 7, accWrite, false}}},
	{"deny narrows an exception", []specs.LinuxDeviceCgroup{devDeny("a", -1, -1, "rwm"), devAllow("c", 1, 3, "rwm"), devDeny("c", 1, 3, "w")},
		[]devCheck{{'c', 1, 3, accRead, true}, {'c', 1, 3, accWrite, false}, {'c', 1, 3, accRead | accWrite, false}}},
	{"deny does not punch a wildcard", []specs.LinuxDeviceCgroup{devDeny("a", -1, -1, "rwm"), devAllow("c", -1, -1, "rwm"), devDeny("c", 1, 3, "rwm")},
		[]devCheck{{'c', 1, 3, accRead, true}, {'b', 1, 3, accRead, false}}},
	{"blacklist", []specs.LinuxDeviceCgroup{devAllow("a", -1, -1, "rwm"), devDeny("c", 1, 5, "w"), devDeny("b", -1, -1, "m")},
		[]devCheck{{'c', 1, 5, accRead, true}, {'c', 1, 5, accRead | accWrite, false}, {'b', 8, 0, accMknod, false},
			{'b', 8, 0, accRead, true}, {'c', 1, 3, accRead | accWrite | accMknod, true}}},
	{"later a resets", []specs.LinuxDeviceCgroup{devDeny("a", -1, -1, "rwm"), devAllow("c", 1, 3, "rwm"), devDeny("a", -1, -1, "rwm")},
		[]devCheck{{'c', 1, 3, accRead, false}}},
	{"rules merge", []specs.LinuxDeviceCgroup{devDeny("a", -1, -1, "rwm"), devAllow("c", 1, 3, "r"), devAllow("c", 1, 3, "w")},
		[]devCheck{{'c', 1, 3, accRead | accWrite, true}, {'c', 1, 3, accMknod, false}}},
}

func (c devCase) state(t *testing.T) *devState {
	t.Helper()
	rules, err := parseDevRules(c.rules)
	if err != nil {
		t.Fatal(err)
	}
	s := newDevState()
	for _, r := range rules {
		s.apply(r)
	}
	return s
}

func TestDevState(t *testing.T) {
	for _, c := range devCases {
		t.Run(c.name, func(t *testing.T) {
			s := c.state(t)
			for _, ck := range c.check {
				if got := s.allowed(ck.typ, ck.major, ck.minor, ck.acc); got != ck.allowed {
					t.Errorf("%c %d:%d access %03b: allowed %v, want %v", ck.typ, ck.major, ck.minor, ck.acc, got, ck.allowed)
				}
			}
		})
	}
}

// TestDevicesV2Plan: on v2 the rules become one program attached last,
// starting from deny-all like the v1 writes.
func TestDevicesV2Plan(t *testing.T) {
	f := newFakeV2(t, map[string]string{"cgroup.controllers": ""})
	p, err := f.m.plan(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{devAllow("c", 1, 3, "rwm")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.ops) != 0 || len(p.final) != 1 {
		t.Fatalf("plan has %d writes and %d final steps, want 0 and 1", len(p.ops), len(p.final))
	}
	s := newDevState()
	s.apply(devRule{typ: 'a'})
	s.apply(devRule{allow: true, typ: 'c', major: 1, minor: 3, access: accAll})
	insts := deviceProgram(s)
	// 6 loads, one block (type, major, minor, verdict, exit), default, exit.
	if len(insts) != 6+5+2 {
		t.Errorf("program:\n%v", insts)
	}
}
