package cgroups

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const unlimitedV1 = "9223372036854771712"

func v1MemoryFiles(limit, memsw string) map[string]map[string]string {
	return map[string]map[string]string{"memory": {
		"memory.limit_in_bytes": limit, "memory.memsw.limit_in_bytes": memsw,
		"memory.soft_limit_in_bytes": unlimitedV1, "memory.swappiness": "60",
		"memory.oom_control":   "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
		"memory.use_hierarchy": "1", "memory.usage_in_bytes": "4096",
	}}
}

// TestMemoryV1 checks the files and the order of writes for memory limits
// on cgroup v1: memsw is memory+swap and must never be below the limit, so
// when raising it goes first and when lowering it goes last.
func TestMemoryV1(t *testing.T) {
	tests := []struct {
		name         string
		limit, memsw string // current values
		mem          specs.LinuxMemory
		want         []string
	}{
		{"raise both", "104857600", "104857600", specs.LinuxMemory{Limit: i64(200 << 20), Swap: i64(300 << 20)},
			[]string{"memory/memory.memsw.limit_in_bytes=314572800", "memory/memory.limit_in_bytes=209715200"}},
		{"lower both", "209715200", "314572800", specs.LinuxMemory{Limit: i64(50 << 20), Swap: i64(60 << 20)},
			[]string{"memory/memory.limit_in_bytes=52428800", "memory/memory.memsw.limit_in_bytes=62914560"}},
		{"from unlimited", unlimitedV1, unlimitedV1, specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(64 << 20)},
			[]string{"memory/memory.limit_in_bytes=67108864", "memory/memory.memsw.limit_in_bytes=67108864"}},
		{"unlimited memory means unlimited swap", "104857600", "104857600", specs.LinuxMemory{Limit: i64(-1)},
			[]string{"memory/memory.memsw.limit_in_bytes=-1", "memory/memory.limit_in_bytes=-1"}},
		{"limit alone", unlimitedV1, unlimitedV1, specs.LinuxMemory{Limit: i64(1 << 20)},
			[]string{"memory/memory.limit_in_bytes=1048576"}},
		{"zero is unset", unlimitedV1, unlimitedV1, specs.LinuxMemory{Limit: i64(0), Swap: i64(0), Reservation: i64(0)}, nil},
		{"the rest", unlimitedV1, unlimitedV1, specs.LinuxMemory{Reservation: i64(1 << 20), DisableOOMKiller: boolp(true),
			Swappiness: u64(10), UseHierarchy: boolp(true),
			//lint:ignore SA1019 a kernel limit must be ignored, not applied.
			Kernel: i64(1 << 20)},
			[]string{"memory/memory.soft_limit_in_bytes=1048576", "memory/memory.oom_control=1",
				"memory/memory.swappiness=10", "memory/memory.use_hierarchy=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeV1(t, v1MemoryFiles(tt.limit, tt.memsw))
			mem := tt.mem
			if err := f.m.Set(&specs.LinuxResources{Memory: &mem}); err != nil {
				t.Fatal(err)
			}
			f.checkWrites(tt.want...)
		})
	}
}

