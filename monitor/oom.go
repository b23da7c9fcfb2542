package monitor

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
)

// oomCounter is the file that counts the OOM kills of a container's
// memory cgroup: memory.events ("oom_kill N") on cgroup v2,
// memory.oom_control (the same key, Linux 4.13 on) on v1. Reading it once
// the container exited, before the cgroup is removed, tells whether the
// kernel killed one of its processes for memory; no watcher runs meanwhile.
type oomCounter string

// findOOMCounter locates the memory cgroup of process pid (the container's
// init) from /proc/PID/cgroup and the mount table; "" when there is none.
func findOOMCounter(pid int) oomCounter {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return ""
	}
	var v1, v2 string
	haveV1 := false
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2 = parts[2]
		} else if slices.Contains(strings.Split(parts[1], ","), "memory") {
			v1, haveV1 = parts[2], true
		}
	}
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return ""
	}
	for _, m := range mounts {
		switch {
		case haveV1 && m.FSType == "cgroup" && slices.Contains(strings.Split(m.VFSOptions, ","), "memory"):
			return oomCounter(filepath.Join(m.Mountpoint, strings.TrimPrefix(v1, m.Root), "memory.oom_control"))
		case !haveV1 && m.FSType == "cgroup2":
			file := filepath.Join(m.Mountpoint, strings.TrimPrefix(v2, m.Root), "memory.events")
			if _, err := os.Stat(file); err == nil {
				return oomCounter(file)
			}
		}
	}
	return ""
}

// kills reads the number of OOM kills (0 when unknown).
func (c oomCounter) kills() uint64 {
	if c == "" {
		return 0
	}
	data, err := os.ReadFile(string(c))
	if err != nil {
		return 0
	}
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), " "); ok && k == "oom_kill" {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}
