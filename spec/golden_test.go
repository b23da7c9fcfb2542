package spec

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const testID = "207c6b187c69376851b5b7cd5b17db7c57698c8339e0cf189bfacf324d73830a"

// busyboxImage is the config of the busybox image.
var busyboxImage = &ocispec.ImageConfig{
	Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	Cmd: []string{"sh"},
}

const (
	testPasswd = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n" +
		"www-data:x:33:33:www-data:/var/www:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
	testGroup = "root:x:0:\ndaemon:x:1:\ntty:x:5:\nwww-data:x:33:\nvideo:x:44:www-data\n" +
		"audio:x:29:www-data,nobody\nusers:x:100:\nnogroup:x:65534:\n"
)

// baseInput is a container as `docker run --network none busybox ARGS`
// makes it, with the engine's files.
func baseInput(args ...string) Input {
	dir := "/var/lib/corral/containers/" + testID
	return Input{
		ID:             testID,
		Config:         &container.Config{Cmd: args},
		HostConfig:     &container.HostConfig{NetworkMode: "none"},
		Image:          busyboxImage,
		Rootfs:         "/var/lib/corral/rootfs/" + testID,
		ResolvConfPath: dir + "/resolv.conf",
		HostnamePath:   dir + "/hostname",
		HostsPath:      dir + "/hosts",
		Passwd:         []byte(testPasswd),
		Group:          []byte(testGroup),
		Daemon:         Daemon{Ulimits: DefaultUlimits(20000)},
		Host:           Host{Arch: "amd64", KernelRelease: "6.18.0-1-amd64"},
	}
}

// goldenCases are the inputs whose configs testdata/<name>.json holds.
var goldenCases = []struct {
	name string
	in   func() Input
}{
	{"default", func() Input { return baseInput() }},
	{"dockerd-limits", func() Input {
		// The limited container of test/callers/dockerd.sh: `docker run -d
		// --network none --memory 64m --cpus 0.5 --pids-limit 50 busybox
		// sleep 1000`.
		in := baseInput("sleep", "1000")
		hc := in.HostConfig
		hc.Memory, hc.NanoCPUs, hc.PidsLimit = 64<<20, 5e8, ptrTo(int64(50))
		in.Daemon.CgroupParent = "corral-test-containers"
		return in
	}},
	{"interactive", func() Input {
		// docker run -it -u www-data -w /srv -e A=1 -e PATH=/bin -h box
		// --entrypoint /bin/sh --init --group-add users --ulimit nproc=64:128
		// --oom-score-adj 500 --security-opt no-new-privileges busybox -c 'id'
		in := baseInput("-c", "id")
		c, hc := in.Config, in.HostConfig
		c.Tty, c.OpenStdin, c.User, c.WorkingDir, c.Hostname = true, true, "www-data", "/srv", "box"
		c.Env, c.Entrypoint = []string{"A=1", "PATH=/bin"}, []string{"/bin/sh"}
		hc.ConsoleSize, hc.Init, hc.GroupAdd = [2]uint{24, 80}, ptrTo(true), []string{"users"}
		hc.Ulimits = []*container.Ulimit{{Name: "nproc", Soft: 64, Hard: 128}}
		hc.OomScoreAdj, hc.SecurityOpt = 500, []string{"no-new-privileges"}
		in.Daemon.InitPath = "/usr/libexec/corral/corral-init"
		return in
	}},
	{"privileged", func() Input {
		in := baseInput("true")
		in.HostConfig.Privileged = true
		in.Host.Caps = KnownCaps()[:40] // the daemon lacks CAP_CHECKPOINT_RESTORE
		in.HostDevices = []Device{
			{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: 0o666},
			{Path: "/dev/sda", Type: "b", Major: 8, Minor: 0, FileMode: 0o660, GID: 6},
		}
		in.Devices = []Device{{Path: "/dev/disk0", Type: "b", Major: 8, Minor: 0, FileMode: 0o660, Access: "r"}}
		return in
	}},
	{"hardened", func() Input {
		// --read-only --cap-drop ALL --cap-add net_bind_service --cap-add
		// CAP_SYS_PTRACE, mounts, tmpfs, sysctls, devices, --ipc none.
		in := baseInput("httpd", "-f")
		hc := in.HostConfig
		hc.ReadonlyRootfs, hc.IpcMode = true, "none"
		hc.CapDrop, hc.CapAdd = []string{"ALL"}, []string{"net_bind_service", "CAP_SYS_PTRACE"}
		hc.Tmpfs = map[string]string{"/run": "rw,size=64m,exec", "/tmp": ""}
		hc.Sysctls = map[string]string{"net.core.somaxconn": "1024", "kernel.shmmax": "1000000"}
		hc.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: 100, Hard: 200}}
		hc.DeviceCgroupRules = []string{"c 189:* rmw"}
		hc.CPUShares, hc.CpusetCpus, hc.BlkioWeight = 512, "0-1", 300
		hc.MemoryReservation, hc.OomKillDisable, hc.MemorySwappiness = 32<<20, ptrTo(true), ptrTo(int64(10))
		hc.BlkioDeviceReadBps = []*blkiodev.ThrottleDevice{{Path: "/dev/sda", Rate: 1 << 20}}
		in.DeviceNumbers = map[string]DeviceNumber{"/dev/sda": {8, 0}}
		in.Devices = []Device{{Path: "/dev/ttyUSB0", Type: "c", Major: 188, Minor: 0, FileMode: 0o660, GID: 20, Access: "rw"}}
		in.Mounts = []Mount{
			{Type: "bind", Source: "/srv/www", Destination: "/var/www", ReadOnly: true, Propagation: "rprivate"},
			{Type: "bind", Source: "/var/lib/corral/volumes/data/_data", Destination: "/data"},
			{Type: "bind", Source: "/srv/logs", Destination: "/var/www/logs", Propagation: "rslave"},
			{Type: "tmpfs", Destination: "/cache", Options: []string{"size=1048576", "mode=1777"}},
		}
		return in
	}},
	{"host-namespaces", func() Input {
		in := baseInput("top")
		hc := in.HostConfig
		hc.NetworkMode, hc.PidMode, hc.IpcMode, hc.UTSMode = "host", "host", "host", "host"
		hc.Init = ptrTo(true) // no init in the host's PID namespace
		in.ShmPath, in.Host.CgroupV2 = "/dev/shm", true
		return in
	}},
	{"joined-namespaces", func() Input {
		in := baseInput("sh")
		hc := in.HostConfig
		hc.NetworkMode, hc.PidMode, hc.IpcMode = "container:web", "container:web", "container:web"
		hc.CgroupnsMode = "private"
		in.ShmPath = "/var/lib/corral/containers/web/mounts/shm"
		in.NamespacePaths = map[specs.LinuxNamespaceType]string{
			specs.NetworkNamespace: "/proc/4242/ns/net", specs.PIDNamespace: "/proc/4242/ns/pid",
			specs.IPCNamespace: "/proc/4242/ns/ipc",
		}
		return in
	}},
	{"userns", func() Input {
		in := baseInput("id")
		in.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		in.GIDMappings = in.UIDMappings
		in.NamespacePaths = map[specs.LinuxNamespaceType]string{specs.NetworkNamespace: "/run/corral/netns/" + testID[:12]}
		return in
	}},
	{"seccomp-custom", func() Input {
		in := baseInput("true")
		in.HostConfig.SecurityOpt = []string{"seccomp=" + customProfile}
		in.HostConfig.CapAdd = []string{"SYS_ADMIN"}
		return in
	}},
	{"arm64", func() Input {
		in := baseInput("true")
		in.Host.Arch = "arm64"
		return in
	}},
	{"unconfined", func() Input {
		in := baseInput("true")
		in.HostConfig.SecurityOpt = []string{"seccomp=unconfined", "systempaths=unconfined", "apparmor=unconfined"}
		in.HostConfig.Annotations = map[string]string{"org.example.owner": "ops"}
		return in
	}},
}

