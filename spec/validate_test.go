package spec

import (
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/corral-dev/corral/errdefs"
)

// TestBadInput checks that each bad value fails Build with an
// invalid-argument error naming the flag (or field) and the value.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Input)
		want []string
	}{
		{"no command", func(in *Input) { in.Image = nil; in.Config.Cmd = nil }, []string{"no command specified"}},
		{"relative workdir", func(in *Input) { in.Config.WorkingDir = "srv" }, []string{"working directory 'srv'"}},
		{"unknown cap", func(in *Input) { in.HostConfig.CapAdd = []string{"FOO"} }, []string{"--cap-add", "FOO"}},
		{"unknown cap drop", func(in *Input) { in.HostConfig.CapDrop = []string{"cap_bar"} }, []string{"--cap-drop", "cap_bar"}},
		{"ulimit name", func(in *Input) { in.HostConfig.Ulimits = []*container.Ulimit{{Name: "files", Soft: 1, Hard: 1}} },
			[]string{"--ulimit", "files"}},
		{"ulimit soft > hard", func(in *Input) {
			in.HostConfig.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: 10, Hard: 1}}
		}, []string{"--ulimit", "nofile=10:1"}},
		{"security opt", func(in *Input) { in.HostConfig.SecurityOpt = []string{"bogus=1"} }, []string{"--security-opt", "bogus=1"}},
		{"security opt form", func(in *Input) { in.HostConfig.SecurityOpt = []string{"bogus"} }, []string{"--security-opt", "bogus"}},
		{"no-new-privileges value", func(in *Input) { in.HostConfig.SecurityOpt = []string{"no-new-privileges=maybe"} },
			[]string{"--security-opt", "maybe"}},
		{"seccomp action", func(in *Input) {
			in.HostConfig.SecurityOpt = []string{`seccomp={"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_MAYBE"}]}`}
		}, []string{"seccomp", "syscalls[0]: action", "SCMP_ACT_MAYBE"}},
		{"seccomp default action", func(in *Input) {
			in.HostConfig.SecurityOpt = []string{`seccomp={"defaultAction":"ALLOW","syscalls":[]}`}
		}, []string{"seccomp", "defaultAction", `"ALLOW"`}},
		{"seccomp op", func(in *Input) {
			in.HostConfig.SecurityOpt = []string{`seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"EQ"}]}]}`}
		}, []string{"args[0].op", `"EQ"`}},
		{"seccomp json", func(in *Input) { in.HostConfig.SecurityOpt = []string{"seccomp={not json"} }, []string{"seccomp"}},
		{"seccomp arch", func(in *Input) {
			in.HostConfig.SecurityOpt = []string{`seccomp={"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_VAX"],"syscalls":[]}`}
		}, []string{"architectures", "SCMP_ARCH_VAX"}},
		{"device mode", func(in *Input) {
			in.HostConfig.Devices = []container.DeviceMapping{{PathOnHost: "/dev/sda", PathInContainer: "/dev/sda", CgroupPermissions: "rwx"}}
		}, []string{"--device", "/dev/sda:/dev/sda:rwx", `"rwx"`}},
		{"device host path", func(in *Input) {
			in.HostConfig.Devices = []container.DeviceMapping{{PathOnHost: "sda"}}
		}, []string{"--device", "sda"}},
		{"resolved device mode", func(in *Input) {
			in.Devices = []Device{{Path: "/dev/x", Type: "c", Major: 1, Minor: 1, Access: "rr"}}
		}, []string{"--device", "/dev/x", `"rr"`}},
		{"resolved device type", func(in *Input) {
			in.Devices = []Device{{Path: "/dev/x", Type: "q", Major: 1, Minor: 1}}
		}, []string{"--device", `"q"`}},
		{"resolved device path", func(in *Input) {
			in.Devices = []Device{{Path: "dev/x", Type: "c", Major: 1, Minor: 1}}
		}, []string{"--device", "dev/x"}},
		{"device cgroup rule", func(in *Input) { in.HostConfig.DeviceCgroupRules = []string{"c 1:x rwm"} },
			[]string{"--device-cgroup-rule", "c 1:x rwm"}},
		{"device cgroup rule type", func(in *Input) { in.HostConfig.DeviceCgroupRules = []string{"z *:* r"} },
			[]string{"--device-cgroup-rule", "z *:* r"}},
		{"memory too small", func(in *Input) { in.HostConfig.Memory = 1 << 20 }, []string{"--memory", "1048576", "6MB"}},
		{"swap below memory", func(in *Input) { in.HostConfig.Memory, in.HostConfig.MemorySwap = 64<<20, 32<<20 },
			[]string{"--memory-swap", "33554432"}},
		{"swap without memory", func(in *Input) { in.HostConfig.MemorySwap = 64 << 20 }, []string{"--memory-swap"}},
		{"reservation above limit", func(in *Input) {
			in.HostConfig.Memory, in.HostConfig.MemoryReservation = 64<<20, 128<<20
		}, []string{"--memory-reservation", "134217728"}},
		{"swappiness", func(in *Input) { in.HostConfig.MemorySwappiness = ptrTo(int64(101)) }, []string{"--memory-swappiness", "101"}},
		{"cpus with period", func(in *Input) { in.HostConfig.NanoCPUs, in.HostConfig.CPUPeriod = 1e9, 50000 },
			[]string{"--cpus", "--cpu-period"}},
		{"cpus negative", func(in *Input) { in.HostConfig.NanoCPUs = -5e8 }, []string{"--cpus", "-0.5"}},
		{"cpus above host", func(in *Input) { in.HostConfig.NanoCPUs, in.Host.NumCPU = 3e9, 2 }, []string{"--cpus", "3", "2 CPUs"}},
		{"cpu shares", func(in *Input) { in.HostConfig.CPUShares = -1 }, []string{"--cpu-shares", "-1"}},
		{"cpu period", func(in *Input) { in.HostConfig.CPUPeriod = 10 }, []string{"--cpu-period", "10"}},
		{"cpuset syntax", func(in *Input) { in.HostConfig.CpusetCpus = "0-a" }, []string{"--cpuset-cpus", "0-a"}},
		{"cpuset reversed", func(in *Input) { in.HostConfig.CpusetMems = "3-1" }, []string{"--cpuset-mems", "3-1"}},
		{"blkio weight", func(in *Input) { in.HostConfig.BlkioWeight = 5 }, []string{"--blkio-weight", "5"}},
		{"blkio device unknown", func(in *Input) {
			in.HostConfig.BlkioDeviceWriteIOps = []*blkiodev.ThrottleDevice{{Path: "/dev/nope", Rate: 1}}
		}, []string{"--device-write-iops", "/dev/nope"}},
		{"oom score", func(in *Input) { in.HostConfig.OomScoreAdj = 1001 }, []string{"--oom-score-adj", "1001"}},
		{"shm size", func(in *Input) { in.HostConfig.ShmSize = -1 }, []string{"--shm-size", "-1"}},
		{"ipc mode", func(in *Input) { in.HostConfig.IpcMode = "bogus" }, []string{"--ipc", "bogus"}},
		{"pid mode", func(in *Input) { in.HostConfig.PidMode = "bogus" }, []string{"--pid", "bogus"}},
		{"uts mode", func(in *Input) { in.HostConfig.UTSMode = "bogus" }, []string{"--uts", "bogus"}},
		{"cgroupns mode", func(in *Input) { in.HostConfig.CgroupnsMode = "bogus" }, []string{"--cgroupns", "bogus"}},
		{"joined pid without path", func(in *Input) { in.HostConfig.PidMode = "container:web" }, []string{"--pid container:web"}},
		{"tmpfs option", func(in *Input) { in.HostConfig.Tmpfs = map[string]string{"/run": "size=1m,bogus"} },
			[]string{"--tmpfs", "/run", `"bogus"`}},
		{"tmpfs path", func(in *Input) { in.HostConfig.Tmpfs = map[string]string{"run": ""} }, []string{"--tmpfs", `"run"`}},
		{"mount over /", func(in *Input) {
			in.Mounts = []Mount{{Type: "bind", Source: "/srv", Destination: "/x/.."}}
		}, []string{"mount destination", "/x/.."}},
		{"mount relative", func(in *Input) { in.Mounts = []Mount{{Type: "bind", Source: "/srv", Destination: "x"}} },
			[]string{"mount destination", `"x"`}},
		{"mount source", func(in *Input) { in.Mounts = []Mount{{Type: "bind", Source: "srv", Destination: "/x"}} },
			[]string{"source", `"srv"`}},
		{"mount type", func(in *Input) { in.Mounts = []Mount{{Type: "nfs", Source: "/srv", Destination: "/x"}} },
			[]string{"/x", `"nfs"`}},
		{"mount propagation", func(in *Input) {
			in.Mounts = []Mount{{Type: "bind", Source: "/srv", Destination: "/x", Propagation: "weird"}}
		}, []string{"/x", `"weird"`}},
		{"duplicate mount", func(in *Input) {
			in.Mounts = []Mount{{Type: "bind", Source: "/a", Destination: "/x"}, {Type: "tmpfs", Destination: "/x/"}}
		}, []string{"duplicate mount point", "/x"}},
		{"sysctl not namespaced", func(in *Input) { in.HostConfig.Sysctls = map[string]string{"kernel.core_pattern": "|/x"} },
			[]string{"--sysctl", "kernel.core_pattern"}},
		{"sysctl net with host network", func(in *Input) {
			in.HostConfig.NetworkMode = "host"
			in.HostConfig.Sysctls = map[string]string{"net.ipv4.ip_forward": "1"}
		}, []string{"--sysctl", "net.ipv4.ip_forward", "--network host"}},
		{"sysctl ipc with host ipc", func(in *Input) {
			in.HostConfig.IpcMode = "host"
			in.HostConfig.Sysctls = map[string]string{"kernel.shmmax": "1"}
		}, []string{"--sysctl", "kernel.shmmax", "--ipc host"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput("true")
			tt.edit(&in)
			_, err := Build(in)
			if err == nil {
				t.Fatal("built")
			}
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("%v: not an invalid-argument error", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v: does not mention %q", err, w)
				}
			}
		})
	}
}

