package spec

import (
	"path"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultDeviceRules returns the device cgroup rules of a container without
// --device or --privileged, as dockerd's: deny everything, then allow
// /dev/zero, null, urandom, random, tty and console, and deny /dev/fuse.
// Runtimes append their own defaults (mknod, the pty devices...) after
// these, as runc does.
func DefaultDeviceRules() []specs.LinuxDeviceCgroup {
	rule := func(allow bool, major, minor int64) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: allow, Type: "c", Major: &major, Minor: &minor, Access: "rwm"}
	}
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		rule(true, 1, 5), rule(true, 1, 3), rule(true, 1, 9), rule(true, 1, 8),
		rule(true, 5, 0), rule(true, 5, 1),
		rule(false, 10, 229),
	}
}

// devices fills linux.devices and the device cgroup rules.
func (b *builder) devices() error {
	l := b.lx()
	for _, d := range b.in.Devices {
		if err := checkDevice(d); err != nil {
			return err
		}
	}
	if b.hc.Privileged {
		for _, d := range b.in.HostDevices {
			l.Devices = append(l.Devices, linuxDevice(d))
		}
		for _, d := range b.in.Devices {
			if !hasDevice(l.Devices, path.Clean(d.Path)) {
				l.Devices = append(l.Devices, linuxDevice(d))
			}
		}
		l.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		return nil
	}
	rules := DefaultDeviceRules()
	for _, d := range b.in.Devices {
		l.Devices = append(l.Devices, linuxDevice(d))
		major, minor := d.Major, d.Minor
		rules = append(rules, specs.LinuxDeviceCgroup{
			Allow: true, Type: d.Type, Major: &major, Minor: &minor, Access: access(d.Access),
		})
	}
	for _, s := range b.hc.DeviceCgroupRules {
		r, err := ParseDeviceCgroupRule(s)
		if err != nil {
			return err
		}
		rules = append(rules, r)
	}
	l.Resources.Devices = rules
	return nil
}

func hasDevice(devs []specs.LinuxDevice, p string) bool {
	for _, d := range devs {
		if d.Path == p {
			return true
		}
	}
	return false
}

func access(a string) string {
	if a == "" {
		return "rwm"
	}
	return a
}

func linuxDevice(d Device) specs.LinuxDevice {
	mode, uid, gid := d.FileMode, d.UID, d.GID
	return specs.LinuxDevice{
		Path: path.Clean(d.Path), Type: d.Type, Major: d.Major, Minor: d.Minor,
		FileMode: &mode, UID: &uid, GID: &gid,
	}
}

// checkDevice checks a device the engine resolved for --device.
func checkDevice(d Device) error {
	switch {
	case !path.IsAbs(d.Path):
		return invalid("invalid --device %q: the path in the container must be absolute", d.Path)
	case d.Type != "c" && d.Type != "b" && d.Type != "p":
		return invalid("invalid --device %s: %q is not a device type (c, b or p)", d.Path, d.Type)
	case d.Major < 0 || d.Minor < 0:
		return invalid("invalid --device %s: negative device number %d:%d", d.Path, d.Major, d.Minor)
	case !validDeviceMode(access(d.Access)):
		return invalid("invalid --device %s: bad mode %q (a combination of r, w and m)", d.Path, d.Access)
	}
	return nil
}

// validDeviceMode reports whether mode is one or more of r, w and m, each at
// most once.
func validDeviceMode(mode string) bool {
	if mode == "" || len(mode) > 3 {
		return false
	}
	seen := map[rune]bool{}
	for _, c := range mode {
		if !strings.ContainsRune("rwm", c) || seen[c] {
			return false
		}
		seen[c] = true
	}
	return true
}

// ParseDeviceCgroupRule parses --device-cgroup-rule's "TYPE MAJOR:MINOR
// ACCESS" (type a, b or c; major and minor a number or *; access of r, w,
// m) into an allow rule. Errors are errdefs.ErrInvalidArgument.
func ParseDeviceCgroupRule(s string) (specs.LinuxDeviceCgroup, error) {
	bad := func(why string) (specs.LinuxDeviceCgroup, error) {
		return specs.LinuxDeviceCgroup{}, invalid("invalid --device-cgroup-rule %q: %s", s, why)
	}
	f := strings.Fields(s)
	if len(f) != 3 {
		return bad("want TYPE MAJOR:MINOR ACCESS")
	}
	if f[0] != "a" && f[0] != "b" && f[0] != "c" {
		return bad("type must be a, b or c")
	}
	majS, minS, ok := strings.Cut(f[1], ":")
	if !ok {
		return bad("want MAJOR:MINOR")
	}
	major, err1 := deviceNumberOrAny(majS)
	minor, err2 := deviceNumberOrAny(minS)
	if err1 != nil || err2 != nil {
		return bad("major and minor must be numbers or *")
	}
	if !validDeviceMode(f[2]) {
		return bad("access must combine r, w and m")
	}
	return specs.LinuxDeviceCgroup{Allow: true, Type: f[0], Major: major, Minor: minor, Access: f[2]}, nil
}

func deviceNumberOrAny(s string) (*int64, error) {
	if s == "*" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return nil, strconv.ErrSyntax
	}
	return &n, nil
}
