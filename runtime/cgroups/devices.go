package cgroups

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const fieldDevices = "linux.resources.devices"

// Access bits of a device rule, as BPF_DEVCG_ACC_* numbers them.
const (
	accMknod = 1 << iota
	accRead
	accWrite
	accAll = accMknod | accRead | accWrite
)

// devRule is one rule of linux.resources.devices, checked.
type devRule struct {
	allow        bool
	typ          byte  // 'a' (all devices), 'c' or 'b'
	major, minor int64 // -1 is the wildcard
	access       uint8 // acc* bits
	index        int   // in linux.resources.devices
}

// String is the rule in devices.allow / devices.deny syntax.
func (r devRule) String() string {
	if r.typ == 'a' {
		return "a"
	}
	num := func(n int64) string {
		if n < 0 {
			return "*"
		}
		return strconv.FormatInt(n, 10)
	}
	var acc strings.Builder
	for _, a := range []struct {
		bit uint8
		c   byte
	}{{accRead, 'r'}, {accWrite, 'w'}, {accMknod, 'm'}} {
		if r.access&a.bit != 0 {
			acc.WriteByte(a.c)
		}
	}
	return fmt.Sprintf("%c %s:%s %s", r.typ, num(r.major), num(r.minor), acc.String())
}

// parseDevRules checks the rules of linux.resources.devices.
func parseDevRules(rules []specs.LinuxDeviceCgroup) ([]devRule, error) {
	out := make([]devRule, 0, len(rules))
	for i, d := range rules {
		field := fmt.Sprintf("%s[%d]", fieldDevices, i)
		r := devRule{allow: d.Allow, major: -1, minor: -1, index: i}
		switch d.Type {
		case "", "a":
			r.typ = 'a'
		case "c", "b":
			r.typ = d.Type[0]
		default:
			return nil, &LimitError{Field: field + ".type", Value: fmt.Sprintf("%q", d.Type), Err: errors.New(`want "a", "c" or "b"`)}
		}
		for _, n := range []struct {
			v   *int64
			dst *int64
			f   string
		}{{d.Major, &r.major, ".major"}, {d.Minor, &r.minor, ".minor"}} {
			if n.v == nil {
				continue
			}
			if *n.v < -1 || *n.v > 1<<32-1 {
				return nil, &LimitError{Field: field + n.f, Value: strconv.FormatInt(*n.v, 10), Err: errors.New("out of range")}
			}
			*n.dst = *n.v
		}
		acc, err := parseAccess(d.Access)
		if err != nil {
			return nil, &LimitError{Field: field + ".access", Value: fmt.Sprintf("%q", d.Access), Err: err}
		}
		r.access = acc
		if acc == 0 && r.typ != 'a' {
			continue // as runc: nothing to allow or deny
		}
		out = append(out, r)
	}
	return out, nil
}

// parseAccess reads a rule's access as runc does: r, w and m count and
// any other letter is ignored (runc's tests use "rwa"); only an empty
// string is refused. A rule left with no access changes nothing.
func parseAccess(s string) (uint8, error) {
	if s == "" {
		return 0, errors.New("empty: want a combination of r, w and m")
	}
	var acc uint8
	for _, c := range s {
		switch c {
		case 'r':
			acc |= accRead
		case 'w':
			acc |= accWrite
		case 'm':
			acc |= accMknod
		}
	}
	return acc, nil
}

// devState is what a list of rules leaves in effect, computed the way the
// cgroup v1 devices controller applies them one by one: a rule for all
// devices ("a") sets the default and drops every exception; a rule against
// the default adds (or widens) an exception; a rule agreeing with the
// default narrows the exception for exactly that type and numbers.
type devState struct {
	defaultAllow bool
	exceptions   []devRule // each with allow == !defaultAllow
}

// newDevState starts from a cgroup that allows every device, as a new
// cgroup under an unrestricted parent does.
func newDevState() *devState { return &devState{defaultAllow: true} }

func (s *devState) apply(r devRule) {
	if r.typ == 'a' {
		s.defaultAllow, s.exceptions = r.allow, nil
		return
	}
	for i := range s.exceptions {
		e := &s.exceptions[i]
		if e.typ != r.typ || e.major != r.major || e.minor != r.minor {
			continue
		}
		if r.allow != s.defaultAllow {
			e.access |= r.access
			return
		}
		e.access &^= r.access
		if e.access == 0 {
			s.exceptions = append(s.exceptions[:i], s.exceptions[i+1:]...)
		}
		return
	}
	if r.allow != s.defaultAllow {
		s.exceptions = append(s.exceptions, r)
	}
}

// allowed reports whether access acc to device typ major:minor passes, as
// the v1 controller decides: with a deny default one exception must cover
// all of acc; with an allow default no exception may touch any of it.
func (s *devState) allowed(typ byte, major, minor int64, acc uint8) bool {
	for _, e := range s.exceptions {
		if e.typ != typ || (e.major >= 0 && e.major != major) || (e.minor >= 0 && e.minor != minor) {
			continue
		}
		if s.defaultAllow && e.access&acc != 0 {
			return false
		}
		if !s.defaultAllow && acc&^e.access == 0 {
			return true
		}
	}
	return s.defaultAllow
}

// planDevices sets the device rules: on v1, "a" into devices.deny and then
// every rule in order into devices.allow or devices.deny, as runc does; on
// v2, an eBPF program with the same outcome is attached at the end.
func (m *Manager) planDevices(p *plan, r *specs.LinuxResources) error {
	if len(r.Devices) == 0 {
		return nil
	}
	rules, err := parseDevRules(r.Devices)
	if err != nil {
		return err
	}
	if dir, ok := m.v2Dir(); ok {
		state := newDevState()
		state.apply(devRule{typ: 'a', allow: false})
		for _, rule := range rules {
			state.apply(rule)
		}
		p.final = append(p.final, func() error {
			if err := attachDeviceFilter(dir, state); err != nil {
				return &LimitError{Field: fieldDevices, Err: err}
			}
			return nil
		})
		return nil
	}
	dir, err := m.controllerDir(fieldDevices, "devices")
	if err != nil {
		return err
	}
	p.ops = append(p.ops, op{field: fieldDevices, value: `"deny a"`, dir: dir, file: "devices.deny", data: "a",
		undoFrom: "devices.list", undo: restoreDevicesList})
	for _, rule := range rules {
		file := "devices.deny"
		if rule.allow {
			file = "devices.allow"
		}
		p.ops = append(p.ops, op{field: fmt.Sprintf("%s[%d]", fieldDevices, rule.index), value: fmt.Sprintf("%q", rule.String()),
			dir: dir, file: file, data: rule.String(), noUndo: true})
	}
	return nil
}

// restoreDevicesList turns a devices.list into the writes that rebuild it.
func restoreDevicesList(list string) []restore {
	if strings.Contains(list, "a *:* rwm") {
		return []restore{{"devices.allow", "a"}}
	}
	out := []restore{{"devices.deny", "a"}}
	for _, l := range strings.Split(strings.TrimSpace(list), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, restore{"devices.allow", l})
		}
	}
	return out
}
