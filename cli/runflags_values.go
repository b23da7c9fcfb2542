package cli

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
)

// The flag value types of run and create, named (Type) as docker names
// them in help ("list", "bytes", "decimal", ...); their errors are docker's
// and pflag wraps them: invalid argument "x" for "-m, --memory" flag: ...

// listValue is a repeatable flag; validate, if set, checks (and may
// rewrite) each value.
type listValue struct {
	values   []string
	validate func(string) (string, error)
}

func (l *listValue) String() string {
	if len(l.values) == 0 {
		return ""
	}
	return fmt.Sprintf("%v", l.values)
}

func (l *listValue) Set(v string) error {
	if l.validate != nil {
		var err error
		if v, err = l.validate(v); err != nil {
			return err
		}
	}
	l.values = append(l.values, v)
	return nil
}

func (*listValue) Type() string { return "list" }

func (l *listValue) has(v string) bool {
	for _, x := range l.values {
		if x == v {
			return true
		}
	}
	return false
}

// mapValue is a repeatable k=v flag.
type mapValue struct {
	values   map[string]string
	validate func(string) (string, error)
}

func (m *mapValue) String() string { return fmt.Sprintf("%v", m.values) }

func (m *mapValue) Set(v string) error {
	if m.validate != nil {
		var err error
		if v, err = m.validate(v); err != nil {
			return err
		}
	}
	if m.values == nil {
		m.values = map[string]string{}
	}
	k, val, _ := strings.Cut(v, "=")
	m.values[k] = val
	return nil
}

func (*mapValue) Type() string { return "map" }

// all is the map, nil when empty (the fields are omitempty).
func (m *mapValue) all() map[string]string { return m.values }

// ulimitValue is repeatable name=soft[:hard]; the last of a name wins.
type ulimitValue struct{ values map[string]*container.Ulimit }

func (u *ulimitValue) String() string {
	out := []string{}
	for _, l := range u.values {
		out = append(out, l.String())
	}
	sort.Strings(out)
	return fmt.Sprintf("%v", out)
}

func (u *ulimitValue) Set(v string) error {
	l, err := units.ParseUlimit(v)
	if err != nil {
		return err
	}
	if u.values == nil {
		u.values = map[string]*container.Ulimit{}
	}
	u.values[l.Name] = l
	return nil
}

func (*ulimitValue) Type() string { return "ulimit" }

