package spec

import (
	"reflect"

	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cfsPeriod is the CFS period --cpus uses, in microseconds (100ms).
const cfsPeriod = 100000

// resources fills linux.resources from HostConfig. Only limits that are
// set appear, so that a runtime never touches a controller the container
// does not limit.
func (b *builder) resources() error {
	r := &b.hc.Resources
	if n := int64(b.in.Host.NumCPU); n > 0 && r.NanoCPUs > n*1e9 {
		return invalid("invalid --cpus %s: range is 0.01 to %d.00, as there are only %d CPUs available", cpus(r.NanoCPUs), n, n)
	}
	res := &specs.LinuxResources{Memory: memory(b.hc), CPU: cpu(b.hc)}
	if r.PidsLimit != nil {
		limit := *r.PidsLimit
		if limit <= 0 {
			limit = -1 // 0 and negative mean unlimited in Docker's API
		}
		res.Pids = &specs.LinuxPids{Limit: &limit}
	}
	blkio, err := b.blockIO()
	if err != nil {
		return err
	}
	res.BlockIO = blkio
	b.lx().Resources = res
	return nil
}

func memory(hc *container.HostConfig) *specs.LinuxMemory {
	r := &hc.Resources
	m := &specs.LinuxMemory{}
	set := false
	setI := func(dst **int64, v int64) {
		if v != 0 {
			*dst, set = &v, true
		}
	}
	setI(&m.Limit, max(r.Memory, 0))
	setI(&m.Reservation, max(r.MemoryReservation, 0))
	swap := r.MemorySwap
	if swap == 0 && r.Memory > 0 {
		swap = 2 * r.Memory // dockerd's default: as much swap as memory
	}
	setI(&m.Swap, max(swap, 0)) // -1, unlimited, is the default
	if r.MemorySwappiness != nil && *r.MemorySwappiness >= 0 {
		v := uint64(*r.MemorySwappiness)
		m.Swappiness, set = &v, true
	}
	if r.OomKillDisable != nil && *r.OomKillDisable {
		m.DisableOOMKiller, set = ptrTo(true), true
	}
	if !set {
		return nil
	}
	return m
}

func cpu(hc *container.HostConfig) *specs.LinuxCPU {
	r := &hc.Resources
	c := &specs.LinuxCPU{Cpus: r.CpusetCpus, Mems: r.CpusetMems}
	if r.CPUShares > 0 {
		v := uint64(r.CPUShares)
		c.Shares = &v
	}
	if r.NanoCPUs > 0 {
		period := uint64(cfsPeriod)
		quota := r.NanoCPUs * cfsPeriod / 1e9
		c.Period, c.Quota = &period, &quota
	}
	if r.CPUPeriod > 0 {
		v := uint64(r.CPUPeriod)
		c.Period = &v
	}
	if r.CPUQuota > 0 {
		v := r.CPUQuota
		c.Quota = &v
	}
	if r.CPURealtimePeriod > 0 {
		v := uint64(r.CPURealtimePeriod)
		c.RealtimePeriod = &v
	}
	if r.CPURealtimeRuntime > 0 {
		v := r.CPURealtimeRuntime
		c.RealtimeRuntime = &v
	}
	if *c == (specs.LinuxCPU{}) {
		return nil
	}
	return c
}

// blockIO converts the blkio weight and the per-device limits, whose host
// paths the engine resolved to device numbers.
func (b *builder) blockIO() (*specs.LinuxBlockIO, error) {
	r := &b.hc.Resources
	bio := &specs.LinuxBlockIO{}
	if r.BlkioWeight > 0 {
		w := r.BlkioWeight
		bio.Weight = &w
	}
	for _, d := range r.BlkioWeightDevice {
		if d == nil {
			continue
		}
		n, err := b.deviceNumber("--blkio-weight-device", d.Path)
		if err != nil {
			return nil, err
		}
		w := d.Weight
		wd := specs.LinuxWeightDevice{Weight: &w}
		wd.Major, wd.Minor = n.Major, n.Minor
		bio.WeightDevice = append(bio.WeightDevice, wd)
	}
	var err error
	for _, t := range []struct {
		flag string
		devs []*blkiodev.ThrottleDevice
		dst  *[]specs.LinuxThrottleDevice
	}{
		{"--device-read-bps", r.BlkioDeviceReadBps, &bio.ThrottleReadBpsDevice},
		{"--device-write-bps", r.BlkioDeviceWriteBps, &bio.ThrottleWriteBpsDevice},
		{"--device-read-iops", r.BlkioDeviceReadIOps, &bio.ThrottleReadIOPSDevice},
		{"--device-write-iops", r.BlkioDeviceWriteIOps, &bio.ThrottleWriteIOPSDevice},
	} {
		if *t.dst, err = b.throttles(t.flag, t.devs); err != nil {
			return nil, err
		}
	}
	if reflect.ValueOf(*bio).IsZero() {
		return nil, nil
	}
	return bio, nil
}

func (b *builder) throttles(flag string, devs []*blkiodev.ThrottleDevice) ([]specs.LinuxThrottleDevice, error) {
	var out []specs.LinuxThrottleDevice
	for _, d := range devs {
		if d == nil {
			continue
		}
		n, err := b.deviceNumber(flag, d.Path)
		if err != nil {
			return nil, err
		}
		td := specs.LinuxThrottleDevice{Rate: d.Rate}
		td.Major, td.Minor = n.Major, n.Minor
		out = append(out, td)
	}
	return out, nil
}

func (b *builder) deviceNumber(flag, p string) (DeviceNumber, error) {
	n, ok := b.in.DeviceNumbers[p]
	if !ok {
		return DeviceNumber{}, invalid("invalid %s %q: the engine found no such block device", flag, p)
	}
	return n, nil
}
