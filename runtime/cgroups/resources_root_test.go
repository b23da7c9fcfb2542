package cgroups

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corral-dev/corral/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// createdManager is newTestManager with the cgroup created.
func createdManager(t *testing.T) *Manager {
	t.Helper()
	testutil.RequireRoot(t)
	m := newTestManager(t)
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	return m
}

// inCgroup runs `sh -c script` inside m's cgroup (the shell joins before it
// reads the go-ahead) and returns its combined output and exit error.
func inCgroup(t *testing.T, m *Manager, script string) (string, error) {
	t.Helper()
	cmd := exec.Command("sh", "-c", "read go; "+script)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if err := m.Join(cmd.Process.Pid); err != nil {
		_ = cmd.Process.Kill()
		<-done
		t.Fatal(err)
	}
	_, _ = stdin.Write([]byte("go\n"))
	stdin.Close()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%q did not finish", script)
	}
	return out.String(), err
}

func readTrim(t *testing.T, dir, file string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// onV2 tells whether m is on a pure cgroup v2 hierarchy.
func onV2(m *Manager) bool {
	_, ok := m.v2Dir()
	return ok
}

// pick names the file that holds a setting on m's layout: v1 on cgroup v1,
// v2 on cgroup v2.
func pick(m *Manager, v1, v2 string) string {
	if onV2(m) {
		return v2
	}
	return v1
}

// ctlDir is where controller's files are on m's layout: its v1 hierarchy,
// or the one v2 directory when cgroup.controllers lists it.
func ctlDir(t *testing.T, m *Manager, controller string) string {
	t.Helper()
	dir, err := m.controllerDir("test", controller)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestMemoryLimitOOM: a process that allocates past the limit is killed,
// and OOMEvents reports it; the channel closes once the cgroup is removed.
func TestMemoryLimitOOM(t *testing.T) {
	m := createdManager(t)
	limit := int64(32 << 20)
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit, Swap: &limit}}); err != nil {
		t.Fatal(err)
	}
	dir, err := m.controllerDir("test", "memory")
	if err != nil {
		t.Skip(err)
	}
	limitFile := pick(m, memLimitFile, "memory.max")
	if got := readTrim(t, dir, limitFile); got != "33554432" {
		t.Errorf("%s = %s", limitFile, got)
	}
	// On v2 the spec's memory+swap equal to the limit means no swap at all.
	if onV2(m) && exists(dir, "memory.swap.max") {
		if got := readTrim(t, dir, "memory.swap.max"); got != "0" {
			t.Errorf("memory.swap.max = %s, want 0", got)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := m.OOMEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := inCgroup(t, m, "dd if=/dev/zero of=/dev/null bs=64M count=1 && echo survived")
	if err == nil || strings.Contains(out, "survived") {
		t.Fatalf("allocating 64M under a 32M limit: %v %q", err, out)
	}
	select {
	case <-events:
	case <-time.After(10 * time.Second):
		t.Fatal("no OOM event")
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// (failcnt stays 0 here when memsw is limited too: a kernel quirk.)
	if st.Memory.Usage.Limit != uint64(limit) || st.Memory.Usage.Max == 0 {
		t.Errorf("memory stats after OOM: %+v", st.Memory.Usage)
	}
	evFile := pick(m, "memory.oom_control", "memory.events")
	if n := keyedValue(readTrim(t, dir, evFile), "oom_kill"); n == "0" || n == "" {
		t.Errorf("oom_kill in %s = %q after an OOM", evFile, n)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-events:
		if ok {
			t.Error("an OOM event after the cgroup was removed")
		}
	case <-time.After(5 * time.Second):
		t.Error("the OOM channel stayed open after the cgroup was removed")
	}
}

// TestPidsLimit: forks beyond pids.max fail, and pids.events counts them
// (both layouts have the two files).
func TestPidsLimit(t *testing.T) {
	m := createdManager(t)
	if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(4)}}); err != nil {
		t.Fatal(err)
	}
	out, _ := inCgroup(t, m, `n=0; for i in 1 2 3 4 5 6 7 8; do sleep 3 & n=$((n+1)); done; echo started $n; kill $(jobs -p) 2>/dev/null; wait`)
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Pids.Limit != 4 {
		t.Errorf("pids limit in stats: %d", st.Pids.Limit)
	}
	dir := ctlDir(t, m, "pids")
	if got := readTrim(t, dir, "pids.max"); got != "4" {
		t.Errorf("pids.max = %q, want 4", got)
	}
	events := readTrim(t, dir, "pids.events")
	if events == "max 0" || !strings.Contains(strings.ToLower(out), "fork") {
		t.Errorf("8 forks under pids.max 4: pids.events %q, output %q", events, out)
	}
}

