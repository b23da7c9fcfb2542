package cgroups

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const (
	fieldMemLimit = "linux.resources.memory.limit"
	fieldMemSwap  = "linux.resources.memory.swap"
	memswFile     = "memory.memsw.limit_in_bytes"
	memLimitFile  = "memory.limit_in_bytes"
)

// memoryRequested reports whether mem asks for anything that needs the
// memory controller. Kernel memory limits are only warned about.
func memoryRequested(mem *specs.LinuxMemory) bool {
	if mem == nil {
		return false
	}
	//lint:ignore SA1019 the deprecated field is read only to warn that it is ignored.
	if mem.Kernel != nil || mem.KernelTCP != nil {
		slog.Warn("linux.resources.memory.kernel and kernelTCP are ignored: the kernel no longer supports them")
	}
	return set(mem.Limit) || set(mem.Reservation) || set(mem.Swap) || mem.Swappiness != nil ||
		mem.DisableOOMKiller != nil || mem.UseHierarchy != nil
}

// set reports whether a spec number is given; 0 means "unset", as in runc.
func set(v *int64) bool { return v != nil && *v != 0 }

func val(v *int64) int64 {
	if v == nil {
		return 0
	}
	return *v
}

func (m *Manager) planMemory(p *plan, r *specs.LinuxResources) error {
	mem := r.Memory
	if !memoryRequested(mem) {
		return nil
	}
	dir, err := m.controllerDir("linux.resources.memory", "memory")
	if err != nil {
		return err
	}
	if err := checkBeforeUpdate(mem, dir, m.isV2()); err != nil {
		return err
	}
	if m.isV2() {
		return planMemoryV2(p, dir, mem)
	}
	return planMemoryV1(p, dir, mem)
}

func (m *Manager) isV2() bool { _, ok := m.v2Dir(); return ok }

// checkBeforeUpdate refuses a limit below the current usage when the spec
// asks for that check.
func checkBeforeUpdate(mem *specs.LinuxMemory, dir string, v2 bool) error {
	if mem.CheckBeforeUpdate == nil || !*mem.CheckBeforeUpdate || val(mem.Limit) <= 0 {
		return nil
	}
	file := "memory.usage_in_bytes"
	if v2 {
		file = "memory.current"
	}
	usage, err := readUint(dir, file)
	if err != nil {
		return &LimitError{Field: fieldMemLimit, Value: itoa(*mem.Limit), Err: err}
	}
	if uint64(*mem.Limit) < usage {
		return &LimitError{Field: fieldMemLimit, Value: itoa(*mem.Limit),
			Err: fmt.Errorf("below current usage %d bytes (checkBeforeUpdate is set)", usage)}
	}
	return nil
}

// planMemoryV1 writes limit and memsw (memory+swap) in the order the
// kernel accepts, memsw never below the limit: when raising, memsw first.
func planMemoryV1(p *plan, dir string, mem *specs.LinuxMemory) error {
	limit, swap := val(mem.Limit), val(mem.Swap)
	if limit == -1 && !set(mem.Swap) && exists(dir, memswFile) {
		swap = -1 // unlimited memory means unlimited swap too
	}
	limitOp := op{field: fieldMemLimit, value: itoa(limit), dir: dir, file: memLimitFile, data: itoa(limit)}
	swapOp := op{field: fieldMemSwap, value: itoa(swap), dir: dir, file: memswFile, data: itoa(swap)}
	if swap != 0 && !exists(dir, memswFile) {
		if swap != -1 && swap != limit {
			return &LimitError{Field: fieldMemSwap, Value: itoa(swap),
				Err: errors.New("swap accounting is not enabled in this kernel (no " + memswFile + ")")}
		}
		swap = 0 // nothing to limit: no swap accounting
	}
	switch {
	case limit != 0 && swap != 0:
		cur, err := readUint(dir, memLimitFile)
		if err != nil {
			return &LimitError{Field: fieldMemLimit, Value: itoa(limit), Err: err}
		}
		if swap == -1 || cur < uint64(swap) {
			p.ops = append(p.ops, swapOp, limitOp)
		} else {
			p.ops = append(p.ops, limitOp, swapOp)
		}
	case limit != 0:
		p.ops = append(p.ops, limitOp)
	case swap != 0:
		p.ops = append(p.ops, swapOp)
	}
	return planMemoryV1Rest(p, dir, mem)
}

