package cgroups

import (
	"errors"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func v1CPUFiles() map[string]map[string]string {
	return map[string]map[string]string{
		"cpu": {"cpu.shares": "1024", "cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000",
			"cpu.cfs_burst_us": "0", "cpu.rt_period_us": "1000000", "cpu.rt_runtime_us": "0", "cpu.idle": "0"},
		"cpuset": {"cpuset.cpus": "0-1", "cpuset.mems": "0"},
		"pids":   {"pids.max": "max"},
	}
}

func TestCPUV1(t *testing.T) {
	f := newFakeV1(t, v1CPUFiles())
	err := f.m.Set(&specs.LinuxResources{
		CPU: &specs.LinuxCPU{Shares: u64(512), Quota: i64(50000), Period: u64(200000), Burst: u64(1000),
			RealtimeRuntime: i64(950000), RealtimePeriod: u64(1000000), Idle: i64(0), Cpus: "1", Mems: "0"},
		Pids: &specs.LinuxPids{Limit: i64(-1)},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.checkWrites("cpu/cpu.rt_period_us=1000000", "cpu/cpu.rt_runtime_us=950000", "cpu/cpu.shares=512",
		"cpu/cpu.idle=0", "cpu/cpu.cfs_period_us=200000", "cpu/cpu.cfs_burst_us=1000", "cpu/cpu.cfs_quota_us=50000",
		"cpuset/cpuset.cpus=1", "cpuset/cpuset.mems=0", "pids/pids.max=max")
}

// TestCPUV1PeriodRetried: a period the kernel refuses with the old quota is
// written again once the new quota is in place.
func TestCPUV1PeriodRetried(t *testing.T) {
	f := newFakeV1(t, v1CPUFiles())
	f.fail["cpu.cfs_period_us"] = []error{unix.EINVAL}
	err := f.m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(1000), Period: u64(10000)}})
	if err != nil {
		t.Fatal(err)
	}
	f.checkWrites("cpu/cpu.cfs_period_us=10000 (failed)", "cpu/cpu.cfs_quota_us=1000", "cpu/cpu.cfs_period_us=10000")
	// Without a quota to wait for, the refusal is final.
	f.writes = nil
	f.fail["cpu.cfs_period_us"] = []error{unix.EINVAL}
	err = f.m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64(10000)}})
	wantErr(t, err, "linux.resources.cpu.period 10000: write cpu.cfs_period_us: invalid argument")
}

func TestCPUV1SharesRange(t *testing.T) {
	f := newFakeV1(t, v1CPUFiles())
	for _, s := range []uint64{1, 262145} {
		err := f.m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(s)}})
		wantErr(t, err, "linux.resources.cpu.shares", "out of range 2-262144")
	}
	f.checkWrites()
}

func TestSharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{0: 0, 1: 1, 2: 1, 1024: 100, 262144: 10000, 300000: 10000, 512: 59, 2048: 174} {
		if got := SharesToWeight(shares); got != want {
			t.Errorf("SharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
}

func TestCPUV2(t *testing.T) {
	files := map[string]string{"cgroup.controllers": "cpu cpuset pids", "cpu.weight": "100",
		"cpu.max": "max 100000", "cpu.max.burst": "0", "cpu.idle": "0", "cpuset.cpus": "", "cpuset.mems": "", "pids.max": "max"}
	f := newFakeV2(t, files)
	err := f.m.Set(&specs.LinuxResources{
		CPU:  &specs.LinuxCPU{Shares: u64(1024), Quota: i64(50000), Burst: u64(10), Idle: i64(1), Cpus: "0", Mems: "0"},
		Pids: &specs.LinuxPids{Limit: i64(42)},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.checkWrites("v2/cpu.idle=1", "v2/cpu.weight=100", "v2/cpu.max.burst=10", "v2/cpu.max=50000 100000",
		"v2/cpuset.cpus=0", "v2/cpuset.mems=0", "v2/pids.max=42")
	// A period alone keeps the quota now in cpu.max; a quota of -1 lifts it.
	f.writes = nil
	if err := f.m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64(20000)}}); err != nil {
		t.Fatal(err)
	}
	if err := f.m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(-1)}}); err != nil {
		t.Fatal(err)
	}
	f.checkWrites("v2/cpu.max=50000 20000", "v2/cpu.max=max 20000")
}

