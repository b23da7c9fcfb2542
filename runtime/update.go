package runtime

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/corral-dev/corral/runtime/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Update changes the resource limits of a created, running or paused
// container. Fields of res that are nil (or 0 for the numbers runc treats
// so) keep their value. Device rules cannot be changed, as in runc. The
// limits are written first (put back as they were if one is refused),
// then saved in the container's record.
func (r *Runtime) Update(id string, res *specs.LinuxResources) error {
	rec, err := r.load(id)
	if err != nil {
		return err
	}
	if st := r.status(rec); st == specs.StateStopped {
		return fmt.Errorf("cannot update container %s: it is stopped: %w", id, ErrBadState)
	}
	if res == nil {
		return nil
	}
	delta := *res
	delta.Devices = nil
	if len(res.Devices) > 0 {
		slog.Warn("update: device rules cannot be changed; ignored", "id", id)
	}
	dropUnset(&delta)
	if rec.Spec.Linux == nil {
		rec.Spec.Linux = &specs.Linux{}
	}
	old := rec.Spec.Linux.Resources
	if old == nil {
		old = &specs.LinuxResources{}
	}
	completePairs(&delta, old)
	if err := cgroups.Load(rec.Cgroups).Set(&delta); err != nil {
		return fmt.Errorf("update container %s: %w", id, err)
	}
	rec.Spec.Linux.Resources = mergeResources(old, &delta)
	return r.save(rec)
}

// dropUnset clears the numbers that runc's update treats as "no change"
// when 0, so that they neither get written nor saved.
func dropUnset(r *specs.LinuxResources) {
	zero := func(p **int64) {
		if *p != nil && **p == 0 {
			*p = nil
		}
	}
	uzero := func(p **uint64) {
		if *p != nil && **p == 0 {
			*p = nil
		}
	}
	if m := r.Memory; m != nil {
		mc := *m
		zero(&mc.Limit)
		zero(&mc.Reservation)
		zero(&mc.Swap)
		//lint:ignore SA1019 runc's update passes 0 here too; dropped like the others.
		zero(&mc.Kernel)
		zero(&mc.KernelTCP)
		r.Memory = &mc
	}
	if c := r.CPU; c != nil {
		cc := *c
		uzero(&cc.Shares)
		zero(&cc.Quota)
		uzero(&cc.Period)
		zero(&cc.RealtimeRuntime)
		uzero(&cc.RealtimePeriod)
		r.CPU = &cc
	}
	if p := r.Pids; p != nil {
		pc := *p
		zero(&pc.Limit)
		r.Pids = &pc
	}
	if b := r.BlockIO; b != nil && b.Weight != nil && *b.Weight == 0 {
		bc := *b
		bc.Weight = nil
		r.BlockIO = &bc
	}
}

// completePairs fills in the halves that only make sense together: a swap
// limit needs the memory limit it is counted from (cgroup v2), and a v2
// cpu.max needs both quota and period.
func completePairs(delta, old *specs.LinuxResources) {
	if m := delta.Memory; m != nil && m.Swap != nil && m.Limit == nil && old.Memory != nil {
		m.Limit = old.Memory.Limit
	}
	if c, o := delta.CPU, old.CPU; c != nil && o != nil {
		if c.Quota != nil && c.Period == nil {
			c.Period = o.Period
		}
		if c.Period != nil && c.Quota == nil {
			c.Quota = o.Quota
		}
	}
}

// mergeResources returns old with every field that d sets replaced.
func mergeResources(old, d *specs.LinuxResources) *specs.LinuxResources {
	out := *old
	if d.Memory != nil {
		out.Memory = mergeMemory(old.Memory, d.Memory)
	}
	if d.CPU != nil {
		out.CPU = mergeCPU(old.CPU, d.CPU)
	}
	if d.Pids != nil && d.Pids.Limit != nil {
		out.Pids = &specs.LinuxPids{Limit: d.Pids.Limit}
	}
	if d.BlockIO != nil {
		out.BlockIO = mergeBlockIO(old.BlockIO, d.BlockIO)
	}
	if len(d.HugepageLimits) > 0 {
		out.HugepageLimits = mergeHugepages(old.HugepageLimits, d.HugepageLimits)
	}
	if d.Network != nil {
		out.Network = d.Network
	}
	if len(d.Rdma) > 0 {
		out.Rdma = maps.Clone(old.Rdma)
		if out.Rdma == nil {
			out.Rdma = map[string]specs.LinuxRdma{}
		}
		maps.Copy(out.Rdma, d.Rdma)
	}
	if len(d.Unified) > 0 {
		out.Unified = maps.Clone(old.Unified)
		if out.Unified == nil {
			out.Unified = map[string]string{}
		}
		maps.Copy(out.Unified, d.Unified)
	}
	return &out
}

// over replaces *dst with a copy of src when src is set.
func over[T any](dst **T, src *T) {
	if src != nil {
		v := *src
		*dst = &v
	}
}

func mergeMemory(old, d *specs.LinuxMemory) *specs.LinuxMemory {
	var out specs.LinuxMemory
	if old != nil {
		out = *old
	}
	over(&out.Limit, d.Limit)
	over(&out.Reservation, d.Reservation)
	over(&out.Swap, d.Swap)
	//lint:ignore SA1019 kept in the record as given, though never applied.
	over(&out.Kernel, d.Kernel)
	over(&out.KernelTCP, d.KernelTCP)
	over(&out.Swappiness, d.Swappiness)
	over(&out.DisableOOMKiller, d.DisableOOMKiller)
	over(&out.UseHierarchy, d.UseHierarchy)
	over(&out.CheckBeforeUpdate, d.CheckBeforeUpdate)
	return &out
}

