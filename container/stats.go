package container

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/corral-dev/corral/errdefs"
	"github.com/moby/moby/api/types/container"
)

// StatsInput is what Stats turns into one sample of GET /containers/{id}/stats.
type StatsInput struct {
	// Sample is one stats event of the runtime in runc's `events --stats`
	// format ({"type":"stats","id":...,"data":{...}}), as the monitor's
	// Client.Stats answers it. The bare data object is accepted too.
	Sample json.RawMessage
	// ID is the container's ID; Name its name, with or without the "/".
	ID, Name string
	// Pid is the container's init on the host: the interfaces of its
	// network namespace are reported under networks. 0 reports none.
	Pid int
	// NoNetworks reports no interfaces although Pid is set, as dockerd
	// does for --network host or none and NetworkDisabled: the namespace
	// is then the host's or holds only lo.
	NoNetworks bool
	// Prev is the previous sample of this container, or nil: its read time
	// and CPU stats become preread and precpu_stats, from which the docker
	// CLI computes CPU %.
	Prev *container.StatsResponse
	// Read is when Sample was taken; zero means now.
	Read time.Time
	// HostRoot is where the host's /proc and /sys are; "" means "/".
	// Tests point it at fixtures.
	HostRoot string
}

// Stats turns one runtime sample into the Engine API's StatsResponse as
// dockerd fills it, on cgroup v1 and v2 alike: the cgroup's counters, the
// host's CPU time (system_cpu_usage, online_cpus from /proc/stat), the
// memory limit capped at the host's memory (so an unlimited container
// shows the host's), the interfaces of the container's network namespace
// (/proc/<pid>/net/dev) and Prev's CPU stats as precpu_stats. The cgroup
// version is read from the sample (memory.stat's keys, per-CPU usage) and
// only when the sample cannot tell, from the host.
//
// One call reads three small files of /proc; it is cheap enough to poll
// every second for many containers. A container whose init is gone gives
// an errdefs.NotFound error.
func Stats(in StatsInput) (container.StatsResponse, error) {
	root := in.HostRoot
	if root == "" {
		root = "/"
	}
	d, err := decodeSample(in.Sample)
	if err != nil {
		return container.StatsResponse{}, err
	}
	s := container.StatsResponse{ID: in.ID, Name: slashed(in.Name), OSType: "linux", Read: in.Read}
	if s.Read.IsZero() {
		s.Read = time.Now().UTC()
	}
	if in.Prev != nil {
		s.PreRead, s.PreCPUStats = in.Prev.Read, in.Prev.CPUStats
	}
	v2 := d.cgroupV2(root)
	s.CPUStats = d.cpuStats(v2)
	s.BlkioStats = d.blkioStats(v2)
	s.PidsStats = d.pidsStats(v2)
	if s.MemoryStats, err = d.memoryStats(v2, root); err != nil {
		return container.StatsResponse{}, err
	}
	if s.CPUStats.SystemUsage, s.CPUStats.OnlineCPUs, err = readSystemCPU(root); err != nil {
		return container.StatsResponse{}, err
	}
	if in.Pid > 0 && !in.NoNetworks {
		if s.Networks, err = readNetDev(root, in.Pid); err != nil {
			return container.StatsResponse{}, err
		}
	}
	return s, nil
}

