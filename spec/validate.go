package spec

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
)

// minMemory is the smallest memory limit or reservation dockerd accepts.
const minMemory = 6 << 20

// Validate checks what dockerd checks at create, so that a container that
// would not start is refused then: the command, working directory,
// namespace modes, resources, capabilities, ulimits, security options,
// devices, sysctls and tmpfs mounts. c is the merged config
// (MergeImageConfig). Errors are errdefs.ErrInvalidArgument and name the
// flag and the value.
func Validate(c *container.Config, hc *container.HostConfig) error {
	if len(c.Entrypoint) == 0 && len(c.Cmd) == 0 {
		return invalid("no command specified")
	}
	if c.WorkingDir != "" && !path.IsAbs(c.WorkingDir) {
		return invalid("the working directory '%s' is invalid, it needs to be an absolute path", c.WorkingDir)
	}
	checks := []func(*container.HostConfig) error{
		checkModes, checkMemory, checkCPU, checkOther, checkSecurity, checkSysctls, checkDeviceFlags,
	}
	for _, check := range checks {
		if err := check(hc); err != nil {
			return err
		}
	}
	return nil
}

func checkModes(hc *container.HostConfig) error {
	switch {
	case !hc.IpcMode.Valid() || (hc.IpcMode.IsContainer() && hc.IpcMode.Container() == ""):
		return invalid("invalid --ipc %q", hc.IpcMode)
	case !hc.PidMode.Valid():
		return invalid("invalid --pid %q", hc.PidMode)
	case !hc.UTSMode.Valid():
		return invalid("invalid --uts %q", hc.UTSMode)
	case !hc.CgroupnsMode.Valid():
		return invalid("invalid --cgroupns %q", hc.CgroupnsMode)
	case !hc.UsernsMode.Valid():
		return invalid("invalid --userns %q", hc.UsernsMode)
	case hc.NetworkMode.IsContainer() && hc.NetworkMode.ConnectedContainer() == "":
		return invalid("invalid --network %q", hc.NetworkMode)
	}
	return nil
}

func checkMemory(hc *container.HostConfig) error {
	r := &hc.Resources
	switch {
	case r.Memory < 0 || (r.Memory > 0 && r.Memory < minMemory):
		return invalid("invalid --memory %d: minimum memory limit allowed is 6MB", r.Memory)
	case r.MemorySwap > 0 && r.Memory == 0:
		return invalid("invalid --memory-swap %d: set --memory too", r.MemorySwap)
	case r.MemorySwap > 0 && r.MemorySwap < r.Memory:
		return invalid("invalid --memory-swap %d: it must be at least --memory (%d)", r.MemorySwap, r.Memory)
	case r.MemorySwap < -1:
		return invalid("invalid --memory-swap %d", r.MemorySwap)
	case r.MemoryReservation < 0 || (r.MemoryReservation > 0 && r.MemoryReservation < minMemory):
		return invalid("invalid --memory-reservation %d: minimum memory reservation allowed is 6MB", r.MemoryReservation)
	case r.Memory > 0 && r.MemoryReservation > r.Memory:
		return invalid("invalid --memory-reservation %d: larger than --memory %d", r.MemoryReservation, r.Memory)
	case r.MemorySwappiness != nil && (*r.MemorySwappiness < -1 || *r.MemorySwappiness > 100):
		return invalid("invalid --memory-swappiness %d: valid range is 0-100", *r.MemorySwappiness)
	case hc.ShmSize < 0:
		return invalid("invalid --shm-size %d: must not be negative", hc.ShmSize)
	}
	return nil
}

func checkCPU(hc *container.HostConfig) error {
	r := &hc.Resources
	switch {
	case r.NanoCPUs < 0:
		return invalid("invalid --cpus %s: must not be negative", cpus(r.NanoCPUs))
	case r.NanoCPUs > 0 && r.CPUPeriod > 0:
		return invalid("conflicting options: --cpus and --cpu-period cannot both be set")
	case r.NanoCPUs > 0 && r.CPUQuota > 0:
		return invalid("conflicting options: --cpus and --cpu-quota cannot both be set")
	case r.NanoCPUs > 0 && r.NanoCPUs*cfsPeriod/1e9 < 1000:
		return invalid("invalid --cpus %s: the smallest is 0.01", cpus(r.NanoCPUs))
	case r.CPUShares < 0:
		return invalid("invalid --cpu-shares %d: must not be negative", r.CPUShares)
	case r.CPUPeriod != 0 && (r.CPUPeriod < 1000 || r.CPUPeriod > 1000000):
		return invalid("invalid --cpu-period %d: must be between 1000 (1ms) and 1000000 (1s)", r.CPUPeriod)
	case r.CPUQuota != 0 && r.CPUQuota < 1000 && r.CPUQuota != -1:
		return invalid("invalid --cpu-quota %d: must be at least 1000 (1ms)", r.CPUQuota)
	case r.BlkioWeight != 0 && (r.BlkioWeight < 10 || r.BlkioWeight > 1000):
		return invalid("invalid --blkio-weight %d: range is 10 to 1000", r.BlkioWeight)
	}
	if err := checkCPUList("--cpuset-cpus", r.CpusetCpus); err != nil {
		return err
	}
	return checkCPUList("--cpuset-mems", r.CpusetMems)
}

