package container

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corral-dev/corral/errdefs"
	"github.com/moby/moby/api/types/container"
)

var updateStats = flag.Bool("update-stats", false, "rewrite testdata/stats/*.want.json")

const (
	statsHost     = "testdata/stats/host"
	hostMemory    = 24684084 * 1024                                             // MemTotal of the fixture
	hostCPUTime   = (1581087 + 20 + 1029060 + 1558731 + 17588 + 0 + 7718) * 1e7 // 7 fields, ns
	fixturePid    = 4242                                                        // has net/dev in the fixture
	unlimitedV1   = 9223372036854771712                                         // memory.limit_in_bytes unset
	unlimitedV2   = math.MaxUint64                                              // memory.max "max"
	v1UsageNoFile = 9617408 - 2506752                                           // usage - total_inactive_file
	v2UsageNoFile = 15097856 - 6291456                                          // usage - inactive_file
)

func readSample(t testing.TB, name string) json.RawMessage {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata/stats", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// editSample changes the data of a stats event: edit gets the decoded data.
func editSample(t *testing.T, raw json.RawMessage, edit func(data map[string]any)) json.RawMessage {
	t.Helper()
	var ev map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keeps uint64 counters exact
	if err := dec.Decode(&ev); err != nil {
		t.Fatal(err)
	}
	edit(ev["data"].(map[string]any))
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func prevSample() *container.StatsResponse {
	return &container.StatsResponse{
		Read: time.Date(2025, 1, 2, 3, 4, 4, 0, time.UTC),
		CPUStats: container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: 1000000000},
			SystemUsage: hostCPUTime - 2e9, OnlineCPUs: 2},
	}
}

func statsInput(t testing.TB, sample string) StatsInput {
	return StatsInput{Sample: readSample(t, sample), ID: "c1d2", Name: "web", Pid: fixturePid,
		Prev: prevSample(), Read: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), HostRoot: statsHost}
}

