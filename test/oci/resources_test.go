package oci_test

import (
	"bufio"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cgroupFile returns the host path of file in the cgroup of process pid on
// the hierarchy that carries controller (v1), or on cgroup v2 when no v1
// hierarchy does. "" when neither exists.
func cgroupFile(t testing.TB, pid int, controller, file string) string {
	t.Helper()
	data := readFile(t, filepath.Join("/proc", strconv.Itoa(pid), "cgroup"))
	mounts := readFile(t, "/proc/self/mountinfo")
	v2Path := ""
	for _, line := range strings.Split(strings.TrimSpace(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2Path = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == controller {
				if mp := cgroupMount(mounts, "cgroup", controller); mp != "" {
					return filepath.Join(mp, parts[2], file)
				}
			}
		}
	}
	if mp := cgroupMount(mounts, "cgroup2", ""); mp != "" && v2Path != "" {
		if _, err := os.Stat(filepath.Join(mp, v2Path, file)); err == nil {
			return filepath.Join(mp, v2Path, file)
		}
	}
	return ""
}

// cgroupMount finds the mount point of a cgroup (v1, with controller among
// its options) or cgroup2 hierarchy in mountinfo text.
func cgroupMount(mountinfo, fstype, controller string) string {
	for _, line := range strings.Split(mountinfo, "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 || g[0] != fstype || f[3] != "/" {
			continue
		}
		if fstype == "cgroup2" || contains2(strings.Split(g[2], ","), controller) {
			return f[4]
		}
	}
	return ""
}

func contains2(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// readCgroup reads a cgroup file of pid, skipping the test when the host
// has no such controller.
func readCgroup(t *testing.T, pid int, controller, file string) string {
	t.Helper()
	p := cgroupFile(t, pid, controller, file)
	if p == "" {
		t.Skipf("no %s controller with %s on this host", controller, file)
	}
	return strings.TrimSpace(readFile(t, p))
}

func i64p(v int64) *int64 { return &v }

// TestResourcesUpdate runs a container with memory and pids limits, reads
// them back from its cgroup, changes them with update (flags, then a -r
// file) and reads the new values back.
func TestResourcesUpdate(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: i64p(64 << 20)}
	c.spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: i64p(20)}
	c.args("sleep", "1000")
	pid := c.start().Pid
	check := func(step, controller, file, want string) {
		t.Helper()
		if got := readCgroup(t, pid, controller, file); got != want {
			t.Errorf("%s: %s = %s, want %s", step, file, got, want)
		}
	}
	limitFile := "memory.limit_in_bytes"
	if cgroupFile(t, pid, "memory", limitFile) == "" {
		limitFile = "memory.max"
	}
	check("create", "memory", limitFile, "67108864")
	check("create", "pids", "pids.max", "20")
	r.must("update", "--memory", "128m", "--pids-limit", "30", "--cpu-share", "512",
		"--cpu-quota", "20000", "--cpu-period", "100000", c.id)
	check("update", "memory", limitFile, "134217728")
	check("update", "pids", "pids.max", "30")
	if p := cgroupFile(t, pid, "cpu", "cpu.cfs_quota_us"); p != "" {
		check("update", "cpu", "cpu.cfs_quota_us", "20000")
		check("update", "cpu", "cpu.shares", "512")
	}
	res := filepath.Join(t.TempDir(), "res.json")
	writeFile(t, res, `{"memory": {"limit": 100663296}, "pids": {"limit": 40}}`)
	r.must("update", "-r", res, c.id)
	check("update -r", "memory", limitFile, "100663296")
	check("update -r", "pids", "pids.max", "40")
	// An update the kernel refuses leaves the limits as they were (corral
	// writes memory before cpuset, so this needs its rollback).
	if res := r.run("update", "--memory", "64m", "--cpuset-cpus", "99", c.id); res.code == 0 {
		t.Errorf("update with cpuset-cpus 99 succeeded: %v", res)
	}
	check("refused update", "memory", limitFile, "100663296")
}

