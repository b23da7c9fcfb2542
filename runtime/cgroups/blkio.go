package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const fieldBlkio = "linux.resources.blockIO"

func blkioRequested(b *specs.LinuxBlockIO) bool {
	return b != nil && (wset(b.Weight) || wset(b.LeafWeight) || len(b.WeightDevice) > 0 ||
		len(b.ThrottleReadBpsDevice) > 0 || len(b.ThrottleWriteBpsDevice) > 0 ||
		len(b.ThrottleReadIOPSDevice) > 0 || len(b.ThrottleWriteIOPSDevice) > 0)
}

// throttles pairs each throttle list with its field, v1 file and v2 key.
func throttles(b *specs.LinuxBlockIO) []struct {
	field, v1File, v2Key string
	devs                 []specs.LinuxThrottleDevice
} {
	return []struct {
		field, v1File, v2Key string
		devs                 []specs.LinuxThrottleDevice
	}{
		{fieldBlkio + ".throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps", b.ThrottleReadBpsDevice},
		{fieldBlkio + ".throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps", b.ThrottleWriteBpsDevice},
		{fieldBlkio + ".throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops", b.ThrottleReadIOPSDevice},
		{fieldBlkio + ".throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops", b.ThrottleWriteIOPSDevice},
	}
}

func (m *Manager) planBlockIO(p *plan, r *specs.LinuxResources) error {
	b := r.BlockIO
	if !blkioRequested(b) {
		return nil
	}
	if m.isV2() {
		dir, err := m.controllerDir(fieldBlkio, "io")
		if err != nil {
			return err
		}
		return planIOV2(p, dir, b)
	}
	dir, err := m.controllerDir(fieldBlkio, "blkio")
	if err != nil {
		return err
	}
	return planBlkioV1(p, dir, b)
}

func devKey(d specs.LinuxBlockIODevice) string { return fmt.Sprintf("%d:%d", d.Major, d.Minor) }

func checkDev(field string, d specs.LinuxBlockIODevice) error {
	if d.Major < 0 || d.Minor < 0 {
		return &LimitError{Field: field, Value: devKey(d), Err: errors.New("invalid device number")}
	}
	return nil
}

// planBlkioV1 writes the weights (to the CFQ files, else BFQ's) and the
// throttle limits, one "MAJ:MIN VALUE" line per device.
func planBlkioV1(p *plan, dir string, b *specs.LinuxBlockIO) error {
	weight, weightDev := "blkio.weight", "blkio.weight_device"
	if !exists(dir, weight) && exists(dir, "blkio.bfq.weight") {
		weight, weightDev = "blkio.bfq.weight", "blkio.bfq.weight_device"
	}
	if wset(b.Weight) {
		if err := need(dir, weight, fieldBlkio+".weight", *b.Weight); err != nil {
			return err
		}
		p.ops = append(p.ops, op{field: fieldBlkio + ".weight", value: fmt.Sprint(*b.Weight),
			dir: dir, file: weight, data: fmt.Sprint(*b.Weight)})
	}
	if wset(b.LeafWeight) {
		if err := need(dir, "blkio.leaf_weight", fieldBlkio+".leafWeight", *b.LeafWeight); err != nil {
			return err
		}
		p.ops = append(p.ops, op{field: fieldBlkio + ".leafWeight", value: fmt.Sprint(*b.LeafWeight),
			dir: dir, file: "blkio.leaf_weight", data: fmt.Sprint(*b.LeafWeight)})
	}
	if err := planWeightDevicesV1(p, dir, weightDev, b.WeightDevice); err != nil {
		return err
	}
	for _, t := range throttles(b) {
		for _, d := range t.devs {
			if err := checkDev(t.field, d.LinuxBlockIODevice); err != nil {
				return err
			}
			p.ops = append(p.ops, deviceOp(t.field, dir, t.v1File, d.LinuxBlockIODevice, d.Rate))
		}
	}
	return nil
}

// planWeightDevicesV1 writes per-device weights and leaf weights.
func planWeightDevicesV1(p *plan, dir, weightDev string, wds []specs.LinuxWeightDevice) error {
	const field = fieldBlkio + ".weightDevice"
	for _, wd := range wds {
		if err := checkDev(field, wd.LinuxBlockIODevice); err != nil {
			return err
		}
		for _, w := range []struct {
			v    *uint16
			file string
		}{{wd.Weight, weightDev}, {wd.LeafWeight, "blkio.leaf_weight_device"}} {
			if w.v == nil {
				continue
			}
			if err := need(dir, w.file, field, *w.v); err != nil {
				return err
			}
			p.ops = append(p.ops, deviceOp(field, dir, w.file, wd.LinuxBlockIODevice, uint64(*w.v)))
		}
	}
	return nil
}

