package cgroups

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestTarget(t *testing.T) {
	tests := []struct {
		path, id string
		want     string
		wantErr  string
	}{
		{path: "", id: "abc", want: "abc"},
		{path: "", id: "", wantErr: "not a valid cgroup name"},
		{path: "", id: "..", wantErr: "not a valid cgroup name"},
		{path: "", id: "a/b", wantErr: "not a valid cgroup name"},
		{path: "foo/bar/", id: "x", want: "foo/bar"},
		{path: "/corral/abc", id: "x", want: "/corral/abc"},
		{path: "//corral/./abc", id: "x", want: "/corral/abc"},
		{path: "/a/../b", id: "x", wantErr: `contains ".."`},
		{path: "..", id: "x", wantErr: `contains ".."`},
		{path: "a/..", id: "x", wantErr: `contains ".."`},
		{path: "a/..b", id: "x", want: "a/..b"},
		{path: "/", id: "x", wantErr: "hierarchy root"},
		{path: ".", id: "x", wantErr: "hierarchy root"},
		{path: "system.slice:corral:abc", id: "x", wantErr: "systemd cgroup driver is not supported"},
		{path: ":corral:abc", id: "x", wantErr: "systemd cgroup driver is not supported"},
		{path: "/a:b:c", id: "x", want: "/a:b:c"},
		{path: "a\x00b", id: "x", wantErr: "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.path+"|"+tt.id, func(t *testing.T) {
			got, err := target(tt.path, tt.id)
			if tt.wantErr != "" {
				var ipe *InvalidPathError
				if !errors.As(err, &ipe) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want *InvalidPathError containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestNewRefusesSystemd checks the error surfaces through New before the host
// is looked at.
func TestNewRefusesSystemd(t *testing.T) {
	_, err := New("system.slice:corral:abc", "abc")
	var ipe *InvalidPathError
	if !errors.As(err, &ipe) {
		t.Fatalf("err = %v, want *InvalidPathError", err)
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name      string
		mountinfo string
		cgroup    string
		path      string
		want      map[string]string
		wantErr   bool
	}{
		{name: "hybrid id", mountinfo: hybridMountinfo, cgroup: hybridProcCgroup, path: "c1",
			want: map[string]string{
				"cpu": "/sys/fs/cgroup/cpu/c1", "cpuacct": "/sys/fs/cgroup/cpuacct/c1",
				"cpuset": "/sys/fs/cgroup/cpuset/c1", "memory": "/sys/fs/cgroup/memory/process_api/1999/c1",
				"devices": "/sys/fs/cgroup/devices/c1", "freezer": "/sys/fs/cgroup/freezer/c1",
				"blkio": "/sys/fs/cgroup/blkio/c1", "pids": "/sys/fs/cgroup/pids/c1",
				"name=systemd": "/sys/fs/cgroup/systemd/c1", "": "/sys/fs/cgroup/unified/c1",
			}},
		{name: "hybrid absolute", mountinfo: hybridMountinfo, cgroup: hybridProcCgroup, path: "/corral/c1",
			want: map[string]string{
				"cpu": "/sys/fs/cgroup/cpu/corral/c1", "cpuacct": "/sys/fs/cgroup/cpuacct/corral/c1",
				"cpuset": "/sys/fs/cgroup/cpuset/corral/c1", "memory": "/sys/fs/cgroup/memory/corral/c1",
				"devices": "/sys/fs/cgroup/devices/corral/c1", "freezer": "/sys/fs/cgroup/freezer/corral/c1",
				"blkio": "/sys/fs/cgroup/blkio/corral/c1", "pids": "/sys/fs/cgroup/pids/corral/c1",
				"name=systemd": "/sys/fs/cgroup/systemd/corral/c1", "": "/sys/fs/cgroup/unified/corral/c1",
			}},
		{name: "pure v2 relative", mountinfo: v2Mountinfo, cgroup: v2ProcCgroup, path: "corral/c1",
			want: map[string]string{
				"": "/sys/fs/cgroup/user.slice/user-1000.slice/corral/c1",
			}},
		{name: "co-mounted", mountinfo: comountMountinfo, cgroup: comountProcCgroup, path: "c1",
			want: map[string]string{
				"cpu": "/sys/fs/cgroup/cpu,cpuacct/docker/abc/c1", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct/docker/abc/c1",
				"net_cls": "/sys/fs/cgroup/net_cls,net_prio/docker/abc/c1", "net_prio": "/sys/fs/cgroup/net_cls,net_prio/docker/abc/c1",
				"cpuset": "/sys/fs/cgroup/cpuset/docker/abc/c1", "name=systemd": "/sys/fs/cgroup/systemd/docker/abc/c1",
			}},
		{name: "bind-mounted sub-cgroup", mountinfo: containerMountinfo, cgroup: containerProcCgroup, path: "c1",
			want: map[string]string{"pids": "/sys/fs/cgroup/pids/sub/c1"}},
		{name: "own cgroup missing", mountinfo: hybridMountinfo, cgroup: "0::/\n", path: "c1", wantErr: true},
		{name: "nothing mounted", mountinfo: "", cgroup: hybridProcCgroup, path: "c1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs, err := parseMountinfo(strings.NewReader(tt.mountinfo))
			if err != nil {
				t.Fatal(err)
			}
			own, err := parseProcCgroup(strings.NewReader(tt.cgroup))
			if err != nil {
				t.Fatal(err)
			}
			got, err := resolve(hs, own, tt.path)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestMounts(t *testing.T) {
	tests := []struct {
		name  string
		paths map[string]string
		want  []Mount
	}{
		{name: "hybrid", paths: map[string]string{
			"cpu": "/cg/cpu/c", "name=systemd": "/cg/systemd/c", "": "/cg/unified/c",
		}, want: []Mount{
			{Key: "cpu", HostDir: "/cg/cpu/c", FSType: "cgroup", Options: "cpu", Controllers: []string{"cpu"}},
			{Key: "systemd", HostDir: "/cg/systemd/c", FSType: "cgroup", Options: "name=systemd", Controllers: []string{"name=systemd"}},
			{Key: "unified", HostDir: "/cg/unified/c", FSType: "cgroup2"},
		}},
		{name: "pure v2", paths: map[string]string{"": "/cg/c"}, want: []Mount{
			{Key: "", HostDir: "/cg/c", FSType: "cgroup2"},
		}},
		{name: "co-mounted", paths: map[string]string{
			"cpuacct": "/cg/cpu,cpuacct/c", "cpu": "/cg/cpu,cpuacct/c", "memory": "/cg/memory/c",
		}, want: []Mount{
			{Key: "cpu,cpuacct", HostDir: "/cg/cpu,cpuacct/c", FSType: "cgroup", Options: "cpu,cpuacct", Controllers: []string{"cpu", "cpuacct"}},
			{Key: "memory", HostDir: "/cg/memory/c", FSType: "cgroup", Options: "memory", Controllers: []string{"memory"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Load(tt.paths).Mounts()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestPathsIsACopy(t *testing.T) {
	saved := map[string]string{"pids": "/cg/pids/c"}
	m := Load(saved)
	saved["pids"] = "/elsewhere"
	m.Paths()["pids"] = "/elsewhere"
	if got := m.Paths()["pids"]; got != "/cg/pids/c" {
		t.Fatalf("Paths()[pids] = %q, want the loaded value", got)
	}
}

func TestParseProcs(t *testing.T) {
	got, err := parseProcs("12\n345\n\n")
	if err != nil || !reflect.DeepEqual(got, []int{12, 345}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := parseProcs("12\nx\n"); err == nil {
		t.Fatal("want an error for a non-numeric line")
	}
}