// runtimeSample is the part of a runtime stats event Stats uses; the JSON names
// are runc's (types/events.go).
type runtimeSample struct {
	CPU struct {
		Usage struct {
			Total  uint64   `json:"total"`
			Percpu []uint64 `json:"percpu"`
			Kernel uint64   `json:"kernel"`
			User   uint64   `json:"user"`
		} `json:"usage"`
		Throttling struct {
			Periods          uint64 `json:"periods"`
			ThrottledPeriods uint64 `json:"throttledPeriods"`
			ThrottledTime    uint64 `json:"throttledTime"`
		} `json:"throttling"`
	} `json:"cpu"`
	Memory struct {
		Usage struct {
			Limit   uint64 `json:"limit"`
			Usage   uint64 `json:"usage"`
			Max     uint64 `json:"max"`
			Failcnt uint64 `json:"failcnt"`
		} `json:"usage"`
		Raw map[string]uint64 `json:"raw"`
	} `json:"memory"`
	Pids struct {
		Current uint64 `json:"current"`
		Limit   uint64 `json:"limit"`
	} `json:"pids"`
	Blkio struct {
		ServiceBytes []container.BlkioStatEntry `json:"ioServiceBytesRecursive"`
		Serviced     []container.BlkioStatEntry `json:"ioServicedRecursive"`
		Queued       []container.BlkioStatEntry `json:"ioQueueRecursive"`
		ServiceTime  []container.BlkioStatEntry `json:"ioServiceTimeRecursive"`
		WaitTime     []container.BlkioStatEntry `json:"ioWaitTimeRecursive"`
		Merged       []container.BlkioStatEntry `json:"ioMergedRecursive"`
		Time         []container.BlkioStatEntry `json:"ioTimeRecursive"`
		Sectors      []container.BlkioStatEntry `json:"sectorsRecursive"`
	} `json:"blkio"`
}

