package monitor

import "testing"

// TestParseCgroupMount: only cgroup and cgroup2 lines are taken, with
// their root, mount point (octal escapes undone), type and super options.
func TestParseCgroupMount(t *testing.T) {
	tests := []struct {
		line string
		want cgroupMount
		ok   bool
	}{
		{"35 25 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory",
			cgroupMount{root: "/", point: "/sys/fs/cgroup/memory", fstype: "cgroup", options: "rw,memory"}, true},
		{"30 25 0:26 /ns /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate",
			cgroupMount{root: "/ns", point: "/sys/fs/cgroup/unified", fstype: "cgroup2", options: "rw,nsdelegate"}, true},
		{`36 25 0:31 / /mnt/my\040cgroups rw - cgroup cgroup rw,cpu`,
			cgroupMount{root: "/", point: "/mnt/my cgroups", fstype: "cgroup", options: "rw,cpu"}, true},
		{"22 1 0:21 / /proc rw,nosuid - proc proc rw", cgroupMount{}, false},
		// A mount point that merely looks like the separator.
		{"40 25 0:40 / /x\\040-\\040cgroup rw - tmpfs tmpfs rw", cgroupMount{}, false},
		{"41 25 0:41 / /y rw - cgroupfoo none rw", cgroupMount{}, false},
		{"- cgroup cgroup rw", cgroupMount{}, false},
		{"", cgroupMount{}, false},
	}
	for _, tt := range tests {
		got, ok := parseCgroupMount(tt.line)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseCgroupMount(%q) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

func TestUnescapeOctal(t *testing.T) {
	for in, want := range map[string]string{
		`/a\040b`: "/a b", `/t\011`: "/t\t", `/b\134x`: `/b\x`, `/short\04`: `/short\04`, `/plain`: "/plain",
	} {
		if got := unescapeOctal(in); got != want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", in, got, want)
		}
	}
}
