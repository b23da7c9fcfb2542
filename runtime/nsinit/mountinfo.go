package nsinit

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// mountInfo is the part of one /proc/self/mountinfo line that init uses.
type mountInfo struct {
	root       string // path of the mounted directory inside its filesystem
	mountpoint string
	fstype     string
	superOpts  []string
}

// readMountInfo parses /proc/self/mountinfo.
func readMountInfo() ([]mountInfo, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	defer f.Close()
	infos, err := parseMountInfo(f)
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	return infos, nil
}

// parseMountInfo parses the format of proc(5)'s mountinfo:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
func parseMountInfo(r io.Reader) ([]mountInfo, error) {
	var infos []mountInfo
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i := 6; i < len(fields); i++ {
			if fields[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || len(fields) < sep+4 {
			return nil, fmt.Errorf("malformed mountinfo line %q", sc.Text())
		}
		infos = append(infos, mountInfo{
			root:       unescapeMountInfo(fields[3]),
			mountpoint: unescapeMountInfo(fields[4]),
			fstype:     fields[sep+1],
			superOpts:  strings.Split(fields[sep+3], ","),
		})
	}
	return infos, sc.Err()
}

// unescapeMountInfo undoes the kernel's octal escapes (\040 for a space...).
func unescapeMountInfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroupEntry is one line of /proc/self/cgroup.
type cgroupEntry struct {
	controllers []string // "cpu", "cpuacct", "name=systemd"; empty for v2
	path        string
}

// readOwnCgroups parses /proc/self/cgroup.
func readOwnCgroups() ([]cgroupEntry, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read own cgroups: %w", err)
	}
	return parseCgroupFile(string(data))
}

// parseCgroupFile parses "hierarchy-ID:controller-list:path" lines.
func parseCgroupFile(data string) ([]cgroupEntry, error) {
	var entries []cgroupEntry
	for _, line := range strings.Split(data, "\n") {
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("malformed cgroup line %q", line)
		}
		var ctrls []string
		if parts[1] != "" {
			ctrls = strings.Split(parts[1], ",")
		}
		entries = append(entries, cgroupEntry{controllers: ctrls, path: parts[2]})
	}
	return entries, nil
}

// cgroupOf returns the entry of /proc/self/cgroup whose controllers are all
// in the super options of a v1 cgroup mount.
func cgroupOf(entries []cgroupEntry, mi *mountInfo) (cgroupEntry, bool) {
	opts := make(map[string]bool, len(mi.superOpts))
	for _, o := range mi.superOpts {
		opts[o] = true
	}
	for _, e := range entries {
		if len(e.controllers) == 0 {
			continue
		}
		all := true
		for _, c := range e.controllers {
			all = all && opts[c]
		}
		if all {
			return e, true
		}
	}
	return cgroupEntry{}, false
}
