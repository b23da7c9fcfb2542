package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Stats is the resource usage of a container's cgroup. The JSON names are
// those of runc's `events` output (runc's types/events.go), so the runtime
// can print it as runc does. Counters a hierarchy does not have stay zero.
type Stats struct {
	CPU     CPUStats                `json:"cpu"`
	CPUSet  CPUSetStats             `json:"cpuset"`
	Memory  MemoryStats             `json:"memory"`
	Pids    PidsStats               `json:"pids"`
	Blkio   BlkioStats              `json:"blkio"`
	Hugetlb map[string]HugetlbStats `json:"hugetlb"`
}

// CPUStats is CPU time (nanoseconds) and CFS throttling.
type CPUStats struct {
	Usage      CPUUsage   `json:"usage,omitempty"`
	Throttling Throttling `json:"throttling,omitempty"`
}

// CPUUsage is CPU time in nanoseconds.
type CPUUsage struct {
	Total        uint64   `json:"total,omitempty"`
	Percpu       []uint64 `json:"percpu,omitempty"`
	PercpuKernel []uint64 `json:"percpu_kernel,omitempty"`
	PercpuUser   []uint64 `json:"percpu_user,omitempty"`
	Kernel       uint64   `json:"kernel"`
	User         uint64   `json:"user"`
}

// Throttling counts CFS periods and the time spent throttled (ns).
type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

// CPUSetStats lists the CPUs and memory nodes the cgroup may use, and on
// v1 the cpuset flags, as runc reports them.
type CPUSetStats struct {
	CPUs                  []uint16 `json:"cpus,omitempty"`
	CPUExclusive          uint64   `json:"cpu_exclusive"`
	Mems                  []uint16 `json:"mems,omitempty"`
	MemHardwall           uint64   `json:"mem_hardwall"`
	MemExclusive          uint64   `json:"mem_exclusive"`
	MemoryMigrate         uint64   `json:"memory_migrate"`
	MemorySpreadPage      uint64   `json:"memory_spread_page"`
	MemorySpreadSlab      uint64   `json:"memory_spread_slab"`
	MemoryPressure        uint64   `json:"memory_pressure"`
	SchedLoadBalance      uint64   `json:"sched_load_balance"`
	SchedRelaxDomainLevel int64    `json:"sched_relax_domain_level"`
}

