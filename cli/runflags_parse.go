package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/moby/moby/api/types/container"
)

// The parsers of run's and create's flag values that need more than one
// flag, a file, or docker's later checks.

// lookupEnv is os.LookupEnv, the value of a bare NAME in an env file.
func lookupEnv(k string) (string, bool) { return os.LookupEnv(k) }

// readKVStrings is the lines of files (env or label files) followed by
// override. lookup, if set, gives a bare NAME its value (and drops it
// when unset).
func readKVStrings(files, override []string, lookup func(string) (string, bool)) ([]string, error) {
	var out []string
	for _, name := range files {
		lines, err := parseKVFile(name, lookup)
		if err != nil {
			return nil, err
		}
		out = append(out, lines...)
	}
	return append(out, override...), nil
}

// parseKVFile reads a file of KEY=VALUE lines as docker does: blank lines
// and # comments skipped, a leading BOM dropped, a KEY without = taken
// from lookup (and left out when lookup has none), no quote processing.
// A bad line is an error naming the file and, unlike docker's, the line.
func parseKVFile(name string, lookup func(string) (string, bool)) ([]string, error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	out, err := parseKV(fh, lookup)
	if err != nil {
		return nil, fmt.Errorf("invalid env file (%s): %v", name, err)
	}
	return out, nil
}

func parseKV(r io.Reader, lookup func(string) (string, bool)) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		b := sc.Bytes()
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("invalid utf8 bytes at line %d: %v", n, b)
		}
		if n == 1 {
			b = bytes.TrimPrefix(b, []byte{0xEF, 0xBB, 0xBF})
		}
		line := strings.TrimLeftFunc(string(b), unicode.IsSpace)
		if line == "" || line[0] == '#' {
			continue
		}
		key, _, hasValue := strings.Cut(line, "=")
		switch {
		case key == "":
			return nil, fmt.Errorf("line %d: no variable name on line '%s'", n, line)
		case strings.ContainsAny(key, " \t"):
			return nil, fmt.Errorf("line %d: variable '%s' contains whitespaces", n, key)
		case hasValue:
			out = append(out, line)
		case lookup != nil:
			if v, ok := lookup(line); ok {
				out = append(out, key+"="+v)
			}
		}
	}
	return out, sc.Err()
}

func parseLoggingOpts(driver string, opts []string) (map[string]string, error) {
	if driver == "none" && len(opts) > 0 {
		return nil, fmt.Errorf("invalid logging opts for driver %s", driver)
	}
	return kvMap(opts), nil
}

// parseSecurityOpts checks --security-opt and, for seccomp=FILE, sends the
// profile's JSON (compacted) instead of the file name, as docker's CLI
// does; seccomp=unconfined and seccomp=builtin go as they are.
func parseSecurityOpts(opts []string) ([]string, error) {
	out := make([]string, len(opts))
	for i, opt := range opts {
		out[i] = opt
		k, v, ok := strings.Cut(opt, "=")
		if !ok && k != "no-new-privileges" {
			k, v, ok = strings.Cut(opt, ":")
		}
		if (!ok || v == "") && k != "no-new-privileges" {
			//lint:ignore ST1005 docker's wording.
			return nil, fmt.Errorf("Invalid --security-opt: %q", opt)
		}
		if k != "seccomp" || v == "builtin" || v == "unconfined" {
			continue
		}
		f, err := os.ReadFile(v)
		if err != nil {
			return nil, fmt.Errorf("opening seccomp profile (%s) failed: %v", v, err)
		}
		var b bytes.Buffer
		if err := json.Compact(&b, f); err != nil {
			return nil, fmt.Errorf("compacting json for seccomp profile (%s) failed: %v", v, err)
		}
		out[i] = "seccomp=" + b.String()
	}
	return out, nil
}

// parseSystemPaths takes systempaths=unconfined out of the options: it
// means empty masked and read-only path lists.
func parseSystemPaths(opts []string) (filtered, masked, readonly []string) {
	for _, opt := range opts {
		if opt == "systempaths=unconfined" {
			masked, readonly = []string{}, []string{}
			continue
		}
		filtered = append(filtered, opt)
	}
	return filtered, masked, readonly
}

