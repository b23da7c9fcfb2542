package oci_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// nsKinds are the namespaces a default bundle unshares (besides user/time),
// with their spec name and /proc/self/ns name.
var nsKinds = []struct {
	spec specs.LinuxNamespaceType
	proc string
}{
	{specs.PIDNamespace, "pid"}, {specs.NetworkNamespace, "net"}, {specs.IPCNamespace, "ipc"},
	{specs.UTSNamespace, "uts"}, {specs.MountNamespace, "mnt"}, {specs.CgroupNamespace, "cgroup"},
}

const printNS = `for n in pid net ipc uts mnt cgroup user time; do echo "$n $(readlink /proc/self/ns/$n)"; done`

// containerNS runs printNS in the container and returns kind → link.
func containerNS(t *testing.T, c *ctr) map[string]string {
	t.Helper()
	out := c.args("sh", "-c", printNS).output()
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(l, " "); ok {
			m[k] = v
		}
	}
	return m
}

func setNamespace(s *specs.Spec, typ specs.LinuxNamespaceType, path string) {
	for i, ns := range s.Linux.Namespaces {
		if ns.Type == typ {
			s.Linux.Namespaces[i].Path = path
			return
		}
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: typ, Path: path})
}

func removeNamespace(s *specs.Spec, typ specs.LinuxNamespaceType) {
	var keep []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != typ {
			keep = append(keep, ns)
		}
	}
	s.Linux.Namespaces = keep
}

func TestNamespacesNew(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	for _, k := range nsKinds {
		setNamespace(c.spec, k.spec, "")
	}
	got := containerNS(t, c)
	self := strconv.Itoa(os.Getpid())
	for _, k := range nsKinds {
		if host := nsLink(t, self, k.proc); got[k.proc] == "" || got[k.proc] == host {
			t.Errorf("%s namespace: container has %q, host %q; want a new one", k.proc, got[k.proc], host)
		}
	}
}

func TestNamespacesShared(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Hostname = ""
	for _, k := range nsKinds {
		if k.spec != specs.MountNamespace {
			removeNamespace(c.spec, k.spec)
		}
	}
	got := containerNS(t, c)
	self := strconv.Itoa(os.Getpid())
	for _, k := range nsKinds {
		if host := nsLink(t, self, k.proc); k.spec != specs.MountNamespace && got[k.proc] != host {
			t.Errorf("%s namespace not in the spec: container has %q, want the host's %q", k.proc, got[k.proc], host)
		}
	}
}

func TestPidNamespace(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	// ls is the container's only process: it must see itself as pid 1, alone.
	var pids []string
	for _, e := range strings.Fields(newCtr(t, r).args("ls", "/proc").output()) {
		if _, err := strconv.Atoi(e); err == nil {
			pids = append(pids, e)
		}
	}
	if len(pids) != 1 || pids[0] != "1" {
		t.Errorf("pid namespace: the container sees processes %q, want only 1", pids)
	}
	if i := testprogInfo(t, newCtr(t, r)); i.Pid != 1 {
		t.Errorf("the container's process has pid %d, want 1", i.Pid)
	}
}

func TestNetNamespaceOnlyLoopback(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	out := newCtr(t, r).args("cat", "/proc/net/dev").output()
	var ifaces []string
	for _, l := range strings.Split(out, "\n") {
		if name, _, ok := strings.Cut(l, ":"); ok {
			ifaces = append(ifaces, strings.TrimSpace(name))
		}
	}
	if len(ifaces) != 1 || ifaces[0] != "lo" {
		t.Errorf("new net namespace has interfaces %q, want only lo", ifaces)
	}
}

func TestUTSNamespace(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Hostname = "host-" + c.id[len(c.id)-8:]
	c.spec.Domainname = "dom-" + c.id[len(c.id)-8:]
	info := testprogInfo(t, c)
	if info.Hostname != c.spec.Hostname {
		t.Errorf("hostname %q, want %q", info.Hostname, c.spec.Hostname)
	}
	if host, _ := os.Hostname(); host == c.spec.Hostname {
		t.Error("the container's hostname leaked to the host")
	}
	if info.Domainname != c.spec.Domainname {
		skipIfRunc(t, "1.1.5 implements runtime-spec 1.0.2, without domainname (got %q)", info.Domainname)
		t.Errorf("domainname %q, want %q", info.Domainname, c.spec.Domainname)
	}
}

func TestUserNamespace(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	setNamespace(c.spec, specs.UserNamespace, "")
	c.spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	c.spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	dir := c.hostDir("/out")
	c.args("sh", "-c", "id > /out/id; cat /proc/self/uid_map /proc/self/gid_map > /out/maps.new; mv /out/maps.new /out/maps; sleep 1000")
	st := c.start()
	waitFile(t, dir+"/maps")
	time.Sleep(50 * time.Millisecond)
	status := procStatus(readFile(t, "/proc/"+strconv.Itoa(st.Pid)+"/status"))
	if status["Uid"] != "100000 100000 100000 100000" || status["Gid"] != "100000 100000 100000 100000" {
		t.Errorf("host sees uid %q gid %q, want 100000", status["Uid"], status["Gid"])
	}
	id := readFile(t, dir+"/id")
	if !strings.HasPrefix(id, "uid=0(root) gid=0(root)") {
		t.Errorf("inside, id = %q", id)
	}
	maps := strings.Fields(readFile(t, dir+"/maps"))
	if strings.Join(maps, " ") != "0 100000 65536 0 100000 65536" {
		t.Errorf("inside, uid_map and gid_map = %q", maps)
	}
	if u := nsLink(t, strconv.Itoa(st.Pid), "user"); u == nsLink(t, "self", "user") {
		t.Error("container shares the host's user namespace")
	}
}

