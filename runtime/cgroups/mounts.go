package cgroups

import (
	"cmp"
	"slices"
	"strings"
)

// Mount describes one hierarchy of the container's cgroup, for init to mount
// a cgroup filesystem (or bind-mount HostDir) inside the container.
type Mount struct {
	// Key is the directory name under /sys/fs/cgroup inside the container:
	// the joined controllers for v1 ("cpu,cpuacct", "memory"), "systemd" for
	// name=systemd (other named hierarchies keep their name), "unified" for
	// v2 beside v1 hierarchies, and "" for v2 alone (mounted at
	// /sys/fs/cgroup itself).
	Key string
	// HostDir is the container's cgroup directory on the host.
	HostDir string
	// FSType is "cgroup" (v1) or "cgroup2".
	FSType string
	// Options are the mount options selecting the hierarchy: the controllers
	// ("cpu,cpuacct", "name=systemd"); "" for cgroup2.
	Options string
	// Controllers are the Paths keys the hierarchy serves; when there are
	// several, init may add one symlink per controller pointing at Key.
	Controllers []string
}

// Mounts returns one Mount per hierarchy of the container, sorted by Key.
func (m *Manager) Mounts() []Mount {
	byDir := make(map[string][]string)
	for key, dir := range m.paths {
		byDir[dir] = append(byDir[dir], key)
	}
	hybrid := len(m.paths) > 1 // v2 beside at least one v1 controller
	var ms []Mount
	for dir, keys := range byDir {
		slices.Sort(keys)
		if slices.Contains(keys, UnifiedKey) {
			key := ""
			if hybrid {
				key = "unified"
			}
			ms = append(ms, Mount{Key: key, HostDir: dir, FSType: "cgroup2"})
			continue
		}
		opts := strings.Join(keys, ",")
		ms = append(ms, Mount{
			Key:         mountName(keys),
			HostDir:     dir,
			FSType:      "cgroup",
			Options:     opts,
			Controllers: keys,
		})
	}
	slices.SortFunc(ms, func(a, b Mount) int { return cmp.Compare(a.Key, b.Key) })
	return ms
}

// mountName names a v1 hierarchy's directory the way systemd and Docker do.
func mountName(keys []string) string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = strings.TrimPrefix(k, "name=")
	}
	return strings.Join(names, ",")
}
