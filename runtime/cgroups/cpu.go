package cgroups

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const (
	fieldCPU       = "linux.resources.cpu"
	fieldShares    = "linux.resources.cpu.shares"
	fieldQuota     = "linux.resources.cpu.quota"
	fieldPeriod    = "linux.resources.cpu.period"
	fieldBurst     = "linux.resources.cpu.burst"
	fieldRtRuntime = "linux.resources.cpu.realtimeRuntime"
	fieldRtPeriod  = "linux.resources.cpu.realtimePeriod"
	fieldIdle      = "linux.resources.cpu.idle"

	// minShares and maxShares are the range of v1 cpu.shares.
	minShares, maxShares = 2, 262144
	// defaultPeriod is the CFS period (µs) the kernel uses when none is set.
	defaultPeriod = 100000
)

func uset(v *uint64) bool { return v != nil && *v != 0 }

// cpuRequested reports whether c asks for the cpu controller (cpus and mems
// are the cpuset controller's).
func cpuRequested(c *specs.LinuxCPU) bool {
	return c != nil && (uset(c.Shares) || set(c.Quota) || uset(c.Period) || c.Burst != nil ||
		set(c.RealtimeRuntime) || uset(c.RealtimePeriod) || c.Idle != nil)
}

func (m *Manager) planCPU(p *plan, r *specs.LinuxResources) error {
	c := r.CPU
	if !cpuRequested(c) {
		return nil
	}
	dir, err := m.controllerDir(fieldCPU, "cpu")
	if err != nil {
		return err
	}
	if m.isV2() {
		return planCPUV2(p, dir, c)
	}
	return planCPUV1(p, dir, c)
}

// planCPUV1 writes the realtime pair, shares, idle, then period, burst and
// quota; period and burst are retried after quota when the kernel refuses
// them first (the new period or burst only fits with the new quota).
func planCPUV1(p *plan, dir string, c *specs.LinuxCPU) error {
	if uset(c.RealtimePeriod) {
		v := utoa(*c.RealtimePeriod)
		p.ops = append(p.ops, op{field: fieldRtPeriod, value: v, dir: dir, file: "cpu.rt_period_us",
			data: v, retryAfterNext: set(c.RealtimeRuntime)})
	}
	if set(c.RealtimeRuntime) {
		v := itoa(*c.RealtimeRuntime)
		p.ops = append(p.ops, op{field: fieldRtRuntime, value: v, dir: dir, file: "cpu.rt_runtime_us", data: v})
	}
	if uset(c.Shares) {
		v := *c.Shares
		if v < minShares || v > maxShares {
			return &LimitError{Field: fieldShares, Value: utoa(v),
				Err: fmt.Errorf("out of range %d-%d", minShares, maxShares)}
		}
		p.ops = append(p.ops, op{field: fieldShares, value: utoa(v), dir: dir, file: "cpu.shares", data: utoa(v)})
	}
	if c.Idle != nil {
		p.ops = append(p.ops, op{field: fieldIdle, value: itoa(*c.Idle), dir: dir, file: "cpu.idle", data: itoa(*c.Idle)})
	}
	quota := set(c.Quota)
	if uset(c.Period) {
		v := utoa(*c.Period)
		p.ops = append(p.ops, op{field: fieldPeriod, value: v, dir: dir, file: "cpu.cfs_period_us",
			data: v, retryAfterNext: quota})
	}
	if c.Burst != nil {
		v := utoa(*c.Burst)
		p.ops = append(p.ops, op{field: fieldBurst, value: v, dir: dir, file: "cpu.cfs_burst_us",
			data: v, retryAfterNext: quota})
	}
	if quota {
		v := itoa(*c.Quota)
		p.ops = append(p.ops, op{field: fieldQuota, value: v, dir: dir, file: "cpu.cfs_quota_us", data: v})
	}
	return nil
}

// planCPUV2 writes cpu.idle, cpu.weight (converted from shares), then
// cpu.max.burst and cpu.max. A quota or period given alone keeps the
// other half of cpu.max as it is.
func planCPUV2(p *plan, dir string, c *specs.LinuxCPU) error {
	if c.Idle != nil {
		p.ops = append(p.ops, op{field: fieldIdle, value: itoa(*c.Idle), dir: dir, file: "cpu.idle", data: itoa(*c.Idle)})
	}
	if uset(c.Shares) {
		w := utoa(SharesToWeight(*c.Shares))
		p.ops = append(p.ops, op{field: fieldShares, value: utoa(*c.Shares), dir: dir, file: "cpu.weight", data: w})
	}
	max := set(c.Quota) || uset(c.Period)
	if c.Burst != nil {
		v := utoa(*c.Burst)
		p.ops = append(p.ops, op{field: fieldBurst, value: v, dir: dir, file: "cpu.max.burst",
			data: v, retryAfterNext: max})
	}
	if max {
		data, value := cpuMax(dir, c)
		field := fieldQuota
		if !set(c.Quota) {
			field = fieldPeriod
		}
		p.ops = append(p.ops, op{field: field, value: value, dir: dir, file: "cpu.max", data: data})
	}
	warnV1Only(set(c.RealtimeRuntime) || uset(c.RealtimePeriod), "linux.resources.cpu.realtimeRuntime/realtimePeriod")
	return nil
}

// cpuMax returns the "QUOTA PERIOD" line for cpu.max, completing a missing
// half from the current file, and the value to name in errors.
func cpuMax(dir string, c *specs.LinuxCPU) (data, value string) {
	quota, period := "max", utoa(defaultPeriod)
	cur, rerr := os.ReadFile(filepath.Join(dir, "cpu.max"))
	if f := strings.Fields(string(cur)); rerr == nil && len(f) == 2 {
		quota, period = f[0], f[1]
	}
	if set(c.Quota) {
		quota = "max"
		if *c.Quota > 0 {
			quota = itoa(*c.Quota)
		}
		value = itoa(*c.Quota)
	}
	if uset(c.Period) {
		period = utoa(*c.Period)
		if value == "" {
			value = period
		}
	}
	return quota + " " + period, value
}

// SharesToWeight converts v1 cpu.shares [2, 262144] to v2 cpu.weight
// [1, 10000] with runc's formula: a quadratic in log2(shares) that maps the
// minimum, the default (1024 → 100) and the maximum exactly.
func SharesToWeight(shares uint64) uint64 {
	switch {
	case shares == 0:
		return 0
	case shares <= minShares:
		return 1
	case shares >= maxShares:
		return 10000
	}
	l := math.Log2(float64(shares))
	exp := (l*l+125*l)/612.0 - 7.0/34.0
	return uint64(math.Ceil(math.Pow(10, exp)))
}

func (m *Manager) planCpuset(p *plan, r *specs.LinuxResources) error {
	c := r.CPU
	if c == nil || (c.Cpus == "" && c.Mems == "") {
		return nil
	}
	dir, err := m.controllerDir("linux.resources.cpu.cpus/mems", "cpuset")
	if err != nil {
		return err
	}
	for _, s := range []struct{ field, value, file string }{
		{"linux.resources.cpu.cpus", c.Cpus, "cpuset.cpus"},
		{"linux.resources.cpu.mems", c.Mems, "cpuset.mems"},
	} {
		if s.value == "" {
			continue
		}
		if strings.ContainsAny(s.value, "\n\x00") {
			return &LimitError{Field: s.field, Value: fmt.Sprintf("%q", s.value), Err: errors.New("not a cpu or node list")}
		}
		p.ops = append(p.ops, op{field: s.field, value: s.value, dir: dir, file: s.file, data: s.value})
	}
	return nil
}
