package cgroups

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// userHZ is the unit of cpuacct.stat (USER_HZ, 100 on Linux everywhere).
const userHZ = 100

// cpuStatsV1 reads CFS throttling from cpu.stat.
func cpuStatsV1(dir string, s *Stats) error {
	st, err := readKeyed(dir, "cpu.stat")
	if err != nil {
		return err
	}
	s.CPU.Throttling = Throttling{Periods: st["nr_periods"], ThrottledPeriods: st["nr_throttled"],
		ThrottledTime: st["throttled_time"]}
	return nil
}

// cpuacctStatsV1 reads CPU time: total and per CPU in ns, user and system
// from the ns files where the kernel has them, else from cpuacct.stat.
func cpuacctStatsV1(dir string, s *Stats) error {
	u := &s.CPU.Usage
	var err error
	if u.Total, err = readOptUint(dir, "cpuacct.usage"); err != nil {
		return err
	}
	for file, dst := range map[string]*[]uint64{"cpuacct.usage_percpu": &u.Percpu,
		"cpuacct.usage_percpu_sys": &u.PercpuKernel, "cpuacct.usage_percpu_user": &u.PercpuUser} {
		if *dst, err = readList(dir, file); err != nil {
			return err
		}
	}
	if exists(dir, "cpuacct.usage_user") {
		return readUints(dir, map[string]*uint64{"cpuacct.usage_user": &u.User, "cpuacct.usage_sys": &u.Kernel})
	}
	st, err := readKeyed(dir, "cpuacct.stat")
	u.User, u.Kernel = st["user"]*(1e9/userHZ), st["system"]*(1e9/userHZ)
	return err
}

// cpuStatsV2 reads cpu.stat (microseconds) into nanoseconds.
func cpuStatsV2(dir string, s *Stats) error {
	st, err := readKeyed(dir, "cpu.stat")
	if err != nil {
		return err
	}
	s.CPU.Usage.Total = st["usage_usec"] * 1000
	s.CPU.Usage.User = st["user_usec"] * 1000
	s.CPU.Usage.Kernel = st["system_usec"] * 1000
	s.CPU.Throttling = Throttling{Periods: st["nr_periods"], ThrottledPeriods: st["nr_throttled"],
		ThrottledTime: st["throttled_usec"] * 1000}
	return nil
}

// memoryStatsV1 reads memory.stat and the usage files of memory, memsw
// (memory+swap), kmem and kmem.tcp.
func memoryStatsV1(dir string, s *Stats) error {
	raw, err := readKeyed(dir, "memory.stat")
	if err != nil {
		return err
	}
	s.Memory.Raw, s.Memory.Cache = raw, raw["cache"]
	for prefix, e := range map[string]*MemoryEntry{"memory.": &s.Memory.Usage, "memory.memsw.": &s.Memory.Swap,
		"memory.kmem.": &s.Memory.Kernel, "memory.kmem.tcp.": &s.Memory.KernelTCP} {
		err := readUints(dir, map[string]*uint64{prefix + "usage_in_bytes": &e.Usage,
			prefix + "max_usage_in_bytes": &e.Max, prefix + "limit_in_bytes": &e.Limit, prefix + "failcnt": &e.Failcnt})
		if err != nil {
			return err
		}
	}
	return nil
}

// memoryStatsV2 reads memory.stat, memory.current/peak/max and the swap
// files; Swap is reported as memory+swap, as runc does.
func memoryStatsV2(dir string, s *Stats) error {
	if !exists(dir, "memory.current") {
		return nil // memory controller not enabled
	}
	raw, err := readKeyed(dir, "memory.stat")
	if err != nil {
		return err
	}
	s.Memory.Raw, s.Memory.Cache = raw, raw["file"]
	u, sw := &s.Memory.Usage, &s.Memory.Swap
	err = readUints(dir, map[string]*uint64{"memory.current": &u.Usage, "memory.peak": &u.Max, "memory.max": &u.Limit,
		"memory.swap.current": &sw.Usage, "memory.swap.peak": &sw.Max, "memory.swap.max": &sw.Limit})
	if err != nil {
		return err
	}
	for file, e := range map[string]*MemoryEntry{"memory.events": u, "memory.swap.events": sw} {
		ev, err := readKeyed(dir, file)
		if err != nil {
			return err
		}
		e.Failcnt = ev["max"]
	}
	sw.Usage += u.Usage
	if sw.Limit != ^uint64(0) && u.Limit != ^uint64(0) {
		sw.Limit += u.Limit
	}
	return nil
}

// blkioStatsV1 reads the recursive byte and operation counters from the
// first policy that has any: CFQ, BFQ, then the throttling layer, which
// counts every I/O.
func blkioStatsV1(dir string, s *Stats) error {
	for _, prefix := range []string{"blkio.", "blkio.bfq.", "blkio.throttle."} {
		serviced, err := readBlkio(dir, prefix+"io_serviced_recursive")
		if err != nil {
			return err
		}
		if len(serviced) == 0 && prefix != "blkio.throttle." {
			continue
		}
		bytes, err := readBlkio(dir, prefix+"io_service_bytes_recursive")
		s.Blkio = BlkioStats{IoServiceBytesRecursive: bytes, IoServicedRecursive: serviced}
		return err
	}
	return nil
}

// readBlkio parses "MAJ:MIN Op VALUE" lines; "Total N" lines are skipped.
func readBlkio(dir, file string) ([]BlkioEntry, error) {
	f, err := os.Open(filepath.Join(dir, file))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []BlkioEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			continue
		}
		e, ok := blkioEntry(fields[0], fields[1], fields[2])
		if ok {
			out = append(out, e)
		}
	}
	return out, sc.Err()
}

func blkioEntry(dev, op, value string) (BlkioEntry, bool) {
	maj, min, ok := strings.Cut(dev, ":")
	a, err1 := strconv.ParseUint(maj, 10, 64)
	b, err2 := strconv.ParseUint(min, 10, 64)
	v, err3 := strconv.ParseUint(value, 10, 64)
	if !ok || err1 != nil || err2 != nil || err3 != nil {
		return BlkioEntry{}, false
	}
	return BlkioEntry{Major: a, Minor: b, Op: op, Value: v}, true
}

// ioStatsV2 reads io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...").
func ioStatsV2(dir string, s *Stats) error {
	data, err := os.ReadFile(filepath.Join(dir, "io.stat"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			dst, op := ioStatKey(s, k)
			if dst == nil {
				continue
			}
			if e, ok := blkioEntry(f[0], op, v); ok {
				*dst = append(*dst, e)
			}
		}
	}
	return nil
}

// ioStatKey maps an io.stat key to the list and operation runc reports it as.
func ioStatKey(s *Stats, key string) (*[]BlkioEntry, string) {
	switch key {
	case "rbytes":
		return &s.Blkio.IoServiceBytesRecursive, "Read"
	case "wbytes":
		return &s.Blkio.IoServiceBytesRecursive, "Write"
	case "rios":
		return &s.Blkio.IoServicedRecursive, "Read"
	case "wios":
		return &s.Blkio.IoServicedRecursive, "Write"
	}
	return nil, ""
}
