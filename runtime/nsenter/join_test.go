package nsenter

import (
	"io"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/corral-dev/corral/testutil"
	"golang.org/x/sys/unix"
)

// checkNS compares the helper's namespaces with want, type by type.
func checkNS(t *testing.T, rep report, want map[string]uint64) {
	t.Helper()
	for typ, ino := range want {
		if ino == 0 {
			t.Fatalf("no inode for %s", typ)
		}
		if rep.NS[typ] != ino {
			t.Errorf("%s namespace: helper has %d, want %d", typ, rep.NS[typ], ino)
		}
	}
}

// checkCommon holds for every helper that got into Go.
func checkCommon(t *testing.T, rep report) {
	t.Helper()
	if rep.EnvSet {
		t.Errorf("%s is still in the helper's environment", Env)
	}
	if len(rep.Leaked) > 0 {
		t.Errorf("namespace descriptors left open: %v", rep.Leaked)
	}
}

func TestEmptyRequest(t *testing.T) {
	h := startHelper(t)
	// Send "go\n" right behind the request: the constructor must not read it.
	if _, err := (Request{}).WriteTo(h.sock); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(h.sock, "go\n"); err != nil {
		t.Fatal(err)
	}
	pid, err := Await(h.r, h.sock, nil)
	if err != nil {
		t.Fatalf("Await: %v; stderr: %s", err, h.stderrText())
	}
	h.pid = pid
	if pid != h.cmd.Process.Pid {
		t.Errorf("pid %d, want the started process %d", pid, h.cmd.Process.Pid)
	}
	rep := h.readReport(t)
	checkCommon(t, rep)
	checkNS(t, rep, ownNS())
	h.finish(t)
}

func TestJoinNetUTS(t *testing.T) {
	testutil.RequireRoot(t)
	hold := startHolder(t, &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNET | unix.CLONE_NEWUTS},
		hostnameEnv+"=nsenter-holder")
	h := startHelper(t)
	pid, err := h.enter(Request{Joins: []Join{
		{Type: "uts", Path: hold.path("uts")},
		{Type: "net", Path: hold.path("net")},
	}}, nil)
	if err != nil {
		t.Fatalf("enter: %v", err)
	}
	if pid != h.cmd.Process.Pid {
		t.Errorf("pid %d, want %d: no fork without a pid namespace", pid, h.cmd.Process.Pid)
	}
	rep := h.report(t)
	checkCommon(t, rep)
	want := ownNS()
	want["net"] = nsInode(hold.path("net"))
	want["uts"] = nsInode(hold.path("uts"))
	checkNS(t, rep, want)
	if rep.Hostname != "nsenter-holder" {
		t.Errorf("hostname %q, want the holder's", rep.Hostname)
	}
	h.finish(t)
}

func TestJoinPID(t *testing.T) {
	testutil.RequireRoot(t)
	hold := startHolder(t, &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWPID})
	h := startHelper(t)
	pid, err := h.enter(Request{Joins: []Join{{Type: "pid", Path: hold.path("pid")}}}, nil)
	if err != nil {
		t.Fatalf("enter: %v", err)
	}
	if pid == h.cmd.Process.Pid {
		t.Fatalf("pid %d is the started process: it did not fork", pid)
	}
	rep := h.report(t)
	checkCommon(t, rep)
	want := ownNS()
	want["pid"] = nsInode(hold.path("pid"))
	want["pid_for_children"] = want["pid"]
	checkNS(t, rep, want)
	checkPids(t, pid, rep)
	h.finish(t)
}

// checkPids checks that the reported pid is the helper's pid on the host and
// that getpid() in the helper is its pid in the joined namespace.
func checkPids(t *testing.T, pid int, rep report) {
	t.Helper()
	if rep.ProcPid != pid {
		t.Errorf("helper's /proc/self is %d, Await said %d", rep.ProcPid, pid)
	}
	nspid := procStatus(t, pid, "NSpid")
	if len(nspid) != 2 || nspid[0] != strconv.Itoa(pid) || nspid[1] != strconv.Itoa(rep.Pid) {
		t.Errorf("NSpid %v, want [%d %d]", nspid, pid, rep.Pid)
	}
}

func TestJoinMount(t *testing.T) {
	testutil.RequireRoot(t)
	dir := markerDir(t)
	hold := startHolder(t, &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS}, markerEnv+"="+dir)
	h := startHelper(t, markerEnv+"="+filepath.Join(dir, markerName))
	if _, err := h.enter(Request{Joins: []Join{{Type: "mnt", Path: hold.path("mnt")}}}, nil); err != nil {
		t.Fatalf("enter: %v", err)
	}
	rep := h.report(t)
	checkCommon(t, rep)
	want := ownNS()
	want["mnt"] = nsInode(hold.path("mnt"))
	checkNS(t, rep, want)
	if !rep.Marker {
		t.Error("the holder's tmpfs is not visible in the joined mount namespace")
	}
	h.finish(t)
}

