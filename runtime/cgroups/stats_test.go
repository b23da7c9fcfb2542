package cgroups

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestStatsFakeV1(t *testing.T) {
	f := newFakeV1(t, map[string]map[string]string{
		"cpu": {"cpu.stat": "nr_periods 10\nnr_throttled 3\nthrottled_time 5000\n"},
		"cpuacct": {"cpuacct.usage": "900", "cpuacct.usage_percpu": "400 500 \n", "cpuacct.usage_percpu_user": "300 300",
			"cpuacct.usage_percpu_sys": "100 200", "cpuacct.usage_user": "600", "cpuacct.usage_sys": "300"},
		"cpuset": {"cpuset.effective_cpus": "0-1,3\n", "cpuset.effective_mems": "0\n",
			"cpuset.sched_load_balance": "1\n", "cpuset.sched_relax_domain_level": "-1\n"},
		"memory": {"memory.stat": "cache 4096\nrss 8192\n", "memory.usage_in_bytes": "12288", "memory.max_usage_in_bytes": "20480",
			"memory.limit_in_bytes": "1048576", "memory.failcnt": "2", "memory.memsw.usage_in_bytes": "12288"},
		"pids":    {"pids.current": "3", "pids.max": "max"},
		"blkio":   {"blkio.throttle.io_serviced_recursive": "253:0 Read 4\n253:0 Write 2\nTotal 6\n", "blkio.throttle.io_service_bytes_recursive": "253:0 Read 16384\nTotal 16384\n"},
		"hugetlb": {"hugetlb.2MB.limit_in_bytes": "0", "hugetlb.2MB.usage_in_bytes": "2097152", "hugetlb.2MB.failcnt": "1", "hugetlb.2MB.rsvd.limit_in_bytes": "0"},
	})
	st, err := f.m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := &Stats{
		CPU: CPUStats{Usage: CPUUsage{Total: 900, Percpu: []uint64{400, 500}, PercpuUser: []uint64{300, 300},
			PercpuKernel: []uint64{100, 200}, User: 600, Kernel: 300},
			Throttling: Throttling{Periods: 10, ThrottledPeriods: 3, ThrottledTime: 5000}},
		CPUSet: CPUSetStats{CPUs: []uint16{0, 1, 3}, Mems: []uint16{0}, SchedLoadBalance: 1, SchedRelaxDomainLevel: -1},
		Memory: MemoryStats{Cache: 4096, Usage: MemoryEntry{Limit: 1048576, Usage: 12288, Max: 20480, Failcnt: 2},
			Swap: MemoryEntry{Usage: 12288}, Raw: map[string]uint64{"cache": 4096, "rss": 8192}},
		Pids: PidsStats{Current: 3},
		Blkio: BlkioStats{IoServicedRecursive: []BlkioEntry{{253, 0, "Read", 4}, {253, 0, "Write", 2}},
			IoServiceBytesRecursive: []BlkioEntry{{253, 0, "Read", 16384}}},
		Hugetlb: map[string]HugetlbStats{"2MB": {Usage: 2097152, Failcnt: 1}},
	}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("stats\n got %+v\nwant %+v", st, want)
	}
}

func TestStatsFakeV2(t *testing.T) {
	f := newFakeV2(t, map[string]string{
		"cpu.stat":    "usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 7\nnr_throttled 1\nthrottled_usec 2\n",
		"memory.stat": "anon 100\nfile 200\n", "memory.current": "300", "memory.peak": "400", "memory.max": "1000",
		"memory.events": "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n", "memory.swap.current": "50", "memory.swap.max": "max",
		"pids.current": "2", "pids.max": "10",
		"io.stat": "253:0 rbytes=1024 wbytes=2048 rios=1 wios=2 dbytes=0 dios=0\n",
	})
	st, err := f.m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := &Stats{
		CPU: CPUStats{Usage: CPUUsage{Total: 10000, User: 6000, Kernel: 4000},
			Throttling: Throttling{Periods: 7, ThrottledPeriods: 1, ThrottledTime: 2000}},
		Memory: MemoryStats{Cache: 200, Usage: MemoryEntry{Limit: 1000, Usage: 300, Max: 400, Failcnt: 5},
			Swap: MemoryEntry{Limit: ^uint64(0), Usage: 350}, Raw: map[string]uint64{"anon": 100, "file": 200}},
		Pids: PidsStats{Current: 2, Limit: 10},
		Blkio: BlkioStats{IoServiceBytesRecursive: []BlkioEntry{{253, 0, "Read", 1024}, {253, 0, "Write", 2048}},
			IoServicedRecursive: []BlkioEntry{{253, 0, "Read", 1}, {253, 0, "Write", 2}}},
		Hugetlb: map[string]HugetlbStats{},
	}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("stats\n got %+v\nwant %+v", st, want)
	}
}

