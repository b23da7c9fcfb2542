package cgroups

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func (m *Manager) planPids(p *plan, r *specs.LinuxResources) error {
	if r.Pids == nil || !set(r.Pids.Limit) {
		return nil
	}
	const field = "linux.resources.pids.limit"
	dir, err := m.controllerDir(field, "pids")
	if err != nil {
		return err
	}
	v := *r.Pids.Limit
	data := "max"
	if v > 0 {
		data = itoa(v)
	}
	p.ops = append(p.ops, op{field: field, value: itoa(v), dir: dir, file: "pids.max", data: data})
	return nil
}

// pageSizeRe is a hugetlb page size as the kernel names it in file names.
var pageSizeRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[1-9][0-9]*[KMG]B$`) })

// planHugetlb writes each page size's limit, and its reservation limit
// where the kernel has one, as runc does.
func (m *Manager) planHugetlb(p *plan, r *specs.LinuxResources) error {
	if len(r.HugepageLimits) == 0 {
		return nil
	}
	const field = "linux.resources.hugepageLimits"
	dir, err := m.controllerDir(field, "hugetlb")
	if err != nil {
		return err
	}
	limit, rsvd := "limit_in_bytes", "rsvd.limit_in_bytes"
	if m.isV2() {
		limit, rsvd = "max", "rsvd.max"
	}
	for _, h := range r.HugepageLimits {
		if !pageSizeRe().MatchString(h.Pagesize) {
			return &LimitError{Field: field + ".pageSize", Value: fmt.Sprintf("%q", h.Pagesize),
				Err: errors.New(`not a page size like "2MB"`)}
		}
		prefix := "hugetlb." + h.Pagesize + "."
		if err := need(dir, prefix+limit, field, h.Pagesize); err != nil {
			return err
		}
		files := []string{prefix + limit}
		if exists(dir, prefix+rsvd) {
			files = append([]string{prefix + rsvd}, files...)
		}
		for _, f := range files {
			p.ops = append(p.ops, op{field: field + "[" + h.Pagesize + "]", value: utoa(h.Limit),
				dir: dir, file: f, data: utoa(h.Limit)})
		}
	}
	return nil
}

// planNetwork writes net_cls.classid and net_prio.ifpriomap; neither
// controller exists on cgroup v2.
func (m *Manager) planNetwork(p *plan, r *specs.LinuxResources) error {
	n := r.Network
	if n == nil {
		return nil
	}
	if n.ClassID != nil {
		const field = "linux.resources.network.classID"
		dir, err := m.v1Only(field, "net_cls")
		if err != nil {
			return err
		}
		p.ops = append(p.ops, op{field: field, value: fmt.Sprint(*n.ClassID), dir: dir,
			file: "net_cls.classid", data: fmt.Sprint(*n.ClassID)})
	}
	if len(n.Priorities) == 0 {
		return nil
	}
	const field = "linux.resources.network.priorities"
	dir, err := m.v1Only(field, "net_prio")
	if err != nil {
		return err
	}
	for _, pr := range n.Priorities {
		if pr.Name == "" || strings.ContainsAny(pr.Name, " \n\x00/") {
			return &LimitError{Field: field, Value: fmt.Sprintf("%q", pr.Name), Err: errors.New("invalid interface name")}
		}
		name := pr.Name
		p.ops = append(p.ops, op{field: field, value: fmt.Sprintf("%s %d", name, pr.Priority), dir: dir,
			file: "net_prio.ifpriomap", data: fmt.Sprintf("%s %d", name, pr.Priority),
			undo: func(old string) []restore {
				prev := keyedValue(old, name)
				if prev == "" {
					prev = "0"
				}
				return []restore{{"net_prio.ifpriomap", name + " " + prev}}
			}})
	}
	return nil
}

// v1Only is controllerDir for controllers that cgroup v2 does not have.
func (m *Manager) v1Only(field, controller string) (string, error) {
	if m.isV2() {
		return "", &LimitError{Field: field, Err: fmt.Errorf("%s %w (cgroup v2 has no %s controller)",
			controller, ErrNotMounted, controller)}
	}
	return m.controllerDir(field, controller)
}

// planRdma writes one rdma.max line per device.
func (m *Manager) planRdma(p *plan, r *specs.LinuxResources) error {
	if len(r.Rdma) == 0 {
		return nil
	}
	const field = "linux.resources.rdma"
	dir, err := m.controllerDir(field, "rdma")
	if err != nil {
		return err
	}
	for _, dev := range sortedKeys(r.Rdma) {
		lim := r.Rdma[dev]
		if dev == "" || strings.ContainsAny(dev, " \n\x00") {
			return &LimitError{Field: field, Value: fmt.Sprintf("%q", dev), Err: errors.New("invalid device name")}
		}
		line := dev
		if lim.HcaHandles != nil {
			line += fmt.Sprintf(" hca_handle=%d", *lim.HcaHandles)
		}
		if lim.HcaObjects != nil {
			line += fmt.Sprintf(" hca_object=%d", *lim.HcaObjects)
		}
		if line == dev {
			continue
		}
		p.ops = append(p.ops, op{field: field + "[" + dev + "]", value: strings.TrimPrefix(line, dev+" "),
			dir: dir, file: "rdma.max", data: line, undo: rdmaUndo(dev)})
	}
	return nil
}

// rdmaUndo restores a device's rdma.max line, or lifts its limits.
func rdmaUndo(dev string) func(string) []restore {
	return func(old string) []restore {
		for _, line := range strings.Split(old, "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == dev {
				return []restore{{"rdma.max", strings.TrimSpace(line)}}
			}
		}
		return []restore{{"rdma.max", dev + " hca_handle=max hca_object=max"}}
	}
}

// planUnified writes the cgroup v2 key/values last, so they override the
// settings above. Keys are plain file names of the container's cgroup.
func (m *Manager) planUnified(p *plan, r *specs.LinuxResources) error {
	for _, k := range sortedKeys(r.Unified) {
		field := fmt.Sprintf("linux.resources.unified[%q]", k)
		dir, ok := m.v2Dir()
		if !ok {
			return &LimitError{Field: field, Err: errors.New("cgroup v2 controllers are not in use on this host (cgroup v1 or hybrid)")}
		}
		ctrl, _, found := strings.Cut(k, ".")
		if !found || ctrl == "" || strings.ContainsAny(k, "/\x00") || k == ".." {
			return &LimitError{Field: field, Err: errors.New("not a cgroup v2 file name like memory.high")}
		}
		if slices.Contains([]string{"cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "cgroup.kill"}, k) {
			return &LimitError{Field: field, Err: errors.New("not a resource limit")}
		}
		if ctrl != "cgroup" {
			if _, err := m.controllerDir(field, ctrl); err != nil {
				return err
			}
		}
		p.ops = append(p.ops, op{field: field, value: fmt.Sprintf("%q", r.Unified[k]), dir: dir,
			file: k, data: r.Unified[k]})
	}
	return nil
}

// sortedKeys returns the keys of a map with string keys, sorted.
func sortedKeys[V any](mp map[string]V) []string {
	keys := make([]string, 0, len(mp))
	for k := range mp {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
