package engine_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// defaultCapEff is CapEff of Docker's 14 default capabilities.
const defaultCapEff = "00000000a80425fb"

// statusField reads a field of /proc/1/status in a container.
func (e *engine) statusField(t *testing.T, name, field string) string {
	t.Helper()
	out := e.ok(t, "exec", name, "grep", "^"+field+":", "/proc/1/status")
	return strings.TrimSpace(strings.TrimPrefix(out, field+":"))
}

// testRunConfig: --env-file, -e, -h, -w (created), --entrypoint, -u,
// --label, --name, --rm, -d.
func testRunConfig(t *testing.T, e *engine) {
	envFile := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(envFile, []byte("A=1\n# a comment\nB=two words\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := e.name(t)
	out := e.ok(t, "run", "--rm", "--name", n, "--env-file", envFile, "-e", "D=4", "-e", "A=over", "-h", "myhost",
		"-w", "/work/dir", "--entrypoint", "/bin/sh", "-u", "1000:1000", "busybox",
		"-c", "echo $A/$B/$D; hostname; cat /etc/hostname; pwd; id -u; id -g; grep myhost /etc/hosts | wc -l")
	if out != "over/two words/4\nmyhost\nmyhost\n/work/dir\n1000\n1000\n1\n" {
		t.Errorf("run with config flags: %q", out)
	}
	if e.exists(t, n) {
		t.Errorf("run --rm: %s still exists", n)
	}
	d := e.name(t)
	id := strings.TrimSpace(e.ok(t, "run", "-d", "--name", d, "--label", "one=1", "--label", "two", "busybox", "sleep", "1000"))
	c := e.inspect(t, d)
	if c.ID != id || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) || c.Config.Labels["one"] != "1" ||
		c.Config.Labels["two"] != "" || len(c.Config.Labels) != 2 || c.Config.Hostname != id[:12] || !c.State.Running {
		t.Errorf("run -d printed %q; inspect: %s %v %s", id, c.ID, c.Config.Labels, c.Config.Hostname)
	}
	if out := e.ok(t, "run", "--rm", "busybox"); out != "" {
		t.Errorf("run of the image's CMD (sh without stdin): %q", out)
	}
	if out := e.ok(t, "run", "--rm", "-u", "tester", "busybox", "id"); out != "uid=1000(tester) gid=1000(tester) groups=1000(tester)\n" {
		t.Errorf("run -u tester: %q", out)
	}
}

// testInit: without --init an orphan becomes a zombie of pid 1; with
// --init it is reaped, and the container stops on the first SIGTERM.
func testInit(t *testing.T, e *engine) {
	script := "( (while [ ! -e /tmp/go ]; do sleep 0.02; done) & ); exec sleep 1000"
	plain := e.runD(t, "busybox", "sh", "-c", script)
	withInit := e.runD(t, "--init", "busybox", "sh", "-c", script)
	if c := e.inspect(t, withInit); c.HostConfig.Init == nil || !*c.HostConfig.Init || c.Path != "sh" {
		t.Errorf("inspect of an --init container: init %v path %s", c.HostConfig.Init, c.Path)
	}
	// The states of the container's processes but ps itself, from inside:
	// a zombie has left its cgroup, so docker top does not list it.
	procs := func(n string) []string {
		var stats []string
		for _, l := range strings.Split(strings.TrimSpace(e.ok(t, "exec", n, "ps", "-o", "stat,args")), "\n")[1:] {
			if f := strings.Fields(l); len(f) > 0 && !strings.Contains(l, "ps -o stat,args") {
				stats = append(stats, f[0])
			}
		}
		return stats
	}
	for _, n := range []string{plain, withInit} {
		eventually(t, 10*time.Second, "the orphan loop in "+n, func() bool {
			return len(procs(n)) >= 3
		})
		e.ok(t, "exec", n, "touch", "/tmp/go")
	}
	eventually(t, 10*time.Second, "a zombie without --init", func() bool {
		for _, p := range procs(plain) {
			if strings.HasPrefix(p, "Z") {
				return true
			}
		}
		return false
	})
	eventually(t, 10*time.Second, "init to reap the orphan", func() bool {
		ps := procs(withInit)
		return len(ps) == 2 && !strings.HasPrefix(ps[0], "Z") && !strings.HasPrefix(ps[1], "Z")
	})
	start := time.Now()
	e.ok(t, "stop", withInit)
	if c := e.inspect(t, withInit); c.State.ExitCode != 143 || time.Since(start) > 5*time.Second {
		t.Errorf("stop of an --init container: exit %d after %v", c.State.ExitCode, time.Since(start))
	}
}

// testResources: the run flags that become cgroup limits, checked in the
// running container's cgroup files.
func testResources(t *testing.T, e *engine) {
	n := e.runD(t, "--memory", "64m", "--memory-swap", "128m", "--cpus", "1.5", "--cpu-shares", "512",
		"--cpuset-cpus", "0", "--pids-limit", "30", "--oom-kill-disable", "busybox", "sleep", "1000")
	id := e.inspect(t, n).ID
	for _, f := range []struct{ ctl, file, want string }{
		{"memory", "memory.limit_in_bytes", strconv.Itoa(64 << 20)},
		{"memory", "memory.memsw.limit_in_bytes", strconv.Itoa(128 << 20)},
		{"cpu", "cpu.cfs_quota_us", "150000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"cpu", "cpu.shares", "512"},
		{"cpuset", "cpuset.cpus", "0"},
		{"pids", "pids.max", "30"},
	} {
		if got := cgroupFile(t, id, f.ctl, f.file); got != f.want {
			t.Errorf("%s: %s, want %s", f.file, got, f.want)
		}
	}
	if oc := cgroupFile(t, id, "memory", "memory.oom_control"); !strings.Contains(oc, "oom_kill_disable 1") {
		t.Errorf("memory.oom_control: %q", oc)
	}
	if out := e.ok(t, "exec", n, "nproc"); out != "1\n" {
		t.Errorf("nproc with --cpuset-cpus 0: %q", out)
	}
	m := e.runD(t, "-m", "32m", "busybox", "sleep", "1000")
	mid := e.inspect(t, m).ID
	if got := cgroupFile(t, mid, "memory", "memory.memsw.limit_in_bytes"); got != strconv.Itoa(64<<20) {
		t.Errorf("-m 32m without --memory-swap: memsw %s, want twice the memory", got)
	}
	if got := cgroupFile(t, mid, "pids", "pids.max"); got != "max" {
		t.Errorf("pids.max without a limit: %s", got)
	}
	oom := e.name(t)
	r := e.docker(t, "", "run", "--name", oom, "-m", "16m", "--memory-swap", "16m", "busybox", "tail", "/dev/zero")
	if c := e.inspect(t, oom); r.code != 137 || !c.State.OOMKilled || c.State.ExitCode != 137 {
		t.Errorf("a container over its memory: %v\nstate %+v", r, c.State)
	}
}

// testUlimit: --ulimit soft and hard limits.
func testUlimit(t *testing.T, e *engine) {
	out := e.ok(t, "run", "--rm", "--ulimit", "nofile=1024:2048", "--ulimit", "nproc=100", "busybox",
		"sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u")
	if out != "1024\n2048\n100\n" {
		t.Errorf("--ulimit: %q", out)
	}
	if msg := e.fails(t, 125, "run", "--rm", "--ulimit", "bogus=1", "busybox", "true"); !strings.Contains(msg, "bogus") {
		t.Errorf("--ulimit bogus=1: %q", msg)
	}
}

// testDefaultSecurity: Docker's 14 capabilities, its seccomp profile,
// masked and read-only /proc paths, and a device cgroup that lets mknod
// through but denies access to other devices.
func testDefaultSecurity(t *testing.T, e *engine) {
	n := e.runD(t, "busybox", "sleep", "1000")
	id := e.inspect(t, n).ID
	for field, want := range map[string]string{"CapEff": defaultCapEff, "CapPrm": defaultCapEff, "CapBnd": defaultCapEff,
		"CapInh": "0000000000000000", "NoNewPrivs": "0", "Seccomp": "2"} {
		if got := e.statusField(t, n, field); got != want {
			t.Errorf("%s: %s, want %s", field, got, want)
		}
	}
	if out := e.ok(t, "exec", n, "sysprobe", "keyctl", "unshare", "userfaultfd"); out != "keyctl=1\nunshare=1\nuserfaultfd=1\n" {
		t.Errorf("system calls the default profile denies (EPERM=1):\n%s", out)
	}
	out := e.ok(t, "exec", n, "sh", "-c", "wc -c < /proc/timer_list; wc -c < /proc/keys; ls -A /proc/acpi | wc -l; "+
		"(echo x > /proc/sys/kernel/domainname) 2>/dev/null || echo ro")
	if out != "0\n0\n0\nro\n" {
		t.Errorf("masked and read-only /proc paths: %q", out)
	}
	r := e.docker(t, "", "exec", n, "sh", "-c", "mknod /tmp/blk b 7 0 && echo made; head -c 1 /tmp/blk")
	if r.stdout != "made\n" || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Errorf("mknod and read of a block device: %v", r)
	}
	if r := e.docker(t, "", "exec", n, "sh", "-c", "echo x > /dev/null && head -c 1 /dev/zero | wc -c"); r.stdout != "1\n" {
		t.Errorf("the default devices: %v", r)
	}
	list := cgroupFile(t, id, "devices", "devices.list")
	for _, rule := range []string{"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 136:* rwm"} {
		if !strings.Contains(list, rule+"\n") && !strings.HasSuffix(list, rule) {
			t.Errorf("devices.list lacks %q:\n%s", rule, list)
		}
	}
	if strings.Contains(list, "a *:* rwm") {
		t.Errorf("devices.list allows everything:\n%s", list)
	}
}

// testPrivileged: --privileged gets every capability the daemon has, no
// seccomp, unmasked /proc and every device.
func testPrivileged(t *testing.T, e *engine) {
	n := e.runD(t, "--privileged", "busybox", "sleep", "1000")
	id := e.inspect(t, n).ID
	if got := e.statusField(t, n, "CapEff"); got != hostCapBnd(t) {
		t.Errorf("CapEff %s, want the daemon's bounding set %s", got, hostCapBnd(t))
	}
	if got := e.statusField(t, n, "Seccomp"); got != "0" {
		t.Errorf("Seccomp %s", got)
	}
	if out := e.ok(t, "exec", n, "sysprobe", "keyctl", "userfaultfd"); strings.Contains(out, "=1\n") {
		t.Errorf("privileged system calls:\n%s", out)
	}
	out := e.ok(t, "exec", n, "sh", "-c", "test $(wc -c < /proc/timer_list) -gt 0 && echo unmasked; "+
		"echo pv > /proc/sys/kernel/domainname && cat /proc/sys/kernel/domainname")
	if out != "unmasked\npv\n" {
		t.Errorf("/proc of a privileged container: %q", out)
	}
	if list := cgroupFile(t, id, "devices", "devices.list"); list != "a *:* rwm" {
		t.Errorf("devices.list of a privileged container: %q", list)
	}
}

// testCapsAndSecurityOpts: --cap-add/--cap-drop, no-new-privileges,
// seccomp=unconfined and seccomp=FILE.
func testCapsAndSecurityOpts(t *testing.T, e *engine) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--cap-drop", "ALL", "--cap-add", "NET_ADMIN"}, "CapEff:\t0000000000001000\n"},
		{[]string{"--cap-drop", "chown", "--cap-add", "CAP_SYS_ADMIN"}, "CapEff:\t00000000a82425fa\n"},
		{[]string{"--security-opt", "no-new-privileges"}, "NoNewPrivs:\t1\n"},
		{[]string{"--security-opt", "no-new-privileges=true"}, "NoNewPrivs:\t1\n"},
		{[]string{"--security-opt", "seccomp=unconfined"}, "Seccomp:\t0\n"},
	} {
		field := strings.Split(tc.want, ":")[0]
		args := append(append([]string{"run", "--rm"}, tc.args...), "busybox", "grep", "^"+field+":", "/proc/self/status")
		if out := e.ok(t, args...); out != tc.want {
			t.Errorf("%v: %q, want %q", tc.args, out, tc.want)
		}
	}
	if out := e.ok(t, "run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "sysprobe", "keyctl"); out == "keyctl=1\n" {
		t.Errorf("keyctl denied without seccomp")
	}
	profile := filepath.Join(t.TempDir(), "profile.json")
	if err := os.WriteFile(profile, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[`+
		`{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.docker(t, "", "run", "--rm", "--security-opt", "seccomp="+profile, "busybox", "sh", "-c", "mkdir /tmp/d; sysprobe keyctl")
	if !strings.Contains(r.stderr, "Operation not permitted") || r.stdout == "keyctl=1\n" {
		t.Errorf("seccomp=%s: %v", profile, r)
	}
	if msg := e.fails(t, 125, "run", "--rm", "--cap-add", "NOPE", "busybox", "true"); !strings.Contains(msg, "NOPE") {
		t.Errorf("--cap-add NOPE: %q", msg)
	}
	if err := os.WriteFile(profile, []byte(`{"defaultAction":`), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg := e.fails(t, 125, "run", "--rm", "--security-opt", "seccomp="+profile, "busybox", "true"); !strings.Contains(msg, "seccomp") {
		t.Errorf("a broken seccomp profile: %q", msg)
	}
}

// testReadOnly: --read-only makes the root filesystem read-only, not
// /dev/shm.
func testReadOnly(t *testing.T, e *engine) {
	r := e.docker(t, "", "run", "--rm", "--read-only", "busybox", "sh", "-c", "touch /x; touch /dev/shm/x && echo shm")
	if r.stdout != "shm\n" || !strings.Contains(r.stderr, "touch: /x: Read-only file system") {
		t.Errorf("--read-only: %v", r)
	}
	if c := e.runD(t, "--read-only", "busybox", "sleep", "1000"); !e.inspect(t, c).HostConfig.ReadonlyRootfs {
		t.Errorf("ReadonlyRootfs not set")
	}
}

// testNetwork: none (loopback only), host (the host's namespace and
// hostname) and the default network (a namespace of its own).
func testNetwork(t *testing.T, e *engine) {
	ours, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	out := e.ok(t, "run", "--rm", "--network", "none", "busybox", "sh", "-c", "ls /sys/class/net; ip -o link show lo; readlink /proc/1/ns/net")
	if !strings.HasPrefix(out, "lo\n") || !strings.Contains(out, "UP") || strings.Contains(out, ours) {
		t.Errorf("--network none:\n%s", out)
	}
	out = e.ok(t, "run", "--rm", "--network", "host", "busybox", "sh", "-c", "hostname; readlink /proc/1/ns/net")
	if out != host+"\n"+ours+"\n" {
		t.Errorf("--network host: %q, want hostname %s and namespace %s", out, host, ours)
	}
	n := e.runD(t, "busybox", "sleep", "1000")
	c := e.inspect(t, n)
	out = e.ok(t, "exec", n, "sh", "-c", "hostname; ip -o link show lo; readlink /proc/1/ns/net")
	if !strings.HasPrefix(out, c.ID[:12]+"\n") || !strings.Contains(out, "UP") || strings.Contains(out, ours) {
		t.Errorf("default network:\n%s", out)
	}
	if msg := e.fails(t, 125, "run", "--rm", "--network", "nosuchnet", "busybox", "true"); !strings.Contains(msg, "network nosuchnet not found") {
		t.Errorf("--network nosuchnet: %q", msg)
	}
}

// testDevice: --device adds a host device under another name with the
// given permissions; a missing device is refused.
func testDevice(t *testing.T, e *engine) {
	n := e.runD(t, "--device", "/dev/null:/dev/mynull", "--device", "/dev/kmsg:/dev/mykmsg:r", "busybox", "sleep", "1000")
	id := e.inspect(t, n).ID
	out := e.ok(t, "exec", n, "sh", "-c", "ls -l /dev/mynull /dev/mykmsg | cut -c1; echo hi > /dev/mynull && echo wrote")
	if out != "c\nc\nwrote\n" {
		t.Errorf("--device nodes: %q", out)
	}
	if list := cgroupFile(t, id, "devices", "devices.list"); !strings.Contains(list, "c 1:11 r") {
		t.Errorf("devices.list lacks c 1:11 r:\n%s", list)
	}
	// As with dockerd, the device is looked up at start, and the CLI makes
	// "no such file or directory" exit 127.
	bad := e.name(t)
	if msg := e.fails(t, 127, "run", "--rm", "--name", bad, "--device", "/dev/nosuchdev", "busybox", "true"); !strings.Contains(msg,
		`error gathering device information while adding custom device "/dev/nosuchdev"`) {
		t.Errorf("--device /dev/nosuchdev: %q", msg)
	}
	eventually(t, 10*time.Second, "the --rm container of a failed start to go", func() bool { return !e.exists(t, bad) })
}