// MemoryStats is memory use in bytes. Swap is memory+swap, as in runc;
// Raw holds memory.stat as the kernel reports it.
type MemoryStats struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     MemoryEntry       `json:"usage,omitempty"`
	Swap      MemoryEntry       `json:"swap,omitempty"`
	Kernel    MemoryEntry       `json:"kernel,omitempty"`
	KernelTCP MemoryEntry       `json:"kernelTCP,omitempty"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
}

// MemoryEntry is one memory counter with its peak, limit and failures.
type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// PidsStats counts tasks; Limit is 0 when there is none.
type PidsStats struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

// BlkioStats is block I/O per device and operation.
type BlkioStats struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
}

// BlkioEntry is one device's counter for one operation ("Read", "Write"...).
type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

// HugetlbStats is the use of one huge page size, in bytes.
type HugetlbStats struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// Stats reads the container's resource usage from every controller it
// has. Controllers that are not mounted are left out, not errors.
func (m *Manager) Stats() (*Stats, error) {
	s := &Stats{Hugetlb: map[string]HugetlbStats{}}
	var readers []func(*Stats) error
	if dir, ok := m.v2Dir(); ok {
		readers = v2Readers(dir)
	} else {
		readers = m.v1Readers()
	}
	for _, read := range readers {
		if err := read(s); err != nil {
			return nil, fmt.Errorf("read cgroup stats: %w", err)
		}
	}
	return s, nil
}

// v1Readers returns the readers of the mounted v1 controllers.
func (m *Manager) v1Readers() []func(*Stats) error {
	byCtrl := map[string]func(string, *Stats) error{
		"cpu": cpuStatsV1, "cpuacct": cpuacctStatsV1, "cpuset": cpusetStatsV1,
		"memory": memoryStatsV1, "pids": pidsStats, "blkio": blkioStatsV1, "hugetlb": hugetlbStats("limit_in_bytes"),
	}
	var rs []func(*Stats) error
	for _, c := range sortedKeys(byCtrl) {
		if dir, ok := m.paths[c]; ok {
			read := byCtrl[c]
			rs = append(rs, func(s *Stats) error { return read(dir, s) })
		}
	}
	return rs
}

// v2Readers returns the readers of a v2 cgroup; a controller that is not
// enabled has no files, which the readers skip.
func v2Readers(dir string) []func(*Stats) error {
	var rs []func(*Stats) error
	for _, read := range []func(string, *Stats) error{
		cpuStatsV2, cpusetStats("cpuset.cpus.effective", "cpuset.mems.effective"), memoryStatsV2,
		pidsStats, ioStatsV2, hugetlbStats("max"),
	} {
		rs = append(rs, func(s *Stats) error { return read(dir, s) })
	}
	return rs
}

// readKeyed parses a "key value" per line file into a map. A missing file
// gives a nil map and no error.
func readKeyed(dir, file string) (map[string]uint64, error) {
	f, err := os.Open(filepath.Join(dir, file))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			continue // not a counter (e.g. a nested key)
		}
		out[k] = n
	}
	return out, sc.Err()
}

// readOptUint reads a number file; a missing file is 0. "max" is the
// largest value.
func readOptUint(dir, file string) (uint64, error) {
	data, err := os.ReadFile(filepath.Join(dir, file))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(data))
	if s == "max" {
		return ^uint64(0), nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", file, err)
	}
	return v, nil
}

// readUints reads several number files at once, stopping at the first error.
func readUints(dir string, files map[string]*uint64) error {
	for f, dst := range files {
		v, err := readOptUint(dir, f)
		if err != nil {
			return err
		}
		*dst = v
	}
	return nil
}

// readList reads a space-separated list of numbers (cpuacct.usage_percpu).
func readList(dir, file string) ([]uint64, error) {
	data, err := os.ReadFile(filepath.Join(dir, file))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, f := range strings.Fields(string(data)) {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", file, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// cpusetStatsV1 reads the effective CPUs and nodes and the cpuset flags.
func cpusetStatsV1(dir string, s *Stats) error {
	if err := cpusetStats("cpuset.effective_cpus", "cpuset.effective_mems")(dir, s); err != nil {
		return err
	}
	c := &s.CPUSet
	err := readUints(dir, map[string]*uint64{"cpuset.cpu_exclusive": &c.CPUExclusive,
		"cpuset.mem_hardwall": &c.MemHardwall, "cpuset.mem_exclusive": &c.MemExclusive,
		"cpuset.memory_migrate": &c.MemoryMigrate, "cpuset.memory_spread_page": &c.MemorySpreadPage,
		"cpuset.memory_spread_slab": &c.MemorySpreadSlab, "cpuset.memory_pressure": &c.MemoryPressure,
		"cpuset.sched_load_balance": &c.SchedLoadBalance})
	if err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(dir, "cpuset.sched_relax_domain_level"))
	if err == nil {
		c.SchedRelaxDomainLevel, err = strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func cpusetStats(cpusFile, memsFile string) func(string, *Stats) error {
	return func(dir string, s *Stats) error {
		var err error
		if s.CPUSet.CPUs, err = readRangeList(dir, cpusFile); err != nil {
			return err
		}
		s.CPUSet.Mems, err = readRangeList(dir, memsFile)
		return err
	}
}

// readRangeList parses a cpuset list such as "0-3,8".
func readRangeList(dir, file string) ([]uint16, error) {
	data, err := os.ReadFile(filepath.Join(dir, file))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []uint16
	for _, part := range strings.Split(strings.TrimSpace(string(data)), ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.ParseUint(lo, 10, 16)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.ParseUint(hi, 10, 16)
		}
		if err1 != nil || err2 != nil || b < a {
			return nil, fmt.Errorf("parse %s: bad range %q", file, part)
		}
		for i := a; i <= b; i++ {
			out = append(out, uint16(i))
		}
	}
	return out, nil
}

func pidsStats(dir string, s *Stats) error {
	if err := readUints(dir, map[string]*uint64{"pids.current": &s.Pids.Current, "pids.max": &s.Pids.Limit}); err != nil {
		return err
	}
	if s.Pids.Limit == ^uint64(0) {
		s.Pids.Limit = 0 // "max": no limit
	}
	return nil
}

// hugetlbStats reads hugetlb.<size>.* for every page size the cgroup has,
// naming the limit file's suffix (v1 "limit_in_bytes", v2 "max").
func hugetlbStats(limitSuffix string) func(string, *Stats) error {
	return func(dir string, s *Stats) error {
		matches, err := filepath.Glob(filepath.Join(dir, "hugetlb.*."+limitSuffix))
		if err != nil {
			return err
		}
		for _, path := range matches {
			size := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "hugetlb."), "."+limitSuffix)
			if strings.Contains(size, ".") {
				continue // hugetlb.2MB.rsvd.*
			}
			h, err := hugetlbSize(dir, size, limitSuffix == "max")
			if err != nil {
				return err
			}
			s.Hugetlb[size] = h
		}
		return nil
	}
}

func hugetlbSize(dir, size string, v2 bool) (HugetlbStats, error) {
	var h HugetlbStats
	p := "hugetlb." + size + "."
	if !v2 {
		err := readUints(dir, map[string]*uint64{p + "usage_in_bytes": &h.Usage,
			p + "max_usage_in_bytes": &h.Max, p + "failcnt": &h.Failcnt})
		return h, err
	}
	if err := readUints(dir, map[string]*uint64{p + "current": &h.Usage}); err != nil {
		return h, err
	}
	ev, err := readKeyed(dir, p+"events")
	h.Failcnt = ev["max"]
	return h, err
}