// decodeSample reads a stats event, or its bare data object.
func decodeSample(raw json.RawMessage) (*runtimeSample, error) {
	var ev struct {
		Type string         `json:"type"`
		Data *runtimeSample `json:"data"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("decode stats sample: %w", err)
	}
	switch {
	case ev.Type == "stats" && ev.Data != nil:
		return ev.Data, nil
	case ev.Type == "stats":
		return nil, errors.New("decode stats sample: no data")
	case ev.Type != "":
		return nil, fmt.Errorf("decode stats sample: event of type %q", ev.Type)
	}
	d := &runtimeSample{}
	if err := json.Unmarshal(raw, d); err != nil {
		return nil, fmt.Errorf("decode stats sample: %w", err)
	}
	return d, nil
}

// cgroupV2 tells the hierarchy the sample was read from: v2's memory.stat
// has "anon", v1's "cache"; only v1 counts CPU time per CPU. A sample
// with neither leaves it to the host: v2 when /sys/fs/cgroup is unified.
func (d *runtimeSample) cgroupV2(root string) bool {
	if _, ok := d.Memory.Raw["anon"]; ok {
		return true
	}
	if _, ok := d.Memory.Raw["cache"]; ok || len(d.CPU.Usage.Percpu) > 0 {
		return false
	}
	_, err := os.Stat(filepath.Join(root, "sys/fs/cgroup/cgroup.controllers"))
	return err == nil
}

func (d *runtimeSample) cpuStats(v2 bool) container.CPUStats {
	u, t := d.CPU.Usage, d.CPU.Throttling
	cs := container.CPUStats{
		CPUUsage: container.CPUUsage{TotalUsage: u.Total, PercpuUsage: u.Percpu,
			UsageInKernelmode: u.Kernel, UsageInUsermode: u.User},
		ThrottlingData: container.ThrottlingData{Periods: t.Periods,
			ThrottledPeriods: t.ThrottledPeriods, ThrottledTime: t.ThrottledTime},
	}
	if v2 {
		cs.CPUUsage.PercpuUsage = nil // dockerd has no per-CPU usage on v2
	}
	return cs
}

// blkioStats copies the v1 lists, each as a list even when empty; on v2,
// as dockerd, only the bytes, with the operations in lower case.
func (d *runtimeSample) blkioStats(v2 bool) container.BlkioStats {
	b := d.Blkio
	if v2 {
		var bytes []container.BlkioStatEntry
		for _, e := range b.ServiceBytes {
			e.Op = strings.ToLower(e.Op)
			bytes = append(bytes, e)
		}
		return container.BlkioStats{IoServiceBytesRecursive: bytes}
	}
	return container.BlkioStats{
		IoServiceBytesRecursive: list(b.ServiceBytes), IoServicedRecursive: list(b.Serviced),
		IoQueuedRecursive: list(b.Queued), IoServiceTimeRecursive: list(b.ServiceTime),
		IoWaitTimeRecursive: list(b.WaitTime), IoMergedRecursive: list(b.Merged),
		IoTimeRecursive: list(b.Time), SectorsRecursive: list(b.Sectors),
	}
}

// list makes a nil list an empty one, which JSON shows as [].
func list(es []container.BlkioStatEntry) []container.BlkioStatEntry {
	if es == nil {
		return []container.BlkioStatEntry{}
	}
	return es
}

// pidsStats: on v2 a pids.max of "max" reads as the largest number, as
// containerd reads it for dockerd; the runtime writes it as 0, which a
// cgroup with tasks (Current > 0) cannot mean otherwise.
func (d *runtimeSample) pidsStats(v2 bool) container.PidsStats {
	p := container.PidsStats{Current: d.Pids.Current, Limit: d.Pids.Limit}
	if v2 && p.Current > 0 && p.Limit == 0 {
		p.Limit = math.MaxUint64
	}
	return p
}

// memoryStatsV1 are the memory.stat keys dockerd reports on cgroup v1.
var memoryStatsV1 = []string{
	"cache", "rss", "rss_huge", "mapped_file", "dirty", "writeback", "pgpgin", "pgpgout",
	"pgfault", "pgmajfault", "inactive_anon", "active_anon", "inactive_file", "active_file",
	"unevictable", "hierarchical_memory_limit", "hierarchical_memsw_limit",
	"total_cache", "total_rss", "total_rss_huge", "total_mapped_file", "total_dirty",
	"total_writeback", "total_pgpgin", "total_pgpgout", "total_pgfault", "total_pgmajfault",
	"total_inactive_anon", "total_active_anon", "total_inactive_file", "total_active_file",
	"total_unevictable",
}

// memoryStatsV2 are the memory.stat keys dockerd reports on cgroup v2.
var memoryStatsV2 = []string{
	"anon", "file", "kernel_stack", "slab", "sock", "shmem", "file_mapped", "file_dirty",
	"file_writeback", "anon_thp", "inactive_anon", "active_anon", "inactive_file",
	"active_file", "unevictable", "slab_reclaimable", "slab_unreclaimable", "pgfault",
	"pgmajfault", "workingset_refault", "workingset_activate", "workingset_nodereclaim",
	"pgrefill", "pgscan", "pgsteal", "pgactivate", "pgdeactivate", "pglazyfree",
	"pglazyfreed", "thp_fault_alloc", "thp_collapse_alloc",
}

// memoryStats fills usage, limit and dockerd's memory.stat keys; a sample
// without memory.stat (no memory controller) gives none. On v2 dockerd
// reports neither max_usage nor failcnt from the sample: its failcnt is
// memory.events' "oom", which the runtime's sample does not carry.
func (d *runtimeSample) memoryStats(v2 bool, root string) (container.MemoryStats, error) {
	if d.Memory.Raw == nil {
		return container.MemoryStats{}, nil
	}
	u := d.Memory.Usage
	m := container.MemoryStats{Usage: u.Usage, Limit: u.Limit, MaxUsage: u.Max, Failcnt: u.Failcnt}
	keys := memoryStatsV1
	if v2 {
		keys, m.MaxUsage, m.Failcnt = memoryStatsV2, 0, 0
	}
	m.Stats = make(map[string]uint64, len(keys))
	for _, k := range keys {
		m.Stats[k] = d.Memory.Raw[k]
	}
	total, err := readMemTotal(root)
	if err != nil {
		return container.MemoryStats{}, err
	}
	if total > 0 && m.Limit > total {
		m.Limit = total // no limit: the host's memory
	}
	return m, nil
}

// clockTicks is USER_HZ, the unit of /proc/stat: 100 on every Linux.
const clockTicks = 100

// readSystemCPU reads the host's CPU time from the "cpu" line of /proc/stat
// as dockerd sums it (user, nice, system, idle, iowait, irq, softirq), in
// nanoseconds, and counts the "cpuN" lines as the online CPUs.
func readSystemCPU(root string) (uint64, uint32, error) {
	f, err := os.Open(filepath.Join(root, "proc/stat"))
	if err != nil {
		return 0, 0, fmt.Errorf("read host cpu time: %w", err)
	}
	defer f.Close()
	var ticks uint64
	var cpus uint32
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		name, rest, _ := strings.Cut(line, " ")
		switch {
		case name == "cpu":
			if ticks, err = sumTicks(rest); err != nil {
				return 0, 0, fmt.Errorf("read host cpu time: %w", err)
			}
		case strings.HasPrefix(name, "cpu") && len(name) > 3 && name[3] >= '0' && name[3] <= '9':
			cpus++
		default:
			// the cpu lines come first; what follows is long (intr)
			return ticks * (1e9 / clockTicks), cpus, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("read host cpu time: %w", err)
	}
	return ticks * (1e9 / clockTicks), cpus, nil
}

// sumTicks adds the first seven counters of a /proc/stat cpu line.
func sumTicks(fields string) (uint64, error) {
	f := strings.Fields(fields)
	if len(f) < 7 {
		return 0, fmt.Errorf("cpu line of /proc/stat has %d fields", len(f))
	}
	var sum uint64
	for _, s := range f[:7] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu line of /proc/stat: %w", err)
		}
		sum += v
	}
	return sum, nil
}

// readMemTotal reads MemTotal of /proc/meminfo, in bytes.
func readMemTotal(root string) (uint64, error) {
	f, err := os.Open(filepath.Join(root, "proc/meminfo"))
	if err != nil {
		return 0, fmt.Errorf("read host memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read host memory: %w", err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read host memory: %w", err)
	}
	return 0, errors.New("read host memory: no MemTotal in /proc/meminfo")
}

// hiddenLinks are the interfaces dockerd does not report: lo, and the
// fallback tunnel devices the kernel puts in every network namespace when
// their modules are loaded; dockerd reports only the interfaces it made.
var hiddenLinks = map[string]bool{
	"lo": true, "tunl0": true, "gre0": true, "gretap0": true, "erspan0": true, "ip_vti0": true,
	"ip6_vti0": true, "sit0": true, "ip6tnl0": true, "ip6gre0": true,
}

// readNetDev reads the counters of the interfaces of pid's network
// namespace from /proc/<pid>/net/dev. A pid that is gone is NotFound.
func readNetDev(root string, pid int) (map[string]container.NetworkStats, error) {
	data, err := os.ReadFile(filepath.Join(root, "proc", strconv.Itoa(pid), "net/dev"))
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return nil, errdefs.NotFound(fmt.Errorf("read network stats of pid %d: %w", pid, err))
	}
	if err != nil {
		return nil, fmt.Errorf("read network stats of pid %d: %w", pid, err)
	}
	nets := map[string]container.NetworkStats{}
	for _, line := range strings.Split(string(data), "\n") {
		name, counters, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || hiddenLinks[name] || strings.Contains(name, "|") {
			continue // the two header lines, lo
		}
		ns, err := netCounters(counters)
		if err != nil {
			return nil, fmt.Errorf("read network stats of pid %d: %s: %w", pid, name, err)
		}
		nets[name] = ns
	}
	return nets, nil
}

// netCounters parses the 16 counters of a net/dev line: bytes packets errs
// drop fifo frame compressed multicast received, then bytes packets errs
// drop fifo colls carrier compressed sent.
func netCounters(s string) (container.NetworkStats, error) {
	f := strings.Fields(s)
	if len(f) < 16 {
		return container.NetworkStats{}, fmt.Errorf("%d counters, want 16", len(f))
	}
	var v [16]uint64
	for i := range v {
		n, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return container.NetworkStats{}, err
		}
		v[i] = n
	}
	return container.NetworkStats{RxBytes: v[0], RxPackets: v[1], RxErrors: v[2], RxDropped: v[3],
		TxBytes: v[8], TxPackets: v[9], TxErrors: v[10], TxDropped: v[11]}, nil
}
