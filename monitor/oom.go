package monitor

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
	v1, v2, haveV1, ok := memoryCgroup(pid)
	if !ok {
		return ""
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if !bytes.Contains(s.Bytes(), []byte(" - cgroup")) {
			continue // most lines: no string made of them
		}
		m, ok := parseCgroupMount(s.Text())
		switch {
		case !ok:
		case haveV1 && m.fstype == "cgroup" && slices.Contains(strings.Split(m.options, ","), "memory"):
			return oomCounter(filepath.Join(m.point, strings.TrimPrefix(v1, m.root), "memory.oom_control"))
		case !haveV1 && m.fstype == "cgroup2":
			file := filepath.Join(m.point, strings.TrimPrefix(v2, m.root), "memory.events")
			if _, err := os.Stat(file); err == nil {
				return oomCounter(file)
			}
		}
	}
	return ""
}

// memoryCgroup reads process pid's cgroup paths: in the v1 memory
// hierarchy (haveV1) and in the unified one.
func memoryCgroup(pid int) (v1, v2 string, haveV1, ok bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return "", "", false, false
	}
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
	return v1, v2, haveV1, true
}

// cgroupMount is what findOOMCounter needs of a mount.
type cgroupMount struct {
	root, point, fstype, options string
}

// parseCgroupMount reads a line of /proc/self/mountinfo ("ID PARENT
// MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS") when it
// is a cgroup or cgroup2 mount. Lines are scanned in place, without the
// allocations of a general parser: a host with many containers has many
// mounts, and an idle monitor keeps its garbage until a collection.
func parseCgroupMount(line string) (cgroupMount, bool) {
	_, tail, ok := strings.Cut(line, " - ")
	if !ok || !strings.HasPrefix(tail, "cgroup") {
		return cgroupMount{}, false
	}
	tf := strings.Fields(tail)
	hf := strings.Fields(line[:len(line)-len(tail)-3])
	if len(tf) < 3 || len(hf) < 6 || tf[0] != "cgroup" && tf[0] != "cgroup2" {
		return cgroupMount{}, false
	}
	return cgroupMount{root: unescapeOctal(hf[3]), point: unescapeOctal(hf[4]), fstype: tf[0], options: tf[2]}, true
}

// unescapeOctal undoes the kernel's \ooo escapes of space, tab, newline
// and backslash in mountinfo paths.
func unescapeOctal(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }

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