func TestBlkioV1(t *testing.T) {
	f := newFakeV1(t, map[string]map[string]string{"blkio": {
		"blkio.bfq.weight": "100", "blkio.bfq.weight_device": "", "blkio.throttle.read_bps_device": "",
		"blkio.throttle.write_iops_device": "8:0 77\n"}})
	dev := specs.LinuxBlockIODevice{Major: 8, Minor: 0}
	err := f.m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
		Weight:                  u16(300),
		WeightDevice:            []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev, Weight: u16(200)}},
		ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: 1 << 20}},
		ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: 100}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	f.checkWrites("blkio/blkio.bfq.weight=300", "blkio/blkio.bfq.weight_device=8:0 200",
		"blkio/blkio.throttle.read_bps_device=8:0 1048576", "blkio/blkio.throttle.write_iops_device=8:0 100")
	// No weight file at all (this host's kernel): a clear error.
	g := newFakeV1(t, map[string]map[string]string{"blkio": {"blkio.throttle.read_bps_device": ""}})
	err = g.m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(300)}})
	wantErr(t, err, "linux.resources.blockIO.weight 300", "no blkio.weight")
	g.checkWrites()
}

func TestIOV2(t *testing.T) {
	f := newFakeV2(t, map[string]string{"cgroup.controllers": "io", "io.weight": "default 100\n", "io.max": ""})
	dev := specs.LinuxBlockIODevice{Major: 253, Minor: 1}
	err := f.m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
		Weight:                 u16(1000),
		WeightDevice:           []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev, Weight: u16(10)}},
		ThrottleWriteBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: 4096}},
		ThrottleReadIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: 9}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	f.checkWrites("v2/io.weight=10000", "v2/io.weight=253:1 1", "v2/io.max=253:1 wbps=4096", "v2/io.max=253:1 riops=9")
}

// TestNotMounted: a limit for a controller the container does not have
// fails before anything is written, naming the field and the controller.
func TestNotMounted(t *testing.T) {
	mem := &specs.LinuxMemory{Limit: i64(1 << 20)}
	tests := []struct {
		name  string
		res   specs.LinuxResources
		parts []string
	}{
		{"net_cls", specs.LinuxResources{Memory: mem, Network: &specs.LinuxNetwork{ClassID: u32(0x100001)}},
			[]string{"linux.resources.network.classID", "net_cls controller not mounted"}},
		{"net_prio", specs.LinuxResources{Memory: mem, Network: &specs.LinuxNetwork{
			Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 1}}}},
			[]string{"linux.resources.network.priorities", "net_prio controller not mounted"}},
		{"hugetlb", specs.LinuxResources{Memory: mem, HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}}},
			[]string{"linux.resources.hugepageLimits", "hugetlb controller not mounted"}},
		{"rdma", specs.LinuxResources{Memory: mem, Rdma: map[string]specs.LinuxRdma{"mlx4_0": {HcaHandles: u32(1)}}},
			[]string{"linux.resources.rdma", "rdma controller not mounted"}},
		{"unified", specs.LinuxResources{Memory: mem, Unified: map[string]string{"memory.high": "1000"}},
			[]string{`linux.resources.unified["memory.high"]`, "cgroup v2"}},
		{"cpu", specs.LinuxResources{Memory: mem, CPU: &specs.LinuxCPU{Shares: u64(100)}},
			[]string{"linux.resources.cpu", "cpu controller not mounted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeV1(t, v1MemoryFiles(unlimitedV1, unlimitedV1))
			res := tt.res
			err := f.m.Set(&res)
			wantErr(t, err, tt.parts...)
			if !errors.Is(err, ErrNotMounted) && tt.name != "unified" {
				t.Errorf("error %v is not ErrNotMounted", err)
			}
			f.checkWrites()
		})
	}
}