// TestJoinAll enters a container-like set of namespaces, as `exec` does.
func TestJoinAll(t *testing.T) {
	testutil.RequireRoot(t)
	dir := markerDir(t)
	attr := &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWUTS |
			unix.CLONE_NEWIPC | unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP,
		UidMappings: userMap,
		GidMappings: userMap,
		// Be root in the namespace, not the unmapped host root.
		Credential: &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true},
	}
	hold := startHolder(t, attr, markerEnv+"="+dir, hostnameEnv+"=nsenter-all", timeNSEnv+"=1")
	h := startHelper(t, markerEnv+"="+filepath.Join(dir, markerName))
	// Deliberately out of order: the constructor joins user first, mnt last.
	types := []string{"mnt", "time", "cgroup", "pid", "net", "uts", "ipc", "user"}
	var req Request
	want := map[string]uint64{}
	for _, typ := range types {
		req.Joins = append(req.Joins, Join{Type: typ, Path: hold.path(typ)})
		want[typ] = nsInode(hold.path(typ))
	}
	pid, err := h.enter(req, nil)
	if err != nil {
		t.Fatalf("enter: %v", err)
	}
	rep := h.report(t)
	checkCommon(t, rep)
	checkNS(t, rep, want)
	checkPids(t, pid, rep)
	if rep.UID != 0 || rep.GID != 0 {
		t.Errorf("uid/gid %d/%d in the joined user namespace, want 0/0", rep.UID, rep.GID)
	}
	if uid := procStatus(t, pid, "Uid"); uid[0] != "100000" {
		t.Errorf("host uid %v, want 100000", uid)
	}
	if !rep.Marker || rep.Hostname != "nsenter-all" {
		t.Errorf("marker %v, hostname %q: not in the holder's mount and uts namespaces", rep.Marker, rep.Hostname)
	}
	h.finish(t)
}

func TestUnshareUserMount(t *testing.T) {
	testutil.RequireRoot(t)
	h := startHelper(t)
	var mapped int
	pid, err := h.enter(Request{Unshare: unix.CLONE_NEWUSER | unix.CLONE_NEWNS}, writeUserMaps(&mapped))
	if err != nil {
		t.Fatalf("enter: %v; stderr: %s", err, h.stderrText())
	}
	if mapped != h.cmd.Process.Pid || pid != mapped {
		t.Errorf("maps asked for pid %d, final pid %d, want both %d", mapped, pid, h.cmd.Process.Pid)
	}
	rep := h.report(t)
	checkCommon(t, rep)
	own := ownNS()
	if rep.NS["user"] == own["user"] || rep.NS["mnt"] == own["mnt"] {
		t.Errorf("user or mount namespace not new: %v", rep.NS)
	}
	if rep.NS["net"] != own["net"] || rep.NS["pid"] != own["pid"] {
		t.Errorf("net or pid namespace changed: %v", rep.NS)
	}
	if rep.UID != 0 || rep.GID != 0 {
		t.Errorf("uid/gid %d/%d in the new user namespace, want 0/0", rep.UID, rep.GID)
	}
	if uid := procStatus(t, pid, "Uid"); uid[0] != "100000" {
		t.Errorf("host uid %v, want 100000", uid)
	}
	h.finish(t)
}

func TestUnshareAll(t *testing.T) {
	testutil.RequireRoot(t)
	h := startHelper(t)
	var mapped int
	flags := uintptr(unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWNET |
		unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWPID)
	pid, err := h.enter(Request{Unshare: flags}, writeUserMaps(&mapped))
	if err != nil {
		t.Fatalf("enter: %v; stderr: %s", err, h.stderrText())
	}
	if pid == h.cmd.Process.Pid || mapped != h.cmd.Process.Pid {
		t.Errorf("pid %d, maps for %d: want a fork of %d", pid, mapped, h.cmd.Process.Pid)
	}
	rep := h.report(t)
	checkCommon(t, rep)
	own := ownNS()
	for _, typ := range []string{"user", "mnt", "net", "ipc", "uts", "pid"} {
		if rep.NS[typ] == own[typ] {
			t.Errorf("%s namespace not new", typ)
		}
	}
	if rep.Pid != 1 {
		t.Errorf("getpid() = %d in the new pid namespace, want 1", rep.Pid)
	}
	checkPids(t, pid, rep)
	h.finish(t)
}