func TestCgroupNamespace(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	setNamespace(c.spec, specs.CgroupNamespace, "")
	out := c.args("cat", "/proc/self/cgroup").output()
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasSuffix(l, ":/") {
			t.Errorf("in a cgroup namespace, /proc/self/cgroup line %q is not at /", l)
		}
	}
}

func TestTimeNamespace(t *testing.T) {
	t.Parallel()
	const offset = 10 * 86400
	r := newRT(t)
	c := newCtr(t, r)
	setNamespace(c.spec, specs.TimeNamespace, "")
	c.spec.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{
		"monotonic": {Secs: offset}, "boottime": {Secs: offset},
	}
	c.args("sh", "-c", "cat /proc/self/timens_offsets; cat /proc/uptime")
	host := uptime(t, readFile(t, "/proc/uptime"))
	res := c.runC(nil)
	if res.code != 0 {
		skipIfRunc(t, "1.1.5 has no time namespace support: %v", res)
		t.Fatalf("run: %v", res)
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if len(lines) != 3 {
		skipIfRunc(t, "1.1.5 ignores the time namespace: %q", res.stdout)
		t.Fatalf("unexpected output %q", res.stdout)
	}
	for _, l := range lines[:2] {
		if f := strings.Fields(l); len(f) != 3 || f[1] != strconv.Itoa(offset) {
			t.Errorf("timens_offsets line %q, want offset %d", l, offset)
		}
	}
	if d := uptime(t, lines[2]) - host; d < offset-5 || d > offset+10 {
		t.Errorf("uptime inside is %.0fs ahead of the host's, want about %d", d, offset)
	}
}

func uptime(t testing.TB, s string) float64 {
	t.Helper()
	f := strings.Fields(s)
	if len(f) == 0 {
		t.Fatalf("bad /proc/uptime %q", s)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// nsHolder starts a process in new net, uts and ipc namespaces and returns
// its pid; it is killed when the test ends.
func nsHolder(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("unshare", "--net", "--uts", "--ipc", "sleep", "100")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pid := strconv.Itoa(cmd.Process.Pid)
	for deadline := time.Now().Add(5 * time.Second); nsLink(t, pid, "net") == nsLink(t, "self", "net"); {
		if time.Now().After(deadline) {
			t.Fatal("unshare never entered its namespaces")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return pid
}

func TestJoinNamespacesByPath(t *testing.T) {
	t.Parallel()
	holder := nsHolder(t)
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Hostname = ""
	setNamespace(c.spec, specs.NetworkNamespace, "/proc/"+holder+"/ns/net")
	setNamespace(c.spec, specs.UTSNamespace, "/proc/"+holder+"/ns/uts")
	setNamespace(c.spec, specs.IPCNamespace, "/proc/"+holder+"/ns/ipc")
	got := containerNS(t, c)
	for _, k := range []string{"net", "uts", "ipc"} {
		if want := nsLink(t, holder, k); got[k] != want {
			t.Errorf("%s namespace by path: container has %q, want %q", k, got[k], want)
		}
	}
}

func TestJoinNamespaceBadPath(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	setNamespace(c.spec, specs.NetworkNamespace, "/proc/self/ns/no-such-ns")
	c.args("true")
	if res := c.create(); res.code == 0 {
		t.Fatalf("create with a bad namespace path succeeded: %v", res)
	}
	c.assertGone()
}

// info is the part of `testprog info` the tests read.
type info struct {
	UID        int               `json:"uid"`
	GID        int               `json:"gid"`
	Groups     []int             `json:"groups"`
	Umask      int               `json:"umask"`
	Cwd        string            `json:"cwd"`
	Hostname   string            `json:"hostname"`
	Domainname string            `json:"domainname"`
	Env        []string          `json:"env"`
	Rlimits    map[string]rlimit `json:"rlimits"`
	Caps       map[string]string `json:"caps"`
	NoNewPrivs bool              `json:"no_new_privs"`
	OOMAdj     int               `json:"oom_score_adj"`
	Pid        int               `json:"pid"`
	Namespaces map[string]uint64 `json:"namespaces"`
}

type rlimit struct {
	Soft uint64 `json:"soft"`
	Hard uint64 `json:"hard"`
}

// testprogInfo runs `testprog info` as the container's process.
func testprogInfo(t *testing.T, c *ctr) info {
	t.Helper()
	return parseInfo(t, c.args("/bin/testprog", "info").output())
}

func parseInfo(t *testing.T, out string) info {
	t.Helper()
	var i info
	if err := json.Unmarshal([]byte(out), &i); err != nil {
		t.Fatalf("testprog info: %v: %q", err, out)
	}
	return i
}

// Without a mount namespace the container shares the host's mounts: it is
// only chrooted (as runc does), the host mount table is not touched, and the
// runtime says which parts of the config it could not apply.
func TestNoMountNamespace(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	removeNamespace(c.spec, specs.MountNamespace)
	before := readFile(t, "/proc/self/mountinfo")
	res := c.args("sh", "-c", "readlink /proc/self/ns/mnt 2>/dev/null; ls /bin/busybox").runC(nil)
	if res.code != 0 {
		t.Fatalf("run without a mount namespace: %v", res)
	}
	if !strings.Contains(res.stdout, "/bin/busybox") {
		t.Errorf("the container is not chrooted into its rootfs: %q", res.stdout)
	}
	if after := readFile(t, "/proc/self/mountinfo"); after != before {
		t.Errorf("the host mount table changed:\nbefore %s\nafter %s", before, after)
	}
	if !isRunc(t) {
		contains(t, "stderr", res.stderr, "no mount namespace")
	}
}