// TestEventsStats: `events --stats` prints one JSON stats event in runc's
// format for a running container.
func TestEventsStats(t *testing.T) {
	t.Parallel()
	r, c, _ := running(t, nil)
	res := r.must("events", "--stats", c.id)
	var ev struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Data struct {
			CPU struct {
				Usage struct {
					Total uint64 `json:"total"`
				} `json:"usage"`
			} `json:"cpu"`
			Memory struct {
				Usage struct {
					Usage uint64 `json:"usage"`
				} `json:"usage"`
				Raw map[string]uint64 `json:"raw"`
			} `json:"memory"`
			Pids struct {
				Current uint64 `json:"current"`
			} `json:"pids"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &ev); err != nil || strings.Count(strings.TrimSpace(res.stdout), "\n") != 0 {
		t.Fatalf("events --stats printed %q: %v", res.stdout, err)
	}
	if ev.Type != "stats" || ev.ID != c.id || ev.Data.Memory.Usage.Usage == 0 || ev.Data.Pids.Current == 0 ||
		ev.Data.CPU.Usage.Total == 0 || len(ev.Data.Memory.Raw) == 0 {
		t.Errorf("stats event: %s", res.stdout)
	}
}

// TestEventsOOM: `events` reports an OOM kill in the container and ends
// when the container is deleted.
func TestEventsOOM(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	dir := c.hostDir("/out")
	c.spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: i64p(32 << 20)}
	// dd runs out of memory again every 0.2 s until the test says stop:
	// events counts the OOM kills that come after it has read the
	// cgroup's count, and under emulation (the cgroup v2 VM) its start may
	// take longer than any fixed wait.
	c.args("sh", "-c", "while [ ! -e /out/go ]; do sleep 0.05; done; "+
		"while [ ! -e /out/stop ]; do dd if=/dev/zero of=/dev/null bs=67108864 count=1; echo dd=$? > /out/dd.new; mv /out/dd.new /out/dd; sleep 0.2; done; sleep 1000")
	c.start()
	ev := r.startBG(nil, "events", "--interval", "1h", c.id)
	defer writeFile(t, filepath.Join(dir, "stop"), "")
	sleepMs(300) // let events register for OOM notifications
	writeFile(t, filepath.Join(dir, "go"), "")
	waitFile(t, filepath.Join(dir, "dd"))
	if got := readFile(t, filepath.Join(dir, "dd")); got != "dd=137\n" {
		t.Errorf("dd of 64M under a 32M limit: %q, want it killed (137)", got)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(readFile(t, ev.out.Name()), `"type":"oom"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no oom event: %q", readFile(t, ev.out.Name()))
		}
		sleepMs(50)
	}
	line, _ := bufio.NewReader(strings.NewReader(readFile(t, ev.out.Name()))).ReadString('\n')
	var oom map[string]any
	if err := json.Unmarshal([]byte(line), &oom); err != nil || oom["id"] != c.id {
		t.Errorf("oom event %q: %v", line, err)
	}
	r.must("delete", "--force", c.id)
	if res := ev.wait(); res.code != 0 {
		t.Errorf("events after delete: %v", res)
	}
}

// TestPidsLimitEnforced: forks past linux.resources.pids.limit fail.
func TestPidsLimitEnforced(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: i64p(4)}
	c.args("sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 2 & done 2>&1; wait")
	res := c.runC(nil)
	if !strings.Contains(strings.ToLower(res.stdout+res.stderr), "fork") {
		t.Errorf("8 forks under a pids limit of 4: %v", res)
	}
}

// TestUpdateStopped: update refuses a stopped container, saying so.
func TestUpdateStopped(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	c.args("true")
	c.mustCreate()
	r.must("start", c.id)
	c.waitStatus("stopped")
	res := r.fails("update", "--memory", "64m", c.id)
	if s := strings.ToLower(res.stderr); !strings.Contains(s, "stopped") && !strings.Contains(s, "not running") {
		t.Errorf("update of a stopped container: %v", res)
	}
}

