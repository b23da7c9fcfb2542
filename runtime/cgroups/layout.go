package cgroups

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/sys/mountinfo"
)

// UnifiedKey is the hierarchy key of the cgroup v2 (unified) hierarchy in
// Paths.
const UnifiedKey = ""

// v1Subsystems are the cgroup v1 controller names the kernel knows; any other
// superblock option of a v1 mount (rw, noprefix, clone_children, ...) is a
// flag, not a controller. Named hierarchies ("name=systemd") are kept too.
var v1Subsystems = map[string]bool{
	"cpuset": true, "cpu": true, "cpuacct": true, "blkio": true,
	"memory": true, "devices": true, "freezer": true, "net_cls": true,
	"perf_event": true, "net_prio": true, "hugetlb": true, "pids": true,
	"rdma": true, "misc": true, "debug": true,
}

// hierarchy is one mounted cgroup hierarchy, as mountinfo shows it.
type hierarchy struct {
	// controllers are the v1 controllers (and "name=..." for a named
	// hierarchy) of the mount; nil for the unified hierarchy.
	controllers []string
	// mountpoint is where the hierarchy is mounted.
	mountpoint string
	// root is the cgroup directory mounted at mountpoint ("/" unless the
	// mount is a bind mount of a sub-cgroup).
	root string
}

func (h hierarchy) unified() bool { return h.controllers == nil }

// parseMountinfo returns the cgroup hierarchies mounted according to r, a
// /proc/<pid>/mountinfo text, in the order they appear.
func parseMountinfo(r io.Reader) ([]hierarchy, error) {
	infos, err := mountinfo.GetMountsFromReader(r, mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("parse mountinfo: %w", err)
	}
	var hs []hierarchy
	for _, info := range infos {
		h := hierarchy{mountpoint: info.Mountpoint, root: info.Root}
		if info.FSType == "cgroup" {
			h.controllers = v1Controllers(info.VFSOptions)
			if len(h.controllers) == 0 {
				continue
			}
		}
		hs = append(hs, h)
	}
	return hs, nil
}

// v1Controllers picks the controllers out of a v1 mount's superblock options.
func v1Controllers(opts string) []string {
	var cs []string
	for _, o := range strings.Split(opts, ",") {
		if v1Subsystems[o] || (strings.HasPrefix(o, "name=") && len(o) > len("name=")) {
			cs = append(cs, o)
		}
	}
	return cs
}

// parseProcCgroup parses a /proc/<pid>/cgroup text into hierarchy key →
// cgroup path. A v1 line naming several controllers ("2:cpu,cpuacct:/x")
// gives one entry per controller; the v2 line ("0::/x") gives UnifiedKey.
func parseProcCgroup(r io.Reader) (map[string]string, error) {
	own := make(map[string]string)
	s := bufio.NewScanner(r)
	for s.Scan() {
		line := s.Text()
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "/") {
			return nil, fmt.Errorf("parse /proc/self/cgroup line %q: malformed", line)
		}
		if parts[0] == "0" && parts[1] == "" {
			own[UnifiedKey] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			own[c] = parts[2]
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	return own, nil
}

// readHierarchies parses the cgroup mounts of /proc/self/mountinfo.
func readHierarchies() ([]hierarchy, error) {
	mounts, err := readCgroupMounts()
	if err != nil {
		return nil, err
	}
	return parseMountinfo(strings.NewReader(mounts))
}

// readCgroupMounts returns the lines of /proc/self/mountinfo whose
// filesystem is cgroup or cgroup2, each ending in a newline. The fields
// before " - " are escaped by the kernel (a space is \040), so the
// separator followed by the type cannot appear anywhere else in a line.
func readCgroupMounts() (string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("read cgroup mounts: %w", err)
	}
	return cgroupLines(string(data)), nil
}

// cgroupLines keeps the lines of a mountinfo text that describe cgroup or
// cgroup2 mounts, each ending in a newline.
func cgroupLines(mountinfo string) string {
	var b strings.Builder
	for line := range strings.Lines(mountinfo) {
		if strings.Contains(line, " - cgroup ") || strings.Contains(line, " - cgroup2 ") {
			b.WriteString(line)
			if !strings.HasSuffix(line, "\n") {
				b.WriteByte('\n')
			}
		}
	}
	return b.String()
}

// readOwnCgroups parses /proc/self/cgroup.
func readOwnCgroups() (map[string]string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read own cgroups: %w", err)
	}
	defer f.Close()
	return parseProcCgroup(f)
}

// splitLayout returns the sorted v1 controllers and the unified mount point
// ("" when cgroup v2 is not mounted) of hs.
func splitLayout(hs []hierarchy) (v1 []string, unified string) {
	for _, h := range hs {
		if h.unified() {
			if unified == "" {
				unified = h.mountpoint
			}
			continue
		}
		for _, c := range h.controllers {
			if !slices.Contains(v1, c) {
				v1 = append(v1, c)
			}
		}
	}
	slices.Sort(v1)
	return v1, unified
}

// Layout reports the host's cgroup layout, for diagnostics: the mounted v1
// controllers (named hierarchies as "name=..."), sorted, and the mount point
// of the unified (v2) hierarchy, "" when it is not mounted. Both are set on a
// hybrid host.
func Layout() (v1 []string, unified string, err error) {
	hs, err := readHierarchies()
	if err != nil {
		return nil, "", err
	}
	v1, unified = splitLayout(hs)
	return v1, unified, nil
}

// IsMounted reports whether controller can be used for resource limits. On a
// host with any v1 hierarchy (v1 or hybrid) that means a mounted v1
// hierarchy carries it; on a pure v2 host, that the unified root lists it in
// cgroup.controllers. Errors reading the layout count as not mounted.
func IsMounted(controller string) bool {
	v1, unified, err := Layout()
	if err != nil {
		return false
	}
	if len(v1) > 0 || unified == "" {
		return slices.Contains(v1, controller)
	}
	data, err := os.ReadFile(filepath.Join(unified, "cgroup.controllers"))
	if err != nil {
		return false
	}
	return slices.Contains(strings.Fields(string(data)), controller)
}