// list is the limits sorted by name, [] when none (docker sends []).
func (u *ulimitValue) list() []*container.Ulimit {
	out := make([]*container.Ulimit, 0, len(u.values))
	for _, l := range u.values {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// dnsAddrs is --dns as addresses (already checked by validateIP).
func (f *containerFlags) dnsAddrs() []netip.Addr {
	out := make([]netip.Addr, 0, len(f.dns.values))
	for _, s := range f.dns.values {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// validateAttach accepts stdin, stdout and stderr in any case.
func validateAttach(v string) (string, error) {
	s := strings.ToLower(v)
	switch s {
	case "stdin", "stdout", "stderr":
		return s, nil
	}
	return v, errors.New("valid streams are STDIN, STDOUT and STDERR")
}

// validateEnv takes a bare NAME's value from the environment, if it has
// one.
func validateEnv(v string) (string, error) {
	k, _, hasValue := strings.Cut(v, "=")
	if k == "" {
		return "", errors.New("invalid environment variable: " + v)
	}
	if hasValue {
		return v, nil
	}
	if val, ok := os.LookupEnv(k); ok {
		return k + "=" + val, nil
	}
	return v, nil
}

func validateLabel(v string) (string, error) {
	key, _, _ := strings.Cut(v, "=")
	key = strings.TrimLeft(key, " \t")
	if key == "" {
		return "", fmt.Errorf("invalid label '%s': empty name", v)
	}
	if strings.ContainsAny(key, " \t") {
		return "", fmt.Errorf("label '%s' contains whitespaces", key)
	}
	return v, nil
}

func validateIP(v string) (string, error) {
	if ip := net.ParseIP(strings.TrimSpace(v)); ip != nil {
		return ip.String(), nil
	}
	return "", fmt.Errorf("IP address is not correctly formatted: %s", v)
}

var domainRegexp = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(:?(:?[a-zA-Z0-9]|(:?[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9]))(:?\.(:?[a-zA-Z0-9]|(:?[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])))*)\.?\s*$`)
})

func validateDNSSearch(v string) (string, error) {
	if v = strings.Trim(v, " "); v == "." {
		return v, nil
	}
	if !strings.ContainsFunc(v, func(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }) {
		return "", fmt.Errorf("%s is not a valid domain", v)
	}
	if m := domainRegexp().FindStringSubmatch(v); len(m) > 0 && len(m[1]) < 255 {
		return m[1], nil
	}
	return "", fmt.Errorf("%s is not a valid domain", v)
}

// validateExtraHost reads host:ip or host=ip (ip may be [v6] or
// host-gateway) into host:ip.
func validateExtraHost(v string) (string, error) {
	k, ip, ok := strings.Cut(v, "=")
	if !ok {
		k, ip, ok = strings.Cut(v, ":")
	}
	if !ok || k == "" || strings.Contains(k, ":") {
		return "", fmt.Errorf("bad format for add-host: %q", v)
	}
	if ip != "host-gateway" {
		if len(ip) > 2 && ip[0] == '[' && ip[len(ip)-1] == ']' {
			ip = ip[1 : len(ip)-1]
		}
		if _, err := validateIP(ip); err != nil {
			return "", fmt.Errorf("invalid IP address in add-host: %q", ip)
		}
	}
	return k + ":" + ip, nil
}

var deviceCgroupRule = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}$`) })

func validateDeviceCgroupRule(v string) (string, error) {
	if deviceCgroupRule().MatchString(v) {
		return v, nil
	}
	return v, fmt.Errorf("invalid device cgroup format '%s'", v)
}

// validateSysctl accepts the namespaced sysctls docker's CLI accepts.
func validateSysctl(v string) (string, error) {
	k, _, ok := strings.Cut(v, "=")
	if ok && k != "" {
		switch {
		case strings.HasPrefix(k, "net."), strings.HasPrefix(k, "fs.mqueue."):
			return v, nil
		}
		switch k {
		case "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
			"kernel.shmmni", "kernel.shm_rmid_forced":
			return v, nil
		}
	}
	return "", fmt.Errorf("sysctl '%s' is not allowed", v)
}

// mountValue is repeatable --mount type=...,source=...,target=...
type mountValue struct{ values []mount.Mount }

func (m *mountValue) String() string {
	out := make([]string, len(m.values))
	for i, v := range m.values {
		out[i] = fmt.Sprintf("%s %s %s", v.Type, v.Source, v.Target)
	}
	return strings.Join(out, ", ")
}

func (*mountValue) Type() string { return "mount" }

func (m *mountValue) Set(v string) error {
	fields, err := csv.NewReader(strings.NewReader(v)).Read()
	if err != nil {
		return err
	}
	mt := mount.Mount{Type: mount.TypeVolume}
	for _, field := range fields {
		if err := setMountField(&mt, field); err != nil {
			return err
		}
	}
	if err := checkMount(mt); err != nil {
		return err
	}
	m.values = append(m.values, mt)
	return nil
}

// setMountField applies one key[=value] of --mount.
func setMountField(mt *mount.Mount, field string) error {
	key, val, ok := strings.Cut(field, "=")
	key = strings.ToLower(key)
	if !ok {
		switch key {
		case "readonly", "ro":
			mt.ReadOnly = true
		case "volume-nocopy":
			volumeOptions(mt).NoCopy = true
		case "bind-nonrecursive":
			bindOptions(mt).NonRecursive = true
		default:
			return fmt.Errorf("invalid field '%s' must be a key=value pair", field)
		}
		return nil
	}
	var err error
	switch key {
	case "type":
		mt.Type = mount.Type(strings.ToLower(val))
	case "source", "src":
		mt.Source = absIfRelative(val)
	case "target", "dst", "destination":
		mt.Target = val
	case "readonly", "ro":
		mt.ReadOnly, err = parseMountBool(key, val)
	case "consistency":
		mt.Consistency = mount.Consistency(strings.ToLower(val))
	case "bind-propagation":
		bindOptions(mt).Propagation = mount.Propagation(strings.ToLower(val))
	case "bind-nonrecursive":
		bindOptions(mt).NonRecursive, err = parseMountBool(key, val)
	case "volume-subpath":
		volumeOptions(mt).Subpath = val
	case "volume-nocopy":
		volumeOptions(mt).NoCopy, err = parseMountBool(key, val)
	case "volume-label":
		setKV(volumeOptions(mt).Labels, val)
	case "volume-driver":
		volumeOptions(mt).DriverConfig.Name = val
	case "volume-opt":
		if volumeOptions(mt).DriverConfig.Options == nil {
			mt.VolumeOptions.DriverConfig.Options = map[string]string{}
		}
		setKV(mt.VolumeOptions.DriverConfig.Options, val)
	default:
		return setTmpfsField(mt, key, val, field)
	}
	return err
}

func setTmpfsField(mt *mount.Mount, key, val, field string) error {
	switch key {
	case "tmpfs-size":
		n, err := units.RAMInBytes(val)
		if err != nil {
			return fmt.Errorf("invalid value for %s: %s", key, val)
		}
		tmpfsOptions(mt).SizeBytes = n
	case "tmpfs-mode":
		n, err := strconv.ParseUint(val, 8, 32)
		if err != nil {
			return fmt.Errorf("invalid value for %s: %s", key, val)
		}
		tmpfsOptions(mt).Mode = os.FileMode(n)
	default:
		return fmt.Errorf("unexpected key '%s' in '%s'", key, field)
	}
	return nil
}

func parseMountBool(key, val string) (bool, error) {
	b, err := strconv.ParseBool(val)
	if err != nil {
		return false, fmt.Errorf("invalid value for %s: %s", key, val)
	}
	return b, nil
}

func checkMount(mt mount.Mount) error {
	switch {
	case mt.Type == "":
		return errors.New("type is required")
	case mt.Target == "":
		return errors.New("target is required")
	case mt.VolumeOptions != nil && mt.Type != mount.TypeVolume:
		return fmt.Errorf("cannot mix 'volume-*' options with mount type '%s'", mt.Type)
	case mt.BindOptions != nil && mt.Type != mount.TypeBind:
		return fmt.Errorf("cannot mix 'bind-*' options with mount type '%s'", mt.Type)
	case mt.TmpfsOptions != nil && mt.Type != mount.TypeTmpfs:
		return fmt.Errorf("cannot mix 'tmpfs-*' options with mount type '%s'", mt.Type)
	}
	return nil
}

func volumeOptions(mt *mount.Mount) *mount.VolumeOptions {
	if mt.VolumeOptions == nil {
		mt.VolumeOptions = &mount.VolumeOptions{Labels: map[string]string{}}
	}
	if mt.VolumeOptions.DriverConfig == nil {
		mt.VolumeOptions.DriverConfig = &mount.Driver{}
	}
	return mt.VolumeOptions
}

func bindOptions(mt *mount.Mount) *mount.BindOptions {
	if mt.BindOptions == nil {
		mt.BindOptions = &mount.BindOptions{}
	}
	return mt.BindOptions
}

func tmpfsOptions(mt *mount.Mount) *mount.TmpfsOptions {
	if mt.TmpfsOptions == nil {
		mt.TmpfsOptions = &mount.TmpfsOptions{}
	}
	return mt.TmpfsOptions
}

func setKV(m map[string]string, kv string) {
	if k, v, _ := strings.Cut(kv, "="); k != "" {
		m[k] = v
	}
}

// absIfRelative makes a host path that starts with "." absolute, as
// docker's CLI does for bind sources.
func absIfRelative(p string) string {
	if !filepath.IsAbs(p) && strings.HasPrefix(p, ".") {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	return p
}
