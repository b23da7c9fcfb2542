package oci_test

// Regression tests for behaviour that runc v1.1.5's own integration tests
// (tests/integration/*.bats, run by test/callers/runc-bats.sh) check: each
// one here fails on a runtime that fails the bats test named in its comment.

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corral-dev/corral/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// pureV2 reports whether the host has cgroup v2 alone.
func pureV2() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// cgroupBase returns the host directory a relative linux.cgroupsPath is
// resolved against on the hierarchy of controller: the test's own cgroup,
// or its parent on a pure v2 host (as runc). The test is skipped when the
// host has no such hierarchy.
func cgroupBase(t *testing.T, controller string) string {
	t.Helper()
	own := cgroupFile(t, os.Getpid(), controller, "")
	if own == "" {
		t.Skipf("no %s hierarchy on this host", controller)
	}
	if pureV2() {
		return filepath.Dir(own)
	}
	return own
}

// requireV1 skips the test on a host without the v1 hierarchy of controller.
func requireV1(t *testing.T, controller string) {
	t.Helper()
	if pureV2() || cgroupMount(readFile(t, "/proc/self/mountinfo"), "cgroup", controller) == "" {
		t.Skipf("no v1 %s hierarchy on this host", controller)
	}
}

// removeCgroupDirs removes the directory rel below cgroupBase on every
// hierarchy, deepest first, where it exists (at test end, after the
// runtime deleted its containers).
func removeCgroupDirs(t *testing.T, rels ...string) {
	t.Helper()
	var bases []string
	for _, c := range []string{"cpuset", "cpu", "cpuacct", "memory", "devices", "freezer", "blkio", "pids", "name=systemd", ""} {
		if b := cgroupFile(t, os.Getpid(), c, ""); b != "" && !pureV2() {
			bases = append(bases, b)
		} else if b != "" {
			bases = append(bases, filepath.Dir(b))
		}
	}
	t.Cleanup(func() {
		for i := len(rels) - 1; i >= 0; i-- {
			for _, b := range bases {
				if err := unix.Rmdir(filepath.Join(b, rels[i])); err != nil && !errors.Is(err, unix.ENOENT) {
					t.Errorf("remove cgroup %s: %v", filepath.Join(b, rels[i]), err)
				}
			}
		}
	})
}

// TestExecPausedRefused (cgroups.bats "runc exec should refuse a paused
// container"): exec into a paused container fails at once, in runc's words.
func TestExecPausedRefused(t *testing.T) {
	t.Parallel()
	r, c, _ := running(t, nil)
	if res := r.run("pause", c.id); res.code != 0 {
		t.Skipf("pause: %v", res)
	}
	defer r.run("resume", c.id)
	res := r.fails("exec", c.id, "true")
	contains(t, "exec into a paused container", res.stderr, "cannot exec in a paused container")
	if res.code != 255 {
		t.Errorf("exit %d, want 255 as runc", res.code)
	}
}

// TestCreateSharedCgroup (cgroups.bats "runc run/create should warn about a
// non-empty cgroup"): a second container in the first one's cgroup is
// created with a warning, and when a third one there fails, its rollback
// leaves the cgroup and the first container alone.
func TestCreateSharedCgroup(t *testing.T) {
	t.Parallel()
	rel := "corral-oci-" + testutil.UniqueName(t)
	removeCgroupDirs(t, rel)
	r := newRT(t)
	first := newCtr(t, r)
	first.spec.Linux.CgroupsPath = rel
	first.args("sleep", "1000")
	first.start()

	second := newCtr(t, r)
	second.spec.Linux.CgroupsPath = rel
	second.args("sleep", "1000")
	res := second.create()
	if res.code != 0 {
		t.Fatalf("create in a non-empty cgroup: %v", res)
	}
	contains(t, "create in a non-empty cgroup", res.stderr, "container's cgroup is not empty")

	third := newCtr(t, r)
	third.spec.Linux.CgroupsPath = rel
	third.args("/no/such/binary")
	if res := third.create(); res.code == 0 {
		t.Fatalf("create with a missing binary succeeded: %v", res)
	}
	if st := first.state(); st.Status != specs.StateRunning {
		t.Errorf("after a failed create in its cgroup the first container is %q", st.Status)
	}
}

// TestCreateFrozenCgroup (cgroups.bats "runc run/create should refuse
// pre-existing frozen cgroup"): create in a frozen cgroup fails at once
// (it hung: init froze as it joined) and leaves the cgroup it did not make.
func TestCreateFrozenCgroup(t *testing.T) {
	t.Parallel()
	base := cgroupBase(t, "freezer")
	rel := "corral-oci-" + testutil.UniqueName(t)
	dir := filepath.Join(base, rel)
	file, frozen, thawed := "freezer.state", "FROZEN", "THAWED"
	if _, err := os.Stat(filepath.Join(base, file)); err != nil {
		file, frozen, thawed = "cgroup.freeze", "1", "0"
	}
	removeCgroupDirs(t, rel)
	must(t, os.Mkdir(dir, 0o755))
	t.Cleanup(func() { _ = os.WriteFile(filepath.Join(dir, file), []byte(thawed), 0) })
	if err := os.WriteFile(filepath.Join(dir, file), []byte(frozen), 0); err != nil {
		t.Skipf("cannot freeze %s: %v", dir, err)
	}
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Linux.CgroupsPath = rel
	c.args("true")
	res := c.create()
	if res.code == 0 {
		t.Fatalf("create in a frozen cgroup succeeded: %v", res)
	}
	contains(t, "create in a frozen cgroup", res.stderr, "container's cgroup unexpectedly frozen")
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("the frozen cgroup the test made is gone: %v", err)
	}
	if res := r.run("state", c.id); res.code == 0 {
		t.Errorf("the failed container is still there: %v", res)
	}
}