// TestCPUQuota: the quota is written and throttles a busy loop. On v2 the
// shares become cpu.weight (runc's conversion: 512 → 59) and quota and period
// one cpu.max line.
func TestCPUQuota(t *testing.T) {
	m := createdManager(t)
	err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(512), Quota: i64(10000), Period: u64(50000), Cpus: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"cpu.shares": "512", "cpu.cfs_quota_us": "10000", "cpu.cfs_period_us": "50000"}
	if onV2(m) {
		files = map[string]string{"cpu.weight": "59", "cpu.max": "10000 50000"}
	}
	dir := ctlDir(t, m, "cpu")
	for file, want := range files {
		if got := readTrim(t, dir, file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if got := readTrim(t, ctlDir(t, m, "cpuset"), "cpuset.cpus"); got != "0" {
		t.Errorf("cpuset.cpus = %q", got)
	}
	if _, err := inCgroup(t, m, `end=$(($(date +%s)+1)); while [ $(date +%s) -le $end ]; do :; done`); err != nil {
		t.Fatal(err)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// cgroup v2 has no per-CPU usage.
	if st.CPU.Throttling.ThrottledPeriods == 0 || st.CPU.Usage.Total == 0 || (!onV2(m) && len(st.CPU.Usage.Percpu) == 0) {
		t.Errorf("cpu stats after a busy loop under a 20%% quota: %+v", st.CPU)
	}
}

// TestKernelRefusalRollsBack: when the kernel refuses a later value, the
// earlier ones are put back.
func TestKernelRefusalRollsBack(t *testing.T) {
	m := createdManager(t)
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20)}}); err != nil {
		t.Fatal(err)
	}
	err := m.Set(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(128 << 20)},
		CPU:    &specs.LinuxCPU{Cpus: "99"},
	})
	wantErr(t, err, `linux.resources.cpu.cpus 99: write cpuset.cpus: `)
	file := pick(m, memLimitFile, "memory.max")
	if got := readTrim(t, ctlDir(t, m, "memory"), file); got != "67108864" {
		t.Errorf("%s = %s after a failed update, want the old 67108864", file, got)
	}
}

// TestStatsV1 reads the stats of a cgroup that ran something.
func TestStatsV1(t *testing.T) {
	m := createdManager(t)
	if _, err := inCgroup(t, m, "cat /proc/self/status > /dev/null"); err != nil {
		t.Fatal(err)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.CPU.Usage.Total == 0 || st.Memory.Usage.Max == 0 || st.Memory.Raw == nil || len(st.CPUSet.CPUs) == 0 {
		t.Errorf("stats: %+v", st)
	}
}

// TestFreezerStopsCPU: a frozen busy loop uses no CPU until thawed.
func TestFreezerStopsCPU(t *testing.T) {
	m := createdManager(t)
	// Usage comes from cpuacct on v1, from cpu.stat (always there) on v2.
	if _, ok := m.Paths()["cpuacct"]; !ok && !onV2(m) {
		t.Skip("no cpuacct controller")
	}
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if err := m.Join(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	usage := func() uint64 {
		st, err := m.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return st.CPU.Usage.Total
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	before := settledUsage(t, usage)
	time.Sleep(200 * time.Millisecond)
	if after := usage(); after != before {
		t.Errorf("frozen cgroup used %d ns of CPU", after-before)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if usage() == before {
		t.Error("thawed cgroup used no CPU")
	}
}

// settledUsage returns the usage once two reads 20 ms apart agree: the
// CPU a task used just before it froze can reach the counter late (seen in
// the emulated cgroup v2 VM, one tick's worth), and that is not CPU used
// while frozen. It fails the test if the usage never settles within 2 s.
func settledUsage(t *testing.T, usage func() uint64) uint64 {
	t.Helper()
	last := usage()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		now := usage()
		if now == last {
			return now
		}
		last = now
	}
	t.Fatalf("CPU usage of the frozen cgroup still rising after 2 s (last %d ns)", last)
	return 0
}

// TestMemorySwapOrder raises and lowers memory and memory+swap together;
// on v1 the kernel refuses memsw below the limit, so only the right order
// works; on v2 memory.swap.max holds the swap alone (the spec's total less
// the limit).
func TestMemorySwapOrder(t *testing.T) {
	m := createdManager(t)
	dir, err := m.controllerDir("test", "memory")
	swapFile := pick(m, memswFile, "memory.swap.max")
	if err != nil || !exists(dir, swapFile) {
		t.Skip("no memory controller with swap accounting")
	}
	limitFile := pick(m, memLimitFile, "memory.max")
	for _, step := range [][2]int64{{64 << 20, 64 << 20}, {128 << 20, 256 << 20}, {32 << 20, 48 << 20}, {-1, -1}} {
		limit, swap := step[0], step[1]
		if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit, Swap: &swap}}); err != nil {
			t.Fatalf("limit %d swap %d: %v", limit, swap, err)
		}
		want := [2]string{itoa(limit), itoa(swap)}
		switch {
		case onV2(m) && limit == -1:
			want = [2]string{"max", "max"}
		case onV2(m):
			want[1] = itoa(swap - limit)
		case limit == -1:
			want = [2]string{unlimitedV1, unlimitedV1}
		}
		got := [2]string{readTrim(t, dir, limitFile), readTrim(t, dir, swapFile)}
		if got != want {
			t.Errorf("after limit %d swap %d: %s and %s = %v, want %v", limit, swap, limitFile, swapFile, got, want)
		}
	}
}
