package cgroups

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// InvalidPathError reports a cgroups path (or container id) that New refuses.
// It is an invalid-argument error: the caller's input is wrong, not the host.
type InvalidPathError struct {
	Path   string
	Reason string
}

func (e *InvalidPathError) Error() string {
	return fmt.Sprintf("invalid cgroups path %q: %s", e.Path, e.Reason)
}

// InvalidArgument marks the error as the caller's fault, for errdefs.
func (e *InvalidPathError) InvalidArgument() {}

// target checks cgroupsPath (or id, when cgroupsPath is empty) and returns
// the cleaned path to place the container at, absolute or relative.
func target(cgroupsPath, id string) (string, error) {
	if cgroupsPath == "" {
		if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
			return "", &InvalidPathError{Path: id, Reason: "container id is not a valid cgroup name"}
		}
		return id, nil
	}
	if isSystemdPath(cgroupsPath) {
		return "", &InvalidPathError{Path: cgroupsPath, Reason: "systemd cgroup driver is not supported"}
	}
	if strings.ContainsRune(cgroupsPath, 0) {
		return "", &InvalidPathError{Path: cgroupsPath, Reason: "contains a NUL byte"}
	}
	for _, elem := range strings.Split(cgroupsPath, "/") {
		if elem == ".." {
			return "", &InvalidPathError{Path: cgroupsPath, Reason: `contains ".."`}
		}
	}
	p := path.Clean(cgroupsPath)
	if p == "/" || p == "." {
		return "", &InvalidPathError{Path: cgroupsPath, Reason: "names the hierarchy root or the caller's own cgroup"}
	}
	return p, nil
}

// isSystemdPath reports whether p has the systemd driver's "slice:prefix:name"
// form rather than a directory path.
func isSystemdPath(p string) bool {
	return strings.Count(p, ":") == 2 && !strings.Contains(p, "/")
}

// keys returns the Paths keys a hierarchy serves.
func (h hierarchy) keys() []string {
	if h.unified() {
		return []string{UnifiedKey}
	}
	return h.controllers
}

// base returns the host directory that a path p (absolute or relative) is
// resolved against on h: its mount point for an absolute p, else the
// caller's own cgroup there. ok is false when the caller's own cgroup is not
// visible under this mount (a bind mount of some other sub-cgroup).
func (h hierarchy) base(own map[string]string, abs bool) (dir string, ok bool) {
	if abs {
		return h.mountpoint, true
	}
	for _, k := range h.keys() {
		cg, found := own[k]
		if !found {
			continue
		}
		rel, err := filepath.Rel(h.root, cg)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			return "", false
		}
		return filepath.Join(h.mountpoint, rel), true
	}
	return "", false
}

// resolve maps every hierarchy key in hs to the directory of cleaned path p
// (see target) on it. The first usable mount of a hierarchy wins.
func resolve(hs []hierarchy, own map[string]string, p string) (map[string]string, error) {
	abs := path.IsAbs(p)
	paths := make(map[string]string)
	var missing []string
	for _, h := range hs {
		keys := h.keys()
		if _, done := paths[keys[0]]; done {
			continue
		}
		base, ok := h.base(own, abs)
		if !ok {
			missing = append(missing, h.mountpoint)
			continue
		}
		if !abs && len(hs) == 1 && h.unified() && base != h.mountpoint {
			// As runc, on a pure v2 host: the caller's own cgroup holds
			// processes, so a child of it could get no domain controller
			// ("no internal processes"); its parent is the base instead.
			base = filepath.Dir(base)
		}
		dir := filepath.Join(base, p)
		for _, k := range keys {
			if _, done := paths[k]; !done {
				paths[k] = dir
			}
		}
	}
	for _, h := range hs {
		if _, done := paths[h.keys()[0]]; !done {
			return nil, fmt.Errorf("resolve cgroups path %q: own cgroup not found under %v", p, missing)
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("resolve cgroups path %q: no cgroup hierarchy is mounted", p)
	}
	return paths, nil
}