// TestNetClsLimitFails: a limit for a controller that is not mounted fails
// create with an error naming it, and leaves nothing behind, no cgroup
// directory either.
func TestNetClsLimitFails(t *testing.T) {
	t.Parallel()
	if cgroupMount(readFile(t, "/proc/self/mountinfo"), "cgroup", "net_cls") != "" {
		t.Skip("net_cls is mounted on this host")
	}
	r := newRT(t)
	c := newCtr(t, r)
	classID := uint32(0x100001)
	c.spec.Linux.Resources.Network = &specs.LinuxNetwork{ClassID: &classID}
	c.args("true")
	res := c.create()
	if res.code == 0 {
		t.Fatalf("create with a net_cls limit succeeded: %v", res)
	}
	if !isRunc(t) {
		for _, part := range []string{"linux.resources.network.classID", "net_cls", "not mounted"} {
			contains(t, "create error", res.stderr, part)
		}
	}
	c.assertGone()
	assertNoCgroup(t, c.id)
}

// assertNoCgroup fails if a directory named id exists in the test's own
// cgroup or at the root of any hierarchy, or anything under an unmounted
// controller's directory.
func assertNoCgroup(t *testing.T, id string) {
	t.Helper()
	own := readFile(t, "/proc/self/cgroup")
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, id)); err == nil {
			t.Errorf("cgroup %s left behind", filepath.Join(d, id))
		}
		for _, line := range strings.Split(own, "\n") {
			if parts := strings.SplitN(line, ":", 3); len(parts) == 3 {
				if _, err := os.Stat(filepath.Join(d, parts[2], id)); err == nil {
					t.Errorf("cgroup %s left behind", filepath.Join(d, parts[2], id))
				}
			}
		}
	}
	// Under an unmounted controller's directory (a plain directory of the
	// cgroup tmpfs), look for this container's own entries only: other
	// engines on a shared host (podman's crun) leave theirs there.
	for _, ctrl := range []string{"net_cls", "net_prio"} {
		root := filepath.Join("/sys/fs/cgroup", ctrl)
		if cgroupMount(readFile(t, "/proc/self/mountinfo"), "cgroup", ctrl) != "" {
			continue
		}
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && strings.Contains(d.Name(), id) {
				t.Errorf("%s (not mounted) has the container's %s", root, path)
			}
			return nil
		})
	}
}

// TestDeviceCgroupBlocksMknodAttack: a container with every capability
// may make device nodes (mknod is allowed for all devices, as in runc) but
// not open one its rules do not allow: not /dev/mem, not the host's disk.
func TestDeviceCgroupBlocksMknodAttack(t *testing.T) {
	t.Parallel()
	disks, _ := os.ReadDir("/sys/dev/block")
	if len(disks) == 0 {
		t.Skip("no block device on this host")
	}
	maj, min, _ := strings.Cut(disks[0].Name(), ":")
	r := newRT(t)
	c := newCtr(t, r)
	all := allCaps()
	c.spec.Process.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
	c.spec.Root.Readonly = false
	script := "mknod /dev/xmem c 1 1 && echo made-mem; mknod /dev/xdisk b " + maj + " " + min + " && echo made-disk; " +
		"head -c 1 /dev/xmem >/dev/null 2>&1 && echo READ-MEM; head -c 1 /dev/xdisk >/dev/null 2>&1 && echo READ-DISK; " +
		"echo x > /dev/null && echo null-ok"
	out := c.args("sh", "-c", script).output()
	if strings.Contains(out, "READ-") || !strings.Contains(out, "null-ok") {
		t.Errorf("device cgroup: %q", out)
	}
	contains(t, "mknod (allowed, as in runc)", out, "made-mem")
}
