package testutil

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

func requireSandbox(t *testing.T) {
	t.Helper()
	RequireRoot(t)
	if !InSandbox() {
		t.Fatal("root test outside the sandbox")
	}
}

// nsInode returns the inode of a namespace of a process: "self", or the
// sandbox parent, which stayed in the host's namespaces.
func nsInode(t *testing.T, pid, ns string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join("/proc", pid, "ns", ns), &st); err != nil {
		t.Fatalf("stat %s namespace of %s: %v", ns, pid, err)
	}
	return st.Ino
}

func TestSandboxNetwork(t *testing.T) {
	requireSandbox(t)
	if nsInode(t, "self", "net") == nsInode(t, strconv.Itoa(os.Getppid()), "net") {
		t.Fatal("sandbox shares the host's network namespace")
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(ifaces) != 1 || ifaces[0].Name != "lo" {
		t.Fatalf("interfaces = %v, want only lo", ifaces)
	}
	if ifaces[0].Flags&net.FlagUp == 0 {
		t.Fatal("lo is down")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatalf("dial loopback: %v", err)
	}
	c.Close()
}

func TestSandboxMounts(t *testing.T) {
	requireSandbox(t)
	if nsInode(t, "self", "mnt") == nsInode(t, strconv.Itoa(os.Getppid()), "mnt") {
		t.Fatal("sandbox shares the host's mount namespace")
	}
	mounts, err := mountinfo.GetMounts(nil)
	if err != nil {
		t.Fatal(err)
	}
	tmpfs := map[string]bool{}
	for _, m := range mounts {
		if strings.Contains(m.Optional, "shared:") {
			t.Errorf("mount %s still propagates: %q", m.Mountpoint, m.Optional)
		}
		if m.FSType == "tmpfs" {
			tmpfs[m.Mountpoint] = true
		}
	}
	for _, m := range sandboxTmpfs {
		if !tmpfs[m.path] {
			t.Errorf("no tmpfs on %s", m.path)
		}
	}
}

func TestSandboxCgroups(t *testing.T) {
	requireSandbox(t)
	hs, err := hierarchies()
	if err != nil {
		t.Fatal(err)
	}
	dirs := runCgroups()
	if len(dirs) == 0 || len(dirs) != len(hs) {
		t.Fatalf("per-run cgroups %v, want one in each of %d hierarchies", dirs, len(hs))
	}
	prefix := "corral-test-" + strconv.Itoa(os.Getppid()) + "-"
	me := strconv.Itoa(os.Getpid())
	for _, dir := range dirs {
		if !strings.HasPrefix(filepath.Base(dir), prefix) {
			t.Errorf("cgroup %s is not named %s*", dir, prefix)
		}
		data, err := os.ReadFile(filepath.Join(joinDir(dir), "cgroup.procs"))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(strings.Fields(string(data)), me) {
			t.Errorf("test process %s is not in %s", me, dir)
		}
	}
}

// TestSandboxLeavesNothing leaves a frozen process in nested cgroups for the
// sandbox parent to kill; TestMain checks that it did.
func TestSandboxLeavesNothing(t *testing.T) {
	requireSandbox(t)
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := []byte(strconv.Itoa(cmd.Process.Pid))
	for _, dir := range runCgroups() {
		nested := filepath.Join(dir, "nested", "deeper")
		for _, d := range []string{filepath.Dir(nested), nested} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			copyCpuset(t, d)
		}
		if err := os.WriteFile(filepath.Join(nested, "cgroup.procs"), pid, 0o644); err != nil {
			t.Fatalf("move sleep into %s: %v", nested, err)
		}
		// Frozen processes ignore SIGKILL until thawed.
		_ = os.WriteFile(filepath.Join(nested, "freezer.state"), []byte("FROZEN"), 0o644)
	}
	if err := os.WriteFile(leakFile(os.Getppid()), pid, 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyCpuset gives a new v1 cpuset cgroup its parent's cpus and mems.
func copyCpuset(t *testing.T, dir string) {
	if _, err := os.Stat(filepath.Join(dir, "cgroup.controllers")); err == nil {
		return // cgroup v2: a new cgroup needs no cpus or mems of its own
	}
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		val, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
		if err != nil {
			return // not a cpuset hierarchy
		}
		if err := os.WriteFile(filepath.Join(dir, f), val, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOwnDir(t *testing.T) {
	lines := []string{"4:memory:/a/b", "3:cpu,cpuacct:/", "1:name=systemd:/user", "0::/x"}
	tests := []struct {
		h    hierarchy
		want string
	}{
		{hierarchy{"/cg/memory", "/", "cgroup", []string{"rw", "memory"}}, "/cg/memory/a/b"},
		{hierarchy{"/cg/cpu", "/", "cgroup", []string{"rw", "cpu", "cpuacct"}}, "/cg/cpu"},
		{hierarchy{"/cg/systemd", "/", "cgroup", []string{"rw", "name=systemd"}}, "/cg/systemd/user"},
		{hierarchy{"/cg/unified", "/", "cgroup2", []string{"rw"}}, "/cg/unified/x"},
		{hierarchy{"/cg/memory", "/a", "cgroup", []string{"memory"}}, "/cg/memory/b"},
		{hierarchy{"/cg/memory", "/elsewhere", "cgroup", []string{"memory"}}, "/cg/memory"},
		{hierarchy{"/cg/pids", "/", "cgroup", []string{"pids"}}, "/cg/pids"},
	}
	for _, tt := range tests {
		if got := tt.h.ownDir(lines); got != tt.want {
			t.Errorf("ownDir(%+v) = %s, want %s", tt.h, got, tt.want)
		}
	}
}
