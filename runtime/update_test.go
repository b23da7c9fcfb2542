package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func i64p(v int64) *int64   { return &v }
func u64p(v uint64) *uint64 { return &v }
func u16p(v uint16) *uint16 { return &v }

// fakeContainer saves a record of a "running" container (this test
// process is its init) whose cgroups are regular files in a temp dir.
func fakeContainer(t *testing.T, res *specs.LinuxResources, files map[string]map[string]string) (*Runtime, string) {
	t.Helper()
	r := &Runtime{Root: t.TempDir()}
	cg := t.TempDir()
	paths := map[string]string{}
	for ctrl, fs := range files {
		dir := filepath.Join(cg, ctrl)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f, c := range fs {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		paths[ctrl] = dir
	}
	start, _, err := procStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	rec := &record{ID: "c1", Pid: os.Getpid(), PidStart: start, Cgroups: paths,
		Spec: &specs.Spec{Linux: &specs.Linux{Resources: res}}}
	if err := os.Mkdir(r.dir("c1"), 0o711); err != nil {
		t.Fatal(err)
	}
	if err := r.save(rec); err != nil {
		t.Fatal(err)
	}
	return r, cg
}

func readCg(t *testing.T, cg, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cg, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestUpdate(t *testing.T) {
	old := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: i64p(64 << 20), Swappiness: u64p(10)},
		CPU:     &specs.LinuxCPU{Quota: i64p(10000), Period: u64p(50000)},
		Pids:    &specs.LinuxPids{Limit: i64p(20)},
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
	}
	r, cg := fakeContainer(t, old, map[string]map[string]string{
		"memory": {"memory.limit_in_bytes": "67108864", "memory.memsw.limit_in_bytes": "9223372036854771712"},
		"cpu":    {"cpu.cfs_quota_us": "10000", "cpu.cfs_period_us": "50000", "cpu.shares": "1024"},
		"pids":   {"pids.max": "20"},
	})
	// runc's update passes 0 for what it does not change.
	err := r.Update("c1", &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: i64p(128 << 20), Reservation: i64p(0), Swap: i64p(0)},
		CPU:     &specs.LinuxCPU{Quota: i64p(20000), Shares: u64p(0)},
		Pids:    &specs.LinuxPids{Limit: i64p(0)},
		Devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]string{"memory/memory.limit_in_bytes": "134217728",
		"cpu/cpu.cfs_quota_us": "20000", "cpu/cpu.cfs_period_us": "50000", "cpu/cpu.shares": "1024", "pids/pids.max": "20"} {
		if got := readCg(t, cg, rel); got != want {
			t.Errorf("%s = %q, want %q", rel, got, want)
		}
	}
	rec, err := r.load("c1")
	if err != nil {
		t.Fatal(err)
	}
	got := rec.Spec.Linux.Resources
	if *got.Memory.Limit != 128<<20 || *got.Memory.Swappiness != 10 || got.Memory.Reservation != nil ||
		*got.CPU.Quota != 20000 || *got.CPU.Period != 50000 || got.CPU.Shares != nil || *got.Pids.Limit != 20 ||
		len(got.Devices) != 1 || got.Devices[0].Allow {
		b, _ := json.Marshal(got)
		t.Errorf("saved resources: %s", b)
	}
}

// TestUpdateRefused: a refused limit changes neither the cgroup nor the
// saved record.
func TestUpdateRefused(t *testing.T) {
	old := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(64 << 20)}}
	r, cg := fakeContainer(t, old, map[string]map[string]string{
		"memory": {"memory.limit_in_bytes": "67108864"}})
	err := r.Update("c1", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(1 << 20)},
		Pids: &specs.LinuxPids{Limit: i64p(5)}})
	if err == nil || !strings.Contains(err.Error(), "linux.resources.pids.limit: pids controller not mounted") {
		t.Fatalf("update with an unmounted controller: %v", err)
	}
	if got := readCg(t, cg, "memory/memory.limit_in_bytes"); got != "67108864" {
		t.Errorf("memory.limit_in_bytes = %s", got)
	}
	rec, _ := r.load("c1")
	if *rec.Spec.Linux.Resources.Memory.Limit != 64<<20 {
		t.Errorf("the record changed: %d", *rec.Spec.Linux.Resources.Memory.Limit)
	}
}

func TestUpdateStoppedRefused(t *testing.T) {
	r, _ := fakeContainer(t, nil, nil)
	rec, _ := r.load("c1")
	rec.Pid = 0
	if err := r.save(rec); err != nil {
		t.Fatal(err)
	}
	err := r.Update("c1", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64p(5)}})
	if !errors.Is(err, ErrBadState) || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("update of a stopped container: %v", err)
	}
	if err := r.Events(context.Background(), "c1", true, time.Second, &bytes.Buffer{}); !errors.Is(err, ErrBadState) {
		t.Errorf("events of a stopped container: %v", err)
	}
}

func TestEventsStatsFake(t *testing.T) {
	r, _ := fakeContainer(t, nil, map[string]map[string]string{
		"memory": {"memory.usage_in_bytes": "4096", "memory.stat": "cache 1\n"}, "pids": {"pids.current": "1", "pids.max": "max"}})
	var out bytes.Buffer
	if err := r.Events(context.Background(), "c1", true, time.Second, &out); err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{`{"type":"stats","id":"c1","data":{"cpu":`, `"memory":{"cache":1,"usage":{"limit":0,"usage":4096,"failcnt":0}`,
		`"pids":{"current":1}`, `"intel_rdt":{},"network_interfaces":null}}` + "\n"} {
		if !strings.Contains(out.String(), part) {
			t.Errorf("%s\ndoes not contain %s", out.String(), part)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	out.Reset()
	if err := r.Events(ctx, "c1", false, 100*time.Millisecond, &out); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), `"type":"stats"`); n < 1 || n > 3 {
		t.Errorf("events every 100ms for 250ms printed %d stats events", n)
	}
}

func TestCgroupResources(t *testing.T) {
	spec := &specs.Spec{Linux: &specs.Linux{
		Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			Pids: &specs.LinuxPids{Limit: i64p(3)}, BlockIO: &specs.LinuxBlockIO{Weight: u16p(100)}},
		Devices: []specs.LinuxDevice{{Path: "/dev/null", Type: "c", Major: 1, Minor: 3}},
	}}
	early, late := createLimits(spec)
	if early.Pids != nil || late.Pids == nil || *late.Pids.Limit != 3 || early.BlockIO == nil {
		t.Errorf("early %+v late %+v", early, late)
	}
	if len(early.Devices) != 1+len(defaultDeviceRules)-1 || early.Devices[0].Allow {
		t.Errorf("device rules: %+v", early.Devices)
	}
	for _, d := range early.Devices[1:] {
		if d.Major != nil && *d.Major == 1 && d.Minor != nil && *d.Minor == 3 {
			t.Error("the default /dev/null rule is kept though the config brings its own /dev/null")
		}
	}
	if len(spec.Linux.Resources.Devices) != 1 || spec.Linux.Resources.Pids == nil {
		t.Error("createLimits changed the spec")
	}
}
