package nsinit

import (
	"reflect"
	"strings"
	"testing"
)

const sampleMountInfo = `22 27 0:21 / /proc rw,relatime - proc proc rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:7 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /sub /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 27 0:39 / /mnt/with\040space rw - tmpfs tmpfs rw
`

const sampleCgroup = `9:name=systemd:/user.slice
4:memory:/sub/ctr
2:cpu,cpuacct:/a
1:pids:/
0::/unified/path
`

func TestParseMountInfo(t *testing.T) {
	t.Parallel()
	infos, err := parseMountInfo(strings.NewReader(sampleMountInfo))
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 7 {
		t.Fatalf("got %d entries", len(infos))
	}
	want := mountInfo{root: "/", mountpoint: "/sys/fs/cgroup/cpu,cpuacct", fstype: "cgroup", superOpts: []string{"rw", "cpu", "cpuacct"}}
	if !reflect.DeepEqual(infos[2], want) {
		t.Errorf("got %+v, want %+v", infos[2], want)
	}
	if infos[6].mountpoint != "/mnt/with space" {
		t.Errorf("escape: %q", infos[6].mountpoint)
	}
	if _, err := parseMountInfo(strings.NewReader("1 2 3\n")); err == nil {
		t.Errorf("malformed line accepted")
	}
}

func TestCgroupOf(t *testing.T) {
	t.Parallel()
	infos, _ := parseMountInfo(strings.NewReader(sampleMountInfo))
	own, err := parseCgroupFile(sampleCgroup)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range map[int]string{2: "/a", 3: "/sub/ctr", 4: "/user.slice"} {
		e, ok := cgroupOf(own, &infos[i])
		if !ok || e.path != want {
			t.Errorf("%s: %+v %v, want %s", infos[i].mountpoint, e, ok, want)
		}
	}
	if _, ok := cgroupOf(own, &infos[5]); ok {
		t.Errorf("cgroup2 matched a v1 entry")
	}
	for _, tc := range []struct{ root, p, rel string }{
		{"/", "/a/b", "a/b"}, {"/sub", "/sub/ctr", "ctr"}, {"/sub", "/sub", ""},
	} {
		if rel, ok := cgroupRel(tc.root, tc.p); !ok || rel != tc.rel {
			t.Errorf("cgroupRel(%s, %s) = %q, %v", tc.root, tc.p, rel, ok)
		}
	}
	if _, ok := cgroupRel("/sub", "/subother"); ok {
		t.Errorf("cgroupRel accepted a sibling")
	}
}
