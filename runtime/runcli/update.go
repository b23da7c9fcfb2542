package runcli

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// updateFlags are runc's `update` flags; numbers are strings so that an
// unset flag is told apart from 0, as in runc.
type updateFlags struct {
	resources                              string
	blkioWeight, pidsLimit                 int
	cpuPeriod, cpuQuota, cpuShares         string
	cpuRtPeriod, cpuRtRuntime              string
	cpusetCpus, cpusetMems                 string
	memory, memoryReservation, memorySwap  string
	kernelMemory, kernelMemoryTCP, cpuShr2 string
}

func updateCmd(g *globals) *cobra.Command {
	var u *updateFlags
	cmd := &cobra.Command{
		Use:   "update [flags] <container-id>",
		Short: "update a container's resource limits",
		Long: `Update the resource limits of a created, running or paused container.
With -r FILE (or -r - for standard input) the limits are read as the JSON of
config.json's linux.resources, and the other flags are ignored. Unset
values, and 0 for the numbers, are left as they are.`,
		Args: oneID,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := u.build(cmd.Flags(), cmd.InOrStdin())
			if err != nil {
				return err
			}
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			return rt.Update(args[0], res)
		},
	}
	u = addUpdateFlags(cmd.Flags())
	return cmd
}

// addUpdateFlags defines runc's update flags on f.
func addUpdateFlags(f *pflag.FlagSet) *updateFlags {
	u := &updateFlags{}
	f.StringVarP(&u.resources, "resources", "r", "", "JSON file of linux.resources to apply, - for standard input")
	f.IntVar(&u.blkioWeight, "blkio-weight", 0, "block I/O weight, 10 to 1000")
	f.StringVar(&u.cpuPeriod, "cpu-period", "", "CPU CFS period (µs)")
	f.StringVar(&u.cpuQuota, "cpu-quota", "", "CPU CFS quota (µs) per period")
	f.StringVar(&u.cpuShares, "cpu-share", "", "CPU shares (relative weight)")
	f.StringVar(&u.cpuShr2, "cpu-shares", "", "same as --cpu-share")
	f.StringVar(&u.cpuRtPeriod, "cpu-rt-period", "", "CPU realtime period (µs)")
	f.StringVar(&u.cpuRtRuntime, "cpu-rt-runtime", "", "CPU realtime runtime (µs) per period")
	f.StringVar(&u.cpusetCpus, "cpuset-cpus", "", "CPUs to use (e.g. 0-2,4)")
	f.StringVar(&u.cpusetMems, "cpuset-mems", "", "memory nodes to use")
	f.StringVar(&u.memory, "memory", "", "memory limit (bytes, or 512m, 1g...; -1 for none)")
	f.StringVar(&u.memoryReservation, "memory-reservation", "", "memory soft limit")
	f.StringVar(&u.memorySwap, "memory-swap", "", "memory+swap limit; -1 for unlimited swap")
	f.StringVar(&u.kernelMemory, "kernel-memory", "", "ignored (kernel memory limits are obsolete)")
	f.StringVar(&u.kernelMemoryTCP, "kernel-memory-tcp", "", "ignored (kernel memory limits are obsolete)")
	f.IntVar(&u.pidsLimit, "pids-limit", 0, "maximum number of processes")
	_ = f.MarkHidden("kernel-memory-tcp")
	return u
}

// build turns the flags (or the -r file) into the resources to apply.
func (u *updateFlags) build(fs *pflag.FlagSet, stdin io.Reader) (*specs.LinuxResources, error) {
	if u.resources != "" {
		return readResources(u.resources, stdin)
	}
	if u.kernelMemory != "" || u.kernelMemoryTCP != "" {
		slog.Warn("--kernel-memory and --kernel-memory-tcp are ignored: the kernel no longer supports them")
	}
	res := &specs.LinuxResources{}
	mem, err := u.memoryLimits()
	if err != nil {
		return nil, err
	}
	res.Memory = mem
	if res.CPU, err = u.cpuLimits(); err != nil {
		return nil, err
	}
	if fs.Changed("pids-limit") {
		v := int64(u.pidsLimit)
		res.Pids = &specs.LinuxPids{Limit: &v}
	}
	if fs.Changed("blkio-weight") {
		if u.blkioWeight < 0 || u.blkioWeight > math.MaxUint16 {
			return nil, fmt.Errorf("invalid value for --blkio-weight: %d", u.blkioWeight)
		}
		w := uint16(u.blkioWeight)
		res.BlockIO = &specs.LinuxBlockIO{Weight: &w}
	}
	return res, nil
}

// readResources decodes linux.resources JSON from a file or, for "-", stdin.
func readResources(path string, stdin io.Reader) (*specs.LinuxResources, error) {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read resources: %w", err)
		}
		defer f.Close()
		r = f
	}
	var res specs.LinuxResources
	if err := json.NewDecoder(r).Decode(&res); err != nil {
		return nil, fmt.Errorf("decode resources from %s: %w", path, err)
	}
	return &res, nil
}

func (u *updateFlags) memoryLimits() (*specs.LinuxMemory, error) {
	var m specs.LinuxMemory
	for _, f := range []struct {
		name string
		val  string
		dst  **int64
	}{{"memory", u.memory, &m.Limit}, {"memory-reservation", u.memoryReservation, &m.Reservation},
		{"memory-swap", u.memorySwap, &m.Swap}} {
		if f.val == "" {
			continue
		}
		v, err := parseSize(f.val)
		if err != nil {
			return nil, fmt.Errorf("invalid value for --%s: %w", f.name, err)
		}
		*f.dst = &v
	}
	if m == (specs.LinuxMemory{}) {
		return nil, nil
	}
	return &m, nil
}

func (u *updateFlags) cpuLimits() (*specs.LinuxCPU, error) {
	c := specs.LinuxCPU{Cpus: u.cpusetCpus, Mems: u.cpusetMems}
	shares := u.cpuShares
	if shares == "" {
		shares = u.cpuShr2
	}
	for _, f := range []struct {
		name, val string
		dst       **uint64
	}{{"cpu-period", u.cpuPeriod, &c.Period}, {"cpu-rt-period", u.cpuRtPeriod, &c.RealtimePeriod}, {"cpu-share", shares, &c.Shares}} {
		if f.val == "" {
			continue
		}
		v, err := strconv.ParseUint(f.val, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid value for --%s: %w", f.name, err)
		}
		*f.dst = &v
	}
	for _, f := range []struct {
		name, val string
		dst       **int64
	}{{"cpu-quota", u.cpuQuota, &c.Quota}, {"cpu-rt-runtime", u.cpuRtRuntime, &c.RealtimeRuntime}} {
		if f.val == "" {
			continue
		}
		v, err := strconv.ParseInt(f.val, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid value for --%s: %w", f.name, err)
		}
		*f.dst = &v
	}
	if c == (specs.LinuxCPU{}) {
		return nil, nil
	}
	return &c, nil
}

// sizeRe is a size as docker/go-units' RAMInBytes takes it: a number, an
// optional binary unit (k, m, g, t, p; optionally "i" and/or "b").
// Compiled on first use: a package-level regexp costs every runtime command
// its compile at start-up.
var sizeRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$`)
})

// parseSize parses "-1", "1024", "512m", "1.5GiB" into bytes (binary units).
func parseSize(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	m := sizeRe().FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size like 1024, 512m or 2g", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	if m[2] != "" {
		n *= math.Pow(1024, float64(strings.Index("kmgtp", strings.ToLower(m[2]))+1))
	}
	if n >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(n), nil
}