// need fails when the kernel has no file for a requested setting.
func need(dir, file, field string, v any) error {
	if exists(dir, file) {
		return nil
	}
	return &LimitError{Field: field, Value: fmt.Sprint(v),
		Err: fmt.Errorf("not supported by this kernel or I/O scheduler (no %s)", file)}
}

// deviceOp writes "MAJ:MIN VALUE" into a per-device v1 file; undo puts the
// device's old value back (0 removes the entry).
func deviceOp(field, dir, file string, d specs.LinuxBlockIODevice, v uint64) op {
	key := devKey(d)
	return op{field: field, value: key + " " + utoa(v), dir: dir, file: file, data: key + " " + utoa(v),
		undo: func(old string) []restore {
			prev := "0"
			for _, line := range strings.Split(old, "\n") {
				if f := strings.Fields(line); len(f) == 2 && f[0] == key {
					prev = f[1]
				}
			}
			return []restore{{file, key + " " + prev}}
		}}
}

// planIOV2 writes io.bfq.weight when BFQ is there, else io.weight with the
// weight converted from [10, 1000] to [1, 10000]; throttles go to io.max.
func planIOV2(p *plan, dir string, b *specs.LinuxBlockIO) error {
	bfq := exists(dir, "io.bfq.weight")
	if wset(b.Weight) {
		file, v := "io.weight", utoa(BlkioToIOWeight(*b.Weight))
		if bfq {
			file, v = "io.bfq.weight", fmt.Sprint(*b.Weight)
		}
		p.ops = append(p.ops, op{field: fieldBlkio + ".weight", value: fmt.Sprint(*b.Weight), dir: dir, file: file, data: v,
			undo: func(old string) []restore { return []restore{{file, defaultWeight(old)}} }})
	}
	perDevBFQ := bfq && bfqPerDevice(dir)
	for _, wd := range b.WeightDevice {
		field := fieldBlkio + ".weightDevice"
		if err := checkDev(field, wd.LinuxBlockIODevice); err != nil {
			return err
		}
		if wd.Weight == nil {
			continue
		}
		file, v := "io.weight", BlkioToIOWeight(*wd.Weight)
		if perDevBFQ {
			file, v = "io.bfq.weight", uint64(*wd.Weight)
		}
		p.ops = append(p.ops, deviceOp(field, dir, file, wd.LinuxBlockIODevice, v))
	}
	warnV1Only(wset(b.LeafWeight), fieldBlkio+".leafWeight")
	for _, t := range throttles(b) {
		for _, d := range t.devs {
			if err := checkDev(t.field, d.LinuxBlockIODevice); err != nil {
				return err
			}
			p.ops = append(p.ops, ioMaxOp(t.field, dir, t.v2Key, d))
		}
	}
	return nil
}

// ioMaxOp writes "MAJ:MIN KEY=RATE" to io.max; undo restores the key's old
// value ("max" when the device had no line).
func ioMaxOp(field, dir, key string, d specs.LinuxThrottleDevice) op {
	dev := devKey(d.LinuxBlockIODevice)
	data := fmt.Sprintf("%s %s=%d", dev, key, d.Rate)
	return op{field: field, value: dev + " " + utoa(d.Rate), dir: dir, file: "io.max", data: data,
		undo: func(old string) []restore {
			prev := "max"
			for _, line := range strings.Split(old, "\n") {
				f := strings.Fields(line)
				if len(f) == 0 || f[0] != dev {
					continue
				}
				for _, kv := range f[1:] {
					if k, v, ok := strings.Cut(kv, "="); ok && k == key {
						prev = v
					}
				}
			}
			return []restore{{"io.max", dev + " " + key + "=" + prev}}
		}}
}

// defaultWeight turns the content of io.weight or io.bfq.weight ("default
// 100\n8:0 200", or a bare number on old kernels) into the write that
// restores the default weight.
func defaultWeight(old string) string {
	if v := keyedValue(old, "default"); v != "" {
		return v
	}
	return strings.TrimSpace(old)
}

// bfqPerDevice reports whether io.bfq.weight takes per-device weights
// (kernel 5.4+): it then reads as "default N" rather than a bare number.
func bfqPerDevice(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "io.bfq.weight"))
	if err != nil {
		return false
	}
	_, err = strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	return err != nil
}

// BlkioToIOWeight converts a v1 blkio weight [10, 1000] to a v2 io.weight
// [1, 10000] linearly, as runc does.
func BlkioToIOWeight(w uint16) uint64 {
	if w == 0 {
		return 0
	}
	if w < 10 {
		w = 10
	}
	return 1 + (uint64(w)-10)*9999/990
}

// wset reports whether a blkio weight is requested: 0 means unset, as runc
// reads it (dockerd sends weight 0 when --blkio-weight is not given).
func wset(w *uint16) bool { return w != nil && *w != 0 }