func cpus(nano int64) string { return strconv.FormatFloat(float64(nano)/1e9, 'f', -1, 64) }

// checkCPUList checks the kernel's list syntax: "0-3,5,7-8".
func checkCPUList(flag, s string) error {
	if s == "" {
		return nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.ParseUint(lo, 10, 16)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.ParseUint(hi, 10, 16)
		}
		if err1 != nil || err2 != nil || b < a {
			return invalid("invalid %s %q: want a list like 0-3,5", flag, s)
		}
	}
	return nil
}

func checkOther(hc *container.HostConfig) error {
	if hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000 {
		return invalid("invalid --oom-score-adj %d: range is [-1000, 1000]", hc.OomScoreAdj)
	}
	for _, u := range hc.Ulimits {
		if u == nil {
			continue
		}
		if err := checkUlimit(u); err != nil {
			return err
		}
	}
	if _, err := Caps(hc.CapAdd, hc.CapDrop, hc.Privileged, nil); err != nil {
		return err
	}
	for dest, opts := range hc.Tmpfs {
		if !path.IsAbs(dest) || path.Clean(dest) == "/" {
			return invalid("invalid --tmpfs %q: the path must be absolute and not /", dest)
		}
		if _, err := mergeTmpfsOptions(dest, strings.Split(opts, ",")); err != nil {
			return err
		}
	}
	return nil
}

func checkSecurity(hc *container.HostConfig) error {
	sec, err := parseSecurityOpts(hc.SecurityOpt)
	if err != nil {
		return err
	}
	switch sec.seccomp {
	case "", SeccompUnconfined, SeccompBuiltin:
		return nil
	}
	if _, err := ParseProfile([]byte(sec.seccomp)); err != nil {
		return fmt.Errorf("invalid --security-opt seccomp: %w", err)
	}
	return nil
}

func checkDeviceFlags(hc *container.HostConfig) error {
	for _, d := range hc.Devices {
		s := d.PathOnHost + ":" + d.PathInContainer + ":" + d.CgroupPermissions
		switch {
		case !path.IsAbs(d.PathOnHost):
			return invalid("invalid --device %q: the host path must be absolute", s)
		case d.PathInContainer != "" && !path.IsAbs(d.PathInContainer):
			return invalid("invalid --device %q: the path in the container must be absolute", s)
		case d.CgroupPermissions != "" && !validDeviceMode(d.CgroupPermissions):
			return invalid("invalid --device %q: bad mode %q (a combination of r, w and m)", s, d.CgroupPermissions)
		}
	}
	for _, r := range hc.DeviceCgroupRules {
		if _, err := ParseDeviceCgroupRule(r); err != nil {
			return err
		}
	}
	return nil
}

// Namespaced sysctls a container may set, as Docker allows: System V IPC
// and POSIX message queues (IPC namespace), and net.* (network namespace).
var (
	ipcSysctls = []string{"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
		"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}
	errSysctlName = errors.New("not a sysctl name")
)

func checkSysctls(hc *container.HostConfig) error {
	for k := range hc.Sysctls {
		if err := sysctlName(k); err != nil {
			return invalid("invalid --sysctl %q: %v", k, err)
		}
		switch {
		case slices.Contains(ipcSysctls, k) || strings.HasPrefix(k, "fs.mqueue."):
			if hc.IpcMode.IsHost() {
				return invalid("invalid --sysctl %q: not allowed with --ipc host", k)
			}
		case strings.HasPrefix(k, "net."):
			if hc.NetworkMode.IsHost() {
				return invalid("invalid --sysctl %q: not allowed with --network host", k)
			}
		default:
			return invalid("invalid --sysctl %q: not a namespaced sysctl a container may set", k)
		}
	}
	return nil
}

// sysctlName refuses names that are not dotted (or slashed) words: a
// runtime turns the name into a path under /proc/sys, so ".." or an empty
// component must not pass.
func sysctlName(k string) error {
	for _, part := range strings.Split(strings.ReplaceAll(k, "/", "."), ".") {
		if part == "" || strings.IndexFunc(part, badSysctlRune) >= 0 {
			return errSysctlName
		}
	}
	return nil
}

func badSysctlRune(r rune) bool {
	return !(r == '_' || r == '-' || r == '@' || r == ':' ||
		(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))
}