// customProfile is a small profile in Docker's format.
const customProfile = `{
	"defaultAction": "SCMP_ACT_ERRNO",
	"defaultErrnoRet": 38,
	"archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
	"syscalls": [
		{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
		{"name": "mount", "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
		{"names": ["ptrace"], "action": "SCMP_ACT_KILL", "excludes": {"arches": ["arm64"]}},
		{"names": ["old_call"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "4.0"}},
		{"names": ["personality"], "action": "SCMP_ACT_ALLOW",
		 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}
	]
}`

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Build(tc.in())
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.MarshalIndent(got, "", "\t")
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, '\n')
			file := filepath.Join("testdata", tc.name+".json")
			if *update {
				if err := os.WriteFile(file, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test ./spec -update to write it)", err)
			}
			if !bytes.Equal(b, want) {
				t.Errorf("config differs from %s (go test ./spec -update rewrites it):\n%s", file, diffLines(string(want), string(b)))
			}
		})
	}
}

// TestBuildIsPure checks that Build neither modifies its input nor returns
// slices or maps that alias it, and gives the same config twice.
func TestBuildIsPure(t *testing.T) {
	for _, tc := range goldenCases {
		in := tc.in()
		before, _ := json.Marshal(in)
		s1, err := Build(in)
		if err != nil {
			t.Fatal(err)
		}
		after, _ := json.Marshal(in)
		if !bytes.Equal(before, after) {
			t.Errorf("%s: Build modified its input", tc.name)
		}
		*s1.Process.OOMScoreAdj = 999
		if s1.Linux.Resources.Memory != nil && s1.Linux.Resources.Memory.DisableOOMKiller != nil {
			*s1.Linux.Resources.Memory.DisableOOMKiller = false
		}
		s1.Process.Env[0] = "X=1"
		s1.Process.Capabilities.Bounding = append(s1.Process.Capabilities.Bounding[:0], "CAP_X")
		if mutated, _ := json.Marshal(in); !bytes.Equal(before, mutated) {
			t.Errorf("%s: the config aliases its input", tc.name)
		}
		s2, _ := Build(in)
		j1, _ := json.Marshal(s2)
		s3, _ := Build(tc.in())
		j2, _ := json.Marshal(s3)
		if !bytes.Equal(j1, j2) {
			t.Errorf("%s: a second Build of the same input differs", tc.name)
		}
	}
}

// diffLines shows the first lines that differ.
func diffLines(want, got string) string {
	w, g := bytes.Split([]byte(want), []byte("\n")), bytes.Split([]byte(got), []byte("\n"))
	var out bytes.Buffer
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 20; i++ {
		var a, b []byte
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if !bytes.Equal(a, b) {
			shown++
			out.WriteString("line " + strconv.Itoa(i+1) + ":\n- " + string(a) + "\n+ " + string(b) + "\n")
		}
	}
	return out.String()
}