func TestNotEnabledV2(t *testing.T) {
	f := newFakeV2(t, map[string]string{"cgroup.controllers": "cpu pids", "memory.max": "max"})
	err := f.m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(5)},
		Memory: &specs.LinuxMemory{Limit: i64(1 << 20)}})
	wantErr(t, err, "linux.resources.memory", "memory controller not mounted", "cgroup.controllers")
	err = f.m.Set(&specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32(1)}})
	wantErr(t, err, "linux.resources.network.classID", "net_cls controller not mounted", "cgroup v2 has no net_cls")
	f.checkWrites()
}

// TestRollback: when a write fails, the limits written before it get their
// old values back, last first.
func TestRollback(t *testing.T) {
	files := v1MemoryFiles("104857600", "209715200")
	files["pids"] = map[string]string{"pids.max": "max"}
	files["cpu"] = map[string]string{"cpu.shares": "1024"}
	f := newFakeV1(t, files)
	f.failAlways["pids.max"] = unix.EINVAL
	err := f.m.Set(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(300 << 20), Swap: i64(400 << 20), DisableOOMKiller: boolp(true)},
		CPU:    &specs.LinuxCPU{Shares: u64(10)},
		Pids:   &specs.LinuxPids{Limit: i64(-5)},
	})
	wantErr(t, err, "linux.resources.pids.limit -5: write pids.max: invalid argument")
	f.checkWrites("memory/memory.memsw.limit_in_bytes=419430400", "memory/memory.limit_in_bytes=314572800",
		"memory/memory.oom_control=1", "cpu/cpu.shares=10", "pids/pids.max=max (failed)",
		"cpu/cpu.shares=1024", "memory/memory.oom_control=0",
		"memory/memory.limit_in_bytes=104857600", "memory/memory.memsw.limit_in_bytes=209715200")
}

func TestUnifiedV2(t *testing.T) {
	f := newFakeV2(t, map[string]string{"cgroup.controllers": "memory pids", "memory.high": "max", "pids.max": "max"})
	err := f.m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(10)},
		Unified: map[string]string{"memory.high": "1000000", "pids.max": "20"}})
	if err != nil {
		t.Fatal(err)
	}
	// Unified comes last and wins over pids.limit.
	f.checkWrites("v2/pids.max=10", "v2/memory.high=1000000", "v2/pids.max=20")
	for key, part := range map[string]string{
		"../../etc/passwd":  "not a cgroup v2 file name",
		"memory.high/x":     "not a cgroup v2 file name",
		"nodot":             "not a cgroup v2 file name",
		"cgroup.procs":      "not a resource limit",
		"io.max":            "io controller not mounted",
		"memory.nosuchfile": "no such file or directory",
	} {
		f.writes = nil
		err := f.m.Set(&specs.LinuxResources{Unified: map[string]string{key: "1"}})
		wantErr(t, err, "linux.resources.unified["+`"`+key+`"`+"]", part)
	}
}

func TestNetworkAndHugetlbV1(t *testing.T) {
	f := newFakeV1(t, map[string]map[string]string{
		"net_cls":  {"net_cls.classid": "0"},
		"net_prio": {"net_prio.ifpriomap": "lo 0\neth0 0\n"},
		"hugetlb":  {"hugetlb.2MB.limit_in_bytes": "0", "hugetlb.2MB.rsvd.limit_in_bytes": "0"},
	})
	err := f.m.Set(&specs.LinuxResources{
		Network:        &specs.LinuxNetwork{ClassID: u32(0x100001), Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 5}}},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.checkWrites("hugetlb/hugetlb.2MB.rsvd.limit_in_bytes=4194304", "hugetlb/hugetlb.2MB.limit_in_bytes=4194304",
		"net_cls/net_cls.classid=1048577", "net_prio/net_prio.ifpriomap=eth0 5")
	for _, ps := range []string{"../2MB", "2XB", ""} {
		err := f.m.Set(&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: ps, Limit: 1}}})
		wantErr(t, err, "linux.resources.hugepageLimits.pageSize")
	}
}

// dockerd sends blockIO.weight 0 when --blkio-weight is not given; like
// runc, that means "leave it", even where the kernel has no weight file.
func TestZeroBlkioWeightIsUnset(t *testing.T) {
	zero := uint16(0)
	if blkioRequested(&specs.LinuxBlockIO{Weight: &zero, LeafWeight: &zero}) {
		t.Fatal("weight 0 counted as a request")
	}
}