func TestMemoryV1Errors(t *testing.T) {
	t.Run("swap without swap accounting", func(t *testing.T) {
		files := v1MemoryFiles(unlimitedV1, "")
		delete(files["memory"], "memory.memsw.limit_in_bytes")
		f := newFakeV1(t, files)
		err := f.m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(100), Swap: i64(200)}})
		wantErr(t, err, "linux.resources.memory.swap 200", "swap accounting")
		f.checkWrites()
		// Swap equal to the limit asks for no swap: fine without accounting.
		if err := f.m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(100), Swap: i64(100)}}); err != nil {
			t.Fatal(err)
		}
		f.checkWrites("memory/memory.limit_in_bytes=100")
	})
	t.Run("swappiness out of range", func(t *testing.T) {
		f := newFakeV1(t, v1MemoryFiles(unlimitedV1, unlimitedV1))
		err := f.m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64(101)}})
		wantErr(t, err, "linux.resources.memory.swappiness 101", "0-100")
	})
	t.Run("kernel refuses", func(t *testing.T) {
		f := newFakeV1(t, v1MemoryFiles(unlimitedV1, unlimitedV1))
		f.failAlways["memory.limit_in_bytes"] = unix.EINVAL
		err := f.m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1024)}})
		wantErr(t, err)
		if got, want := err.Error(), "linux.resources.memory.limit 1024: write memory.limit_in_bytes: invalid argument"; got != want {
			t.Errorf("error %q, want %q", got, want)
		}
	})
	t.Run("busy names the usage", func(t *testing.T) {
		f := newFakeV1(t, v1MemoryFiles(unlimitedV1, unlimitedV1))
		f.failAlways["memory.limit_in_bytes"] = unix.EBUSY
		err := f.m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1024)}})
		wantErr(t, err, "device or resource busy", "current usage 4096 bytes")
	})
	t.Run("check before update", func(t *testing.T) {
		f := newFakeV1(t, v1MemoryFiles(unlimitedV1, unlimitedV1))
		err := f.m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1024), CheckBeforeUpdate: boolp(true)}})
		wantErr(t, err, "linux.resources.memory.limit 1024", "below current usage 4096")
		f.checkWrites()
	})
}

// TestMemoryV2 checks the swap arithmetic: the spec's swap is memory+swap,
// memory.swap.max is swap alone.
func TestMemoryV2(t *testing.T) {
	tests := []struct {
		name string
		mem  specs.LinuxMemory
		want []string
		err  string
	}{
		{"limit and swap", specs.LinuxMemory{Limit: i64(100 << 20), Swap: i64(300 << 20)},
			[]string{"v2/memory.swap.max=209715200", "v2/memory.max=104857600"}, ""},
		{"swap equal to limit disables swap", specs.LinuxMemory{Limit: i64(100 << 20), Swap: i64(100 << 20)},
			[]string{"v2/memory.swap.max=0", "v2/memory.max=104857600"}, ""},
		{"unlimited", specs.LinuxMemory{Limit: i64(-1)}, []string{"v2/memory.swap.max=max", "v2/memory.max=max"}, ""},
		{"unlimited swap", specs.LinuxMemory{Limit: i64(1 << 20), Swap: i64(-1)},
			[]string{"v2/memory.swap.max=max", "v2/memory.max=1048576"}, ""},
		{"limit alone", specs.LinuxMemory{Limit: i64(1 << 20)}, []string{"v2/memory.max=1048576"}, ""},
		{"reservation", specs.LinuxMemory{Reservation: i64(1 << 20)}, []string{"v2/memory.low=1048576"}, ""},
		{"v1-only settings ignored", specs.LinuxMemory{Swappiness: u64(10), DisableOOMKiller: boolp(true)}, nil, ""},
		{"swap below limit", specs.LinuxMemory{Limit: i64(200), Swap: i64(100)}, nil, "linux.resources.memory.swap 100"},
		{"swap without limit", specs.LinuxMemory{Swap: i64(100)}, nil, "needs a memory limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeV2(t, map[string]string{"cgroup.controllers": "cpu io memory pids",
				"memory.max": "max", "memory.swap.max": "max", "memory.low": "0", "memory.current": "0"})
			mem := tt.mem
			err := f.m.Set(&specs.LinuxResources{Memory: &mem})
			if tt.err != "" {
				wantErr(t, err, tt.err)
			} else if err != nil {
				t.Fatal(err)
			}
			f.checkWrites(tt.want...)
		})
	}
}

func TestMemoryV2NoSwapFile(t *testing.T) {
	f := newFakeV2(t, map[string]string{"cgroup.controllers": "memory", "memory.max": "max"})
	if err := f.m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1)}}); err != nil {
		t.Fatal(err)
	}
	f.checkWrites("v2/memory.max=max")
	err := f.m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(100), Swap: i64(300)}})
	wantErr(t, err, "swap accounting is not enabled")
}