// TestStatsGolden compares the whole response, as JSON, with what dockerd
// answers for the same cgroup files (checked by hand, field by field).
func TestStatsGolden(t *testing.T) {
	for _, name := range []string{"v1", "v2"} {
		t.Run(name, func(t *testing.T) {
			got, err := Stats(statsInput(t, name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			data, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata/stats", name+".want.json")
			if *updateStats {
				if err := os.WriteFile(golden, append(data, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(bytes.TrimSpace(want), data) {
				t.Errorf("Stats(%s) =\n%s\nwant\n%s", name, data, want)
			}
		})
	}
}

// cliView is what `docker stats` shows, computed as docker 28's CLI does.
type cliView struct {
	cpuPercent         float64
	memUsage, memLimit uint64
	blkRead, blkWrite  uint64
	netRx, netTx       uint64
	pids               uint64
}

func viewOf(s container.StatsResponse) cliView {
	v := cliView{memLimit: s.MemoryStats.Limit, pids: s.PidsStats.Current}
	cpuDelta := float64(s.CPUStats.CPUUsage.TotalUsage) - float64(s.PreCPUStats.CPUUsage.TotalUsage)
	sysDelta := float64(s.CPUStats.SystemUsage) - float64(s.PreCPUStats.SystemUsage)
	if cpuDelta > 0 && sysDelta > 0 {
		v.cpuPercent = cpuDelta / sysDelta * float64(s.CPUStats.OnlineCPUs) * 100
	}
	m := s.MemoryStats
	v.memUsage = m.Usage
	if f, ok := m.Stats["total_inactive_file"]; ok && f < m.Usage {
		v.memUsage = m.Usage - f
	} else if f := m.Stats["inactive_file"]; f < m.Usage {
		v.memUsage = m.Usage - f
	}
	for _, e := range s.BlkioStats.IoServiceBytesRecursive {
		switch e.Op[0] {
		case 'r', 'R':
			v.blkRead += e.Value
		case 'w', 'W':
			v.blkWrite += e.Value
		}
	}
	for _, n := range s.Networks {
		v.netRx, v.netTx = v.netRx+n.RxBytes, v.netTx+n.TxBytes
	}
	return v
}

func TestStatsCLIView(t *testing.T) {
	// CPU: (1864502367 - 1e9) ns of the container over 2e9 ns of the host's
	// two CPUs; v2: (2345678000 - 1e9) ns.
	const v1CPU, v2CPU = 0.864502367 / 2 * 2 * 100, 1.345678 / 2 * 2 * 100
	tests := []struct {
		name   string
		sample string
		edit   func(map[string]any)
		want   cliView
	}{
		{"v1 limited", "v1.json", nil,
			cliView{v1CPU, v1UsageNoFile, 64 << 20, 1245184, 8192, 5474550 + 796, 1929160 + 656, 3}},
		{"v1 unlimited is the host's memory", "v1.json", func(d map[string]any) {
			memUsage(d)["limit"] = json.Number(strconv.FormatUint(unlimitedV1, 10))
		}, cliView{v1CPU, v1UsageNoFile, hostMemory, 1245184, 8192, 5474550 + 796, 1929160 + 656, 3}},
		{"v2 limited", "v2.json", nil,
			cliView{v2CPU, v2UsageNoFile, 256 << 20, 1048576 + 8192, 4096, 5474550 + 796, 1929160 + 656, 3}},
		{"v2 unlimited is the host's memory", "v2.json", func(d map[string]any) {
			memUsage(d)["limit"] = json.Number(strconv.FormatUint(unlimitedV2, 10))
		}, cliView{v2CPU, v2UsageNoFile, hostMemory, 1048576 + 8192, 4096, 5474550 + 796, 1929160 + 656, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := statsInput(t, tt.sample)
			if tt.edit != nil {
				in.Sample = editSample(t, in.Sample, tt.edit)
			}
			got, err := Stats(in)
			if err != nil {
				t.Fatal(err)
			}
			v := viewOf(got)
			if math.Abs(v.cpuPercent-tt.want.cpuPercent) > 1e-6 {
				t.Errorf("CPU %% = %v, want %v", v.cpuPercent, tt.want.cpuPercent)
			}
			v.cpuPercent = tt.want.cpuPercent
			if v != tt.want {
				t.Errorf("docker stats would show %+v, want %+v", v, tt.want)
			}
		})
	}
}

func memUsage(d map[string]any) map[string]any {
	return d["memory"].(map[string]any)["usage"].(map[string]any)
}

func TestStatsFields(t *testing.T) {
	tests := []struct {
		name  string
		in    func(*StatsInput)
		check func(*testing.T, container.StatsResponse)
	}{
		{"identity and host", nil, func(t *testing.T, s container.StatsResponse) {
			if s.ID != "c1d2" || s.Name != "/web" || s.OSType != "linux" {
				t.Errorf("id, name, os = %q, %q, %q", s.ID, s.Name, s.OSType)
			}
			if s.CPUStats.SystemUsage != hostCPUTime || s.CPUStats.OnlineCPUs != 2 {
				t.Errorf("system_cpu_usage, online_cpus = %d, %d", s.CPUStats.SystemUsage, s.CPUStats.OnlineCPUs)
			}
		}},
		{"previous sample", nil, func(t *testing.T, s container.StatsResponse) {
			p := prevSample()
			if !s.PreRead.Equal(p.Read) || s.PreCPUStats.CPUUsage.TotalUsage != 1e9 ||
				s.PreCPUStats.SystemUsage != p.CPUStats.SystemUsage {
				t.Errorf("preread, precpu_stats = %v, %+v", s.PreRead, s.PreCPUStats)
			}
		}},
		{"no previous sample", func(in *StatsInput) { in.Prev, in.Read = nil, time.Time{} },
			func(t *testing.T, s container.StatsResponse) {
				if !s.PreRead.IsZero() || s.PreCPUStats.CPUUsage.TotalUsage != 0 {
					t.Errorf("preread, precpu_stats = %v, %+v", s.PreRead, s.PreCPUStats)
				}
				if time.Since(s.Read) > time.Hour || s.Read.Location() != time.UTC {
					t.Errorf("read = %v, want now in UTC", s.Read)
				}
			}},
		{"interfaces but lo and fallback tunnels", nil, func(t *testing.T, s container.StatsResponse) {
			want := map[string]container.NetworkStats{
				"eth0": {RxBytes: 5474550, RxPackets: 22742, RxErrors: 1, RxDropped: 2,
					TxBytes: 1929160, TxPackets: 19817, TxErrors: 4, TxDropped: 5},
				"eth1": {RxBytes: 796, RxPackets: 8, TxBytes: 656, TxPackets: 8},
			}
			if len(s.Networks) != len(want) || s.Networks["eth0"] != want["eth0"] || s.Networks["eth1"] != want["eth1"] {
				t.Errorf("networks = %+v, want %+v", s.Networks, want)
			}
		}},
		{"host network", func(in *StatsInput) { in.NoNetworks = true }, noNetworks},
		{"no pid", func(in *StatsInput) { in.Pid = 0 }, noNetworks},
		{"bare data object", func(in *StatsInput) {
			var ev struct{ Data json.RawMessage }
			_ = json.Unmarshal(in.Sample, &ev)
			in.Sample = ev.Data
		}, func(t *testing.T, s container.StatsResponse) {
			if s.CPUStats.CPUUsage.TotalUsage != 1864502367 || s.MemoryStats.Usage != 9617408 {
				t.Errorf("cpu, memory = %+v, %+v", s.CPUStats, s.MemoryStats)
			}
		}},
		{"no memory controller", func(in *StatsInput) {
			in.Sample = editSample(t, in.Sample, func(d map[string]any) { delete(d, "memory") })
		}, func(t *testing.T, s container.StatsResponse) {
			if s.MemoryStats.Usage != 0 || s.MemoryStats.Limit != 0 || s.MemoryStats.Stats != nil {
				t.Errorf("memory_stats = %+v, want none", s.MemoryStats)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := statsInput(t, "v1.json")
			if tt.in != nil {
				tt.in(&in)
			}
			s, err := Stats(in)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

func noNetworks(t *testing.T, s container.StatsResponse) {
	if s.Networks != nil {
		t.Errorf("networks = %+v, want none", s.Networks)
	}
}

// TestStatsVersion checks how the cgroup version is told: by the sample
// when it can, else by the host (a unified /sys/fs/cgroup).
func TestStatsVersion(t *testing.T) {
	bare := `{"type":"stats","id":"c","data":{"cpu":{"usage":{"total":5}},` +
		`"blkio":{"ioServiceBytesRecursive":[{"major":8,"op":"Read","value":7}]},"pids":{"current":1}}}`
	tests := []struct {
		name       string
		sample     json.RawMessage
		hostV2     bool
		wantV2     bool
		wantPerCPU int
		wantPids   uint64 // pids limit; v2's "max" as containerd reads it
	}{
		{"v1 sample on a v2 host", readSample(t, "v1.json"), true, false, 2, 100},
		{"v2 sample on a v1 host", readSample(t, "v2.json"), false, true, 0, math.MaxUint64},
		{"undecided, v1 host", json.RawMessage(bare), false, false, 0, 0},
		{"undecided, v2 host", json.RawMessage(bare), true, true, 0, math.MaxUint64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range []string{"proc/stat", "proc/meminfo"} {
				copyFile(t, filepath.Join(statsHost, f), filepath.Join(root, f))
			}
			if tt.hostV2 {
				copyFile(t, "/dev/null", filepath.Join(root, "sys/fs/cgroup/cgroup.controllers"))
			}
			s, err := Stats(StatsInput{Sample: tt.sample, HostRoot: root})
			if err != nil {
				t.Fatal(err)
			}
			b := s.BlkioStats
			gotV2 := b.IoServicedRecursive == nil && strings.ToLower(b.IoServiceBytesRecursive[0].Op) ==
				b.IoServiceBytesRecursive[0].Op
			if gotV2 != tt.wantV2 || len(s.CPUStats.CPUUsage.PercpuUsage) != tt.wantPerCPU {
				t.Errorf("v2 = %v, percpu %v; want v2 %v", gotV2, s.CPUStats.CPUUsage.PercpuUsage, tt.wantV2)
			}
			if s.PidsStats.Limit != tt.wantPids {
				t.Errorf("pids limit = %d, want %d", s.PidsStats.Limit, tt.wantPids)
			}
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestStatsErrors(t *testing.T) {
	tests := []struct {
		name     string
		in       func(*StatsInput)
		want     string
		notFound bool
	}{
		{"not JSON", func(in *StatsInput) { in.Sample = json.RawMessage("stats") }, "decode stats sample", false},
		{"oom event", func(in *StatsInput) { in.Sample = json.RawMessage(`{"type":"oom","id":"c"}`) },
			`event of type "oom"`, false},
		{"no data", func(in *StatsInput) { in.Sample = json.RawMessage(`{"type":"stats","id":"c"}`) }, "no data", false},
		{"init gone", func(in *StatsInput) { in.Pid = 999999 }, "read network stats of pid 999999", true},
		{"no /proc/stat", func(in *StatsInput) { in.HostRoot = t.TempDir() }, "read host", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := statsInput(t, "v1.json")
			tt.in(&in)
			_, err := Stats(in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if errdefs.IsNotFound(err) != tt.notFound {
				t.Errorf("NotFound(%v) = %v, want %v", err, !tt.notFound, tt.notFound)
			}
		})
	}
}

func TestReadSystemCPU(t *testing.T) {
	tests := []struct {
		name, stat string
		ns         uint64
		cpus       uint32
		bad        bool
	}{
		{"cpu lines first", "cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1 1 1 1 1 1 1\ncpu1 1 1 1 1 1 1 1\nintr 5 6\ncpu2 1\n", 28e7, 2, false},
		{"old kernel, 7 fields", "cpu 10 0 0 0 0 0 0\ncpu0 10 0 0 0 0 0 0\n", 1e8, 1, false},
		{"short cpu line", "cpu 1 2 3\n", 0, 0, true},
		{"not a number", "cpu 1 2 3 x 5 6 7\n", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, filepath.Join(root, "proc/stat"), tt.stat)
			ns, cpus, err := readSystemCPU(root)
			if (err != nil) != tt.bad || ns != tt.ns || cpus != tt.cpus {
				t.Errorf("readSystemCPU = %d, %d, %v; want %d, %d, error %v", ns, cpus, err, tt.ns, tt.cpus, tt.bad)
			}
		})
	}
}

func TestReadHostFilesMalformed(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "proc/meminfo"), "MemFree: 1 kB\n")
	if _, err := readMemTotal(root); err == nil || !strings.Contains(err.Error(), "no MemTotal") {
		t.Errorf("readMemTotal without MemTotal: %v", err)
	}
	writeFile(t, filepath.Join(root, "proc/7/net/dev"), "h|\nh|\n eth0: 1 2 3\n")
	if _, err := readNetDev(root, 7); err == nil || !strings.Contains(err.Error(), "eth0") {
		t.Errorf("readNetDev of a short line: %v", err)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkStats times one call on this host's /proc with the test's own
// network namespace, as the daemon polls a container every second.
func BenchmarkStats(b *testing.B) {
	in := statsInput(b, "v1.json")
	in.HostRoot, in.Pid = "/", os.Getpid()
	for b.Loop() {
		in.Prev = nil
		if _, err := Stats(in); err != nil {
			b.Fatal(err)
		}
	}
}