// TestPathAttacks tries names that a runtime would turn into paths outside
// where they belong.
func TestPathAttacks(t *testing.T) {
	sysctls := []string{
		"net.ipv4/../../kernel/core_pattern", "net..ipv4", "net.ipv4.", "net/./kernel", "net.ipv4.conf.all\n.x",
		"net.ipv4.conf.all.forwarding\x00", "fs.mqueue/../../../kernel/modprobe", "net",
	}
	for _, k := range sysctls {
		in := baseInput("true")
		in.HostConfig.Sysctls = map[string]string{k: "1"}
		if _, err := Build(in); !errdefs.IsInvalidArgument(err) {
			t.Errorf("sysctl %q: err = %v, want invalid argument", k, err)
		}
	}
	for _, p := range []string{"../../../sys/fs/cgroup", "/corral/../../x", "a/../.."} {
		in := baseInput("true")
		in.HostConfig.CgroupParent = p
		if _, err := Build(in); !errdefs.IsInvalidArgument(err) {
			t.Errorf("--cgroup-parent %q: err = %v, want invalid argument", p, err)
		}
	}
	// Destinations with .. are cleaned to where they really point, so the
	// runtime sees the path it will mount on.
	in := baseInput("true")
	in.Mounts = []Mount{{Type: "bind", Source: "/srv", Destination: "/data/../../etc"}}
	in.Devices = []Device{{Path: "/dev/../etc/x", Type: "c", Major: 1, Minor: 3}}
	s, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(s.Mounts, func(m specs.Mount) bool { return m.Source == "/srv" && m.Destination == "/etc" }) {
		t.Errorf("mounts %+v: want /srv on /etc", s.Mounts)
	}
	if d := s.Linux.Devices[0]; d.Path != "/etc/x" {
		t.Errorf("device path %q, want /etc/x", d.Path)
	}
}

func TestSysctlsAllowed(t *testing.T) {
	in := baseInput("true")
	in.HostConfig.Sysctls = map[string]string{
		"net.ipv4.conf.eth0/100.forwarding": "1", "fs.mqueue.msg_max": "20", "kernel.sem": "1 2 3 4",
		"net.ipv4.ip_unprivileged_port_start": "1024",
	}
	s, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	if s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"] != "1024" || len(s.Linux.Sysctl) != 5 {
		t.Errorf("sysctls %v: the container's must override the defaults", s.Linux.Sysctl)
	}
	in.HostConfig.NetworkMode = "container:web"
	in.NamespacePaths = map[specs.LinuxNamespaceType]string{specs.NetworkNamespace: "/proc/1/ns/net"}
	in.HostConfig.Sysctls = nil
	if s, err := Build(in); err != nil || s.Linux.Sysctl != nil {
		t.Errorf("joined network: sysctls %v, %v; want none (not ours to set)", s.Linux.Sysctl, err)
	}
}
