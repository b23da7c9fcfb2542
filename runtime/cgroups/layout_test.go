package cgroups

import (
	"reflect"
	"strings"
	"testing"
)

// Sample /proc/self/mountinfo texts (non-cgroup lines kept to prove they are
// skipped).
const (
	// hybridMountinfo is this project's build host: one v1 hierarchy per
	// controller and an empty cgroup2 at /sys/fs/cgroup/unified.
	hybridMountinfo = `23 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	hybridProcCgroup = `9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/1999
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
`
	// v2Mountinfo is a pure cgroup v2 host (systemd default since 2021).
	v2Mountinfo = `22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`
	v2ProcCgroup = "0::/user.slice/user-1000.slice/session-2.scope\n"

	// comountMountinfo is a systemd v1 host co-mounting cpu,cpuacct and
	// net_cls,net_prio, with flags mixed into the superblock options.
	comountMountinfo = `25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
31 25 0:28 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,net_cls,net_prio
32 25 0:29 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpuset,clone_children
`
	comountProcCgroup = `4:cpuset:/docker/abc
3:net_cls,net_prio:/docker/abc
2:cpu,cpuacct:/docker/abc
1:name=systemd:/docker/abc
0::/docker/abc
`
	// containerMountinfo is inside a container without a cgroup namespace:
	// the container's own cgroup is bind-mounted over the hierarchy, and a
	// second, unrelated mount of the same hierarchy comes first.
	containerMountinfo = `600 500 0:29 /other /mnt/other rw - cgroup cgroup rw,pids
601 500 0:29 /docker/abc /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
`
	containerProcCgroup = "8:pids:/docker/abc/sub\n"
)

func TestParseMountinfo(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []hierarchy
	}{
		{"hybrid", hybridMountinfo, []hierarchy{
			{[]string{"cpu"}, "/sys/fs/cgroup/cpu", "/"},
			{[]string{"cpuacct"}, "/sys/fs/cgroup/cpuacct", "/"},
			{[]string{"cpuset"}, "/sys/fs/cgroup/cpuset", "/"},
			{[]string{"memory"}, "/sys/fs/cgroup/memory", "/"},
			{[]string{"devices"}, "/sys/fs/cgroup/devices", "/"},
			{[]string{"freezer"}, "/sys/fs/cgroup/freezer", "/"},
			{[]string{"blkio"}, "/sys/fs/cgroup/blkio", "/"},
			{[]string{"pids"}, "/sys/fs/cgroup/pids", "/"},
			{[]string{"name=systemd"}, "/sys/fs/cgroup/systemd", "/"},
			{nil, "/sys/fs/cgroup/unified", "/"},
		}},
		{"pure v2", v2Mountinfo, []hierarchy{{nil, "/sys/fs/cgroup", "/"}}},
		{"co-mounted", comountMountinfo, []hierarchy{
			{[]string{"name=systemd"}, "/sys/fs/cgroup/systemd", "/"},
			{[]string{"cpu", "cpuacct"}, "/sys/fs/cgroup/cpu,cpuacct", "/"},
			{[]string{"net_cls", "net_prio"}, "/sys/fs/cgroup/net_cls,net_prio", "/"},
			{[]string{"cpuset"}, "/sys/fs/cgroup/cpuset", "/"},
		}},
		{"bind mounts", containerMountinfo, []hierarchy{
			{[]string{"pids"}, "/mnt/other", "/other"},
			{[]string{"pids"}, "/sys/fs/cgroup/pids", "/docker/abc"},
		}},
		{"no cgroups", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMountinfo(strings.NewReader(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			// The lines New keeps, and passes on to init, describe the same hierarchies.
			kept, err := parseMountinfo(strings.NewReader(cgroupLines(tt.text)))
			if err != nil || !reflect.DeepEqual(kept, tt.want) {
				t.Errorf("from cgroupLines: got %+v, %v\nwant %+v", kept, err, tt.want)
			}
		})
	}
}

// TestCgroupLines keeps exactly the cgroup and cgroup2 mounts: not a
// filesystem whose name starts with "cgroup", nor a mount point or source
// that mentions one, and the last line without a newline is kept whole.
func TestCgroupLines(t *testing.T) {
	text := "30 25 0:26 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755\n" +
		"31 30 0:27 / /sys/fs/cgroup/pids rw shared:9 - cgroup cgroup rw,pids\n" +
		"40 25 0:40 / /mnt/a\\040-\\040cgroup\\040x rw - tmpfs cgroup rw\n" +
		"41 25 0:41 / /mnt/b rw - cgroupfs cgroup rw\n" +
		"42 25 0:42 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw"
	want := "31 30 0:27 / /sys/fs/cgroup/pids rw shared:9 - cgroup cgroup rw,pids\n" +
		"42 25 0:42 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
	if got := cgroupLines(text); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

func TestParseMountinfoMalformed(t *testing.T) {
	if _, err := parseMountinfo(strings.NewReader("garbage line\n")); err == nil {
		t.Fatal("want an error for a malformed line")
	}
}

func TestParseProcCgroup(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    map[string]string
		wantErr bool
	}{
		{name: "hybrid", text: hybridProcCgroup, want: map[string]string{
			"name=systemd": "/", "pids": "/", "blkio": "/", "freezer": "/",
			"devices": "/", "memory": "/process_api/1999", "cpuset": "/",
			"cpuacct": "/", "cpu": "/", "": "/",
		}},
		{name: "pure v2", text: v2ProcCgroup, want: map[string]string{
			"": "/user.slice/user-1000.slice/session-2.scope",
		}},
		{name: "co-mounted", text: comountProcCgroup, want: map[string]string{
			"cpuset": "/docker/abc", "net_cls": "/docker/abc", "net_prio": "/docker/abc",
			"cpu": "/docker/abc", "cpuacct": "/docker/abc", "name=systemd": "/docker/abc",
			"": "/docker/abc",
		}},
		{name: "colon in path", text: "1:pids:/a:b\n", want: map[string]string{"pids": "/a:b"}},
		{name: "malformed", text: "1:pids\n", wantErr: true},
		{name: "relative path", text: "1:pids:x\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcCgroup(strings.NewReader(tt.text))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestSplitLayout(t *testing.T) {
	tests := []struct {
		name        string
		text        string
		wantV1      []string
		wantUnified string
	}{
		{"hybrid", hybridMountinfo, []string{"blkio", "cpu", "cpuacct", "cpuset", "devices",
			"freezer", "memory", "name=systemd", "pids"}, "/sys/fs/cgroup/unified"},
		{"pure v2", v2Mountinfo, nil, "/sys/fs/cgroup"},
		{"co-mounted", comountMountinfo, []string{"cpu", "cpuacct", "cpuset", "name=systemd",
			"net_cls", "net_prio"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs, err := parseMountinfo(strings.NewReader(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			v1, unified := splitLayout(hs)
			if !reflect.DeepEqual(v1, tt.wantV1) || unified != tt.wantUnified {
				t.Errorf("got %v %q, want %v %q", v1, unified, tt.wantV1, tt.wantUnified)
			}
		})
	}
}

// TestLayoutHost checks Layout and IsMounted against the running host, which
// must agree with each other whatever the layout.
func TestLayoutHost(t *testing.T) {
	v1, unified, err := Layout()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("v1 controllers %v, unified at %q", v1, unified)
	for _, c := range v1 {
		if !IsMounted(c) {
			t.Errorf("IsMounted(%q) = false for a mounted v1 controller", c)
		}
	}
	if IsMounted("no-such-controller") {
		t.Error("IsMounted(no-such-controller) = true")
	}
}