// TestExecDebugLines (exec.bats "runc --debug exec", "runc --debug --log
// exec"): --debug tells the exec steps in runc's words, on stderr or in the
// --log file.
func TestExecDebugLines(t *testing.T) {
	t.Parallel()
	r, c, _ := running(t, nil)
	want := []string{"nsexec container setup", "child process in init()", "setns_init: about to exec"}
	res := r.must("--debug", "exec", c.id, "true")
	for _, w := range want {
		contains(t, "--debug exec stderr", res.stderr, w)
	}
	log := filepath.Join(t.TempDir(), "log.out")
	res = r.must("--debug", "--log", log, "exec", c.id, "true")
	if strings.Contains(res.stderr, "level=debug") {
		t.Errorf("--log: debug lines on stderr too: %q", res.stderr)
	}
	for _, w := range want {
		contains(t, "--debug --log exec log file", readFile(t, log), w)
	}
}

// TestExecSubCgroupV1 (exec.bats "runc exec --cgroup sub-cgroups [v1]"):
// exec --cgroup takes "/" (the container's own), an existing sub-cgroup per
// controller, and refuses a parent, a missing sub-cgroup and an unknown
// controller in runc's words.
func TestExecSubCgroupV1(t *testing.T) {
	t.Parallel()
	requireV1(t, "memory")
	r, ct, st := running(t, nil)
	c := ct.id
	procs := cgroupFile(t, st.Pid, "memory", "cgroup.procs")
	sub := filepath.Join(filepath.Dir(procs), "submem")
	must(t, os.Mkdir(sub, 0o755))
	defer unix.Rmdir(sub)
	for _, tc := range []struct{ arg, want string }{
		{"..", " .. is not a sub cgroup path"},
		{"nonexistent", "/nonexistent/cgroup.procs: no such file "},
		{"memory:nonexistent", "/nonexistent/cgroup.procs: no such file "},
		{"whaaat:/", "unknown controller "},
	} {
		res := r.fails("exec", "--cgroup", tc.arg, c, "true")
		contains(t, "exec --cgroup "+tc.arg, res.stderr, tc.want)
		if strings.Contains(tc.want, "no such file") {
			contains(t, "exec --cgroup "+tc.arg, res.stderr, " adding pid ")
		}
	}
	implicit := execOut(t, r, c, "cat", "/proc/self/cgroup")
	if explicit := execOut(t, r, "--cgroup", "/", c, "cat", "/proc/self/cgroup"); explicit != implicit {
		t.Errorf("exec --cgroup / is in\n%s\nplain exec in\n%s", explicit, implicit)
	}
	out := execOut(t, r, "--cgroup", "memory:submem", c, "cat", "/proc/self/cgroup")
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, ":memory:") && !strings.HasSuffix(line, "/submem") {
			t.Errorf("exec --cgroup memory:submem: %q", line)
		}
	}
}

// TestCpusetEmptyParent (update.bats "update cpu period in a pod cgroup
// with pod limit set"): a container below a parent cpuset cgroup made with
// plain mkdir (empty cpus and mems) starts; it failed to join with ENOSPC.
func TestCpusetEmptyParent(t *testing.T) {
	t.Parallel()
	requireV1(t, "cpuset")
	base := cgroupBase(t, "cpuset")
	pod := "corral-oci-" + testutil.UniqueName(t)
	removeCgroupDirs(t, pod, pod+"/ctr")
	must(t, os.Mkdir(filepath.Join(base, pod), 0o755))
	if cpus := readFile(t, filepath.Join(base, pod, "cpuset.cpus")); strings.TrimSpace(cpus) != "" {
		t.Skipf("a new cpuset has cpus %q here (clone_children?)", cpus)
	}
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Linux.CgroupsPath = pod + "/ctr"
	if out := c.args("echo", "ok").output(); strings.TrimSpace(out) != "ok" {
		t.Errorf("container said %q", out)
	}
}

// TestDeviceAccessLetters (update.bats "update devices [minimal transition
// rules]", whose rule has access "rwa"): as runc, letters other than r, w
// and m in a device rule's access are ignored, not refused: "wa" denies
// writing only.
func TestDeviceAccessLetters(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/loop-control"); errors.Is(err, fs.ErrNotExist) {
		t.Skip("no /dev/loop-control on this host")
	}
	r := newRT(t)
	c := newCtr(t, r)
	major, minor := int64(10), int64(237)
	c.spec.Linux.Devices = append(c.spec.Linux.Devices, specs.LinuxDevice{
		Path: "/dev/loop-control", Type: "c", Major: major, Minor: minor})
	c.spec.Linux.Resources.Devices = append(c.spec.Linux.Resources.Devices,
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "rwa"},
		specs.LinuxDeviceCgroup{Allow: false, Type: "c", Major: &major, Minor: &minor, Access: "wa"})
	script := "(: </dev/loop-control) && echo read-ok; (: >/dev/loop-control) 2>/dev/null && echo WRITE-OK; echo done"
	out := c.args("sh", "-c", script).output()
	if !strings.Contains(out, "read-ok") || strings.Contains(out, "WRITE-OK") || !strings.Contains(out, "done") {
		t.Errorf("device rules rwa then deny wa: container said %q; want read allowed, write denied", out)
	}
}