func parseStorageOpts(opts []string) (map[string]string, error) {
	m := map[string]string{}
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			return nil, errors.New("invalid storage option")
		}
		m[k] = v
	}
	return m, nil
}

// parseTmpfs reads PATH[:OPTIONS]; the daemon checks the options.
func parseTmpfs(specs []string) map[string]string {
	m := map[string]string{}
	for _, t := range specs {
		k, v, _ := strings.Cut(t, ":")
		m[k] = v
	}
	return m
}

// cdiName is a fully qualified CDI device name: vendor.com/class=name.
var cdiName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*/[a-zA-Z0-9][a-zA-Z0-9_.-]*=[a-zA-Z0-9_.:-]+$`)
})

// parseDevices reads --device HOST[:CONTAINER][:PERMISSIONS] into device
// mappings ([] when none, as docker sends), and CDI names into one device
// request of the cdi driver.
func parseDevices(specs []string) ([]container.DeviceMapping, []container.DeviceRequest, error) {
	devices := []container.DeviceMapping{}
	var cdi []string
	for _, d := range specs {
		if cdiName().MatchString(d) {
			cdi = append(cdi, d)
			continue
		}
		v, err := validateDevicePath(d)
		if err != nil {
			return nil, nil, err
		}
		devices = append(devices, parseLinuxDevice(v))
	}
	var requests []container.DeviceRequest
	if len(cdi) > 0 {
		requests = []container.DeviceRequest{{Driver: "cdi", DeviceIDs: cdi}}
	}
	return devices, requests, nil
}

// validDeviceMode is r, w, m, each at most once.
func validDeviceMode(mode string) bool {
	if mode == "" {
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

// validateDevicePath checks [host:]container[:mode] and cleans the paths.
func validateDevicePath(v string) (string, error) {
	split := strings.SplitN(v, ":", 3)
	if strings.Count(v, ":") > 2 || split[0] == "" {
		return v, fmt.Errorf("bad format for path: %s", v)
	}
	var target string
	switch len(split) {
	case 1:
		target = split[0]
		v = path.Clean(target)
	case 2:
		if validDeviceMode(split[1]) {
			target = split[0]
			v = path.Clean(target) + ":" + split[1]
		} else {
			target = split[1]
			v = split[0] + ":" + path.Clean(target)
		}
	case 3:
		target = split[1]
		if !validDeviceMode(split[2]) {
			return v, fmt.Errorf("bad mode specified: %s", split[2])
		}
	}
	if !path.IsAbs(target) {
		return v, fmt.Errorf("%s is not an absolute path", target)
	}
	return v, nil
}

func parseLinuxDevice(v string) container.DeviceMapping {
	parts := strings.SplitN(v, ":", 3)
	d := container.DeviceMapping{PathOnHost: parts[0], PathInContainer: parts[0], CgroupPermissions: "rwm"}
	switch {
	case len(parts) == 3:
		d.PathInContainer, d.CgroupPermissions = parts[1], parts[2]
	case len(parts) == 2 && validDeviceMode(parts[1]):
		d.CgroupPermissions = parts[1]
	case len(parts) == 2:
		d.PathInContainer = parts[1]
	}
	return d
}

// parseVolumes splits -v into binds (HOST-OR-NAME:TARGET[:MODE]) and
// anonymous volumes (TARGET), as docker's CLI does; the daemon checks the
// rest. The volume set is {} rather than null when empty, as docker sends.
func parseVolumes(specs []string) (binds []string, volumes map[string]struct{}, err error) {
	volumes = map[string]struct{}{}
	for _, spec := range specs {
		parts := strings.Split(spec, ":")
		for _, p := range parts {
			if p == "" || len(parts) > 3 {
				return nil, nil, fmt.Errorf("invalid spec: %s", spec)
			}
		}
		if len(parts) == 1 {
			volumes[spec] = struct{}{}
			continue
		}
		if src := absIfRelative(parts[0]); src != parts[0] {
			parts[0] = src
		}
		binds = append(binds, strings.Join(parts, ":"))
	}
	return binds, volumes, nil
}