// planMemoryV1Rest writes reservation, OOM killer, swappiness, hierarchy.
func planMemoryV1Rest(p *plan, dir string, mem *specs.LinuxMemory) error {
	if set(mem.Reservation) {
		v := itoa(*mem.Reservation)
		p.ops = append(p.ops, op{field: "linux.resources.memory.reservation", value: v,
			dir: dir, file: "memory.soft_limit_in_bytes", data: v})
	}
	if mem.DisableOOMKiller != nil {
		v := boolNum(*mem.DisableOOMKiller)
		p.ops = append(p.ops, op{field: "linux.resources.memory.disableOOMKiller",
			value: fmt.Sprint(*mem.DisableOOMKiller), dir: dir, file: "memory.oom_control", data: v,
			undo: func(old string) []restore {
				return []restore{{"memory.oom_control", keyedValue(old, "oom_kill_disable")}}
			}})
	}
	if s := mem.Swappiness; s != nil && *s != ^uint64(0) {
		if *s > 100 {
			return &LimitError{Field: "linux.resources.memory.swappiness", Value: utoa(*s),
				Err: errors.New("out of range 0-100")}
		}
		p.ops = append(p.ops, op{field: "linux.resources.memory.swappiness", value: utoa(*s),
			dir: dir, file: "memory.swappiness", data: utoa(*s)})
	}
	if mem.UseHierarchy != nil {
		p.ops = append(p.ops, op{field: "linux.resources.memory.useHierarchy",
			value: fmt.Sprint(*mem.UseHierarchy), dir: dir, file: "memory.use_hierarchy",
			data: boolNum(*mem.UseHierarchy)})
	}
	return nil
}

// planMemoryV2 writes memory.swap.max (swap alone: the spec's swap is
// memory+swap), memory.max and memory.low.
func planMemoryV2(p *plan, dir string, mem *specs.LinuxMemory) error {
	limit, total := val(mem.Limit), val(mem.Swap)
	swap, err := swapV2(total, limit)
	if err != nil {
		return &LimitError{Field: fieldMemSwap, Value: itoa(total), Err: err}
	}
	if swap != 0 || (total > 0 && total == limit) {
		s := v2Num(swap)
		if exists(dir, "memory.swap.max") {
			p.ops = append(p.ops, op{field: fieldMemSwap, value: itoa(total), dir: dir,
				file: "memory.swap.max", data: s})
		} else if s != "max" && s != "0" {
			return &LimitError{Field: fieldMemSwap, Value: itoa(total),
				Err: errors.New("swap accounting is not enabled in this kernel (no memory.swap.max)")}
		}
	}
	if limit != 0 {
		p.ops = append(p.ops, op{field: fieldMemLimit, value: itoa(limit), dir: dir,
			file: "memory.max", data: v2Num(limit)})
	}
	if set(mem.Reservation) {
		v := *mem.Reservation
		p.ops = append(p.ops, op{field: "linux.resources.memory.reservation", value: itoa(v),
			dir: dir, file: "memory.low", data: v2Num(v)})
	}
	warnV1Only(mem.Swappiness != nil, "linux.resources.memory.swappiness")
	warnV1Only(mem.DisableOOMKiller != nil && *mem.DisableOOMKiller, "linux.resources.memory.disableOOMKiller")
	warnV1Only(mem.UseHierarchy != nil && !*mem.UseHierarchy, "linux.resources.memory.useHierarchy")
	return nil
}

// swapV2 converts the spec's memory+swap total into cgroup v2's swap-only
// limit, as runc does: 0 is unset, -1 unlimited.
func swapV2(total, limit int64) (int64, error) {
	switch {
	case limit == -1 && total == 0:
		return -1, nil // unlimited memory: unlimited swap too
	case total == -1 || total == 0:
		return total, nil
	case limit == -1:
		return total, nil
	case limit == 0:
		return 0, errors.New("a swap limit needs a memory limit")
	case limit < 0:
		return 0, fmt.Errorf("invalid memory limit %d", limit)
	case total < limit:
		return 0, fmt.Errorf("memory+swap must not be below the memory limit %d", limit)
	}
	return total - limit, nil
}

// warnV1Only notes a setting that cgroup v2 does not have.
func warnV1Only(given bool, field string) {
	if given {
		slog.Warn(field + " is ignored: cgroup v2 has no such setting")
	}
}

func boolNum(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// keyedValue returns the value of key in a "key value" per line file.
func keyedValue(content, key string) string {
	for _, line := range strings.Split(content, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