// TestStatsJSON checks the JSON names are runc's.
func TestStatsJSON(t *testing.T) {
	b, err := json.Marshal(&Stats{Memory: MemoryStats{Usage: MemoryEntry{Usage: 1}}, Pids: PidsStats{Current: 1},
		Blkio: BlkioStats{IoServicedRecursive: []BlkioEntry{{1, 2, "Read", 3}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{`"cpu":{"usage":{"kernel":0,"user":0},"throttling":{}}`,
		`"memory":{"usage":{"limit":0,"usage":1,"failcnt":0}`, `"pids":{"current":1}`,
		`"blkio":{"ioServicedRecursive":[{"major":1,"minor":2,"op":"Read","value":3}]}`, `"hugetlb":null`} {
		if !strings.Contains(string(b), part) {
			t.Errorf("%s\ndoes not contain %s", b, part)
		}
	}
}

// TestOOMEventsV2 drives the inotify watcher with a fake memory.events.
func TestOOMEventsV2(t *testing.T) {
	f := newFakeV2(t, map[string]string{"memory.events": "oom 0\noom_kill 0\n", "cgroup.events": "populated 1\nfrozen 0\n"})
	dir := f.m.Paths()[UnifiedKey]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch, err := f.m.OOMEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	write := func(file, content string) {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("memory.events", "oom 1\noom_kill 0\n") // an OOM without a kill: no event
	write("memory.events", "oom 2\noom_kill 2\n")
	for i := 0; i < 2; i++ {
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("event %d missing", i+1)
		}
	}
	write("cgroup.events", "populated 0\nfrozen 0\n")
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
			t.Error("an extra OOM event")
		case <-ctx.Done():
			t.Fatal("the channel stayed open after the cgroup emptied")
		}
	}
}

func TestOOMEventsNotMounted(t *testing.T) {
	f := newFakeV1(t, map[string]map[string]string{"pids": {}})
	if _, err := f.m.OOMEvents(context.Background()); err == nil || !strings.Contains(err.Error(), "memory controller not mounted") {
		t.Errorf("OOMEvents without memory: %v", err)
	}
}

// TestEnableControllers checks which subtree_control files get which
// controllers on the way down to a new v2 cgroup.
func TestEnableControllers(t *testing.T) {
	root := t.TempDir()
	mid := filepath.Join(root, "a")
	dir := filepath.Join(mid, "b", "c1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		root + "/cgroup.controllers": "cpu memory pids", root + "/cgroup.subtree_control": "memory",
		mid + "/cgroup.controllers": "memory pids", mid + "/cgroup.subtree_control": "",
		mid + "/b/cgroup.controllers": "pids", mid + "/b/cgroup.subtree_control": "",
	}
	for p, c := range files {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var writes []string
	enableControllers(root, dir, func(path, data string) error {
		rel, _ := filepath.Rel(root, path)
		writes = append(writes, rel+"="+data)
		return nil
	})
	want := "cgroup.subtree_control=+cpu cgroup.subtree_control=+pids a/cgroup.subtree_control=+memory " +
		"a/cgroup.subtree_control=+pids a/b/cgroup.subtree_control=+pids"
	if got := strings.Join(writes, " "); got != want {
		t.Errorf("writes %s\nwant %s", got, want)
	}
}