func mergeCPU(old, d *specs.LinuxCPU) *specs.LinuxCPU {
	var out specs.LinuxCPU
	if old != nil {
		out = *old
	}
	over(&out.Shares, d.Shares)
	over(&out.Quota, d.Quota)
	over(&out.Burst, d.Burst)
	over(&out.Period, d.Period)
	over(&out.RealtimeRuntime, d.RealtimeRuntime)
	over(&out.RealtimePeriod, d.RealtimePeriod)
	over(&out.Idle, d.Idle)
	if d.Cpus != "" {
		out.Cpus = d.Cpus
	}
	if d.Mems != "" {
		out.Mems = d.Mems
	}
	return &out
}

// mergeBlockIO replaces the weights given and, per list, the devices given.
func mergeBlockIO(old, d *specs.LinuxBlockIO) *specs.LinuxBlockIO {
	var out specs.LinuxBlockIO
	if old != nil {
		out = *old
	}
	over(&out.Weight, d.Weight)
	over(&out.LeafWeight, d.LeafWeight)
	out.WeightDevice = mergeDevs(out.WeightDevice, d.WeightDevice, func(w specs.LinuxWeightDevice) specs.LinuxBlockIODevice { return w.LinuxBlockIODevice })
	thr := func(t specs.LinuxThrottleDevice) specs.LinuxBlockIODevice { return t.LinuxBlockIODevice }
	out.ThrottleReadBpsDevice = mergeDevs(out.ThrottleReadBpsDevice, d.ThrottleReadBpsDevice, thr)
	out.ThrottleWriteBpsDevice = mergeDevs(out.ThrottleWriteBpsDevice, d.ThrottleWriteBpsDevice, thr)
	out.ThrottleReadIOPSDevice = mergeDevs(out.ThrottleReadIOPSDevice, d.ThrottleReadIOPSDevice, thr)
	out.ThrottleWriteIOPSDevice = mergeDevs(out.ThrottleWriteIOPSDevice, d.ThrottleWriteIOPSDevice, thr)
	return &out
}

// mergeDevs replaces the entries of old for the devices in d, keeping the
// others, in order.
func mergeDevs[T any](old, d []T, dev func(T) specs.LinuxBlockIODevice) []T {
	out := slices.Clone(old)
	for _, n := range d {
		i := slices.IndexFunc(out, func(o T) bool { return dev(o) == dev(n) })
		if i >= 0 {
			out[i] = n
		} else {
			out = append(out, n)
		}
	}
	return out
}

func mergeHugepages(old, d []specs.LinuxHugepageLimit) []specs.LinuxHugepageLimit {
	out := slices.Clone(old)
	for _, n := range d {
		i := slices.IndexFunc(out, func(o specs.LinuxHugepageLimit) bool { return o.Pagesize == n.Pagesize })
		if i >= 0 {
			out[i] = n
		} else {
			out = append(out, n)
		}
	}
	return out
}

// defaultDeviceRules are the devices every container may use whatever its
// config says, appended after its own rules as runc does: mknod of any
// device, /dev/null, zero, full, random, urandom, tty, the pty devices and
// /dev/net/tun. Path names the device node a rule is for; a config that
// brings its own node at that path drops the rule.
var defaultDeviceRules = []struct {
	path string
	rule specs.LinuxDeviceCgroup
}{
	{"", devRule("c", -1, -1, "m")}, {"", devRule("b", -1, -1, "m")},
	{"/dev/null", devRule("c", 1, 3, "rwm")}, {"/dev/random", devRule("c", 1, 8, "rwm")},
	{"/dev/full", devRule("c", 1, 7, "rwm")}, {"/dev/tty", devRule("c", 5, 0, "rwm")},
	{"/dev/zero", devRule("c", 1, 5, "rwm")}, {"/dev/urandom", devRule("c", 1, 9, "rwm")},
	{"", devRule("c", 136, -1, "rwm")}, {"", devRule("c", 5, 2, "rwm")}, {"", devRule("c", 10, 200, "rwm")},
}

func devRule(typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	d := specs.LinuxDeviceCgroup{Allow: true, Type: typ, Access: access}
	if major >= 0 {
		d.Major = &major
	}
	if minor >= 0 {
		d.Minor = &minor
	}
	return d
}

// cgroupResources is what create applies to a new container's cgroup: the
// config's linux.resources with the default device rules after its own.
func cgroupResources(spec *specs.Spec) *specs.LinuxResources {
	var out specs.LinuxResources
	var own []specs.LinuxDevice
	if spec.Linux != nil {
		if spec.Linux.Resources != nil {
			out = *spec.Linux.Resources
		}
		own = spec.Linux.Devices
	}
	out.Devices = slices.Clone(out.Devices)
	for _, d := range defaultDeviceRules {
		if d.path != "" && slices.ContainsFunc(own, func(o specs.LinuxDevice) bool { return o.Path == d.path }) {
			continue
		}
		out.Devices = append(out.Devices, d.rule)
	}
	return &out
}

// createLimits splits cgroupResources(spec) for create: early holds every
// limit but the pids limit, to apply right after the cgroup is made and
// before init joins it; late holds the pids limit, to apply once init
// reports ready (before any user code runs). Init is a Go program whose
// runtime starts threads as it needs them, and a low pids.max in force
// earlier makes it abort ("pthread_create failed"); runc, also Go, applies
// its limits at that same point.
func createLimits(spec *specs.Spec) (early, late *specs.LinuxResources) {
	early = cgroupResources(spec)
	late = &specs.LinuxResources{Pids: early.Pids}
	early.Pids = nil
	return early, late
}
