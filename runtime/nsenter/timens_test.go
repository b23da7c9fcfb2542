package nsenter

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/corral-dev/corral/testutil"
	"golang.org/x/sys/unix"
)

// nsGetUserns is ioctl_ns(2)'s NS_GET_USERNS: a descriptor of the user
// namespace that owns a namespace.
const nsGetUserns = 0xb701

// The offsets the tests give: ten days of monotonic time, twenty days and a
// half second of boot time.
const monoOffset, bootOffset, bootNsecs = 10 * 86400, 20 * 86400, 500_000_000

var offsets = []TimeOffset{
	{Clock: "monotonic", Secs: monoOffset},
	{Clock: "boottime", Secs: bootOffset, Nanosecs: bootNsecs},
}

// TestUnshareTime: a new time namespace gets its offsets before anyone is
// in it, and the process that goes on is a fork, since before Linux 6.2
// execve does not enter time_for_children.
func TestUnshareTime(t *testing.T) {
	testutil.RequireRoot(t)
	h := startHelper(t)
	pid, err := h.enter(Request{Unshare: unix.CLONE_NEWTIME, TimeOffsets: offsets}, nil)
	if err != nil {
		t.Fatalf("enter: %v; stderr: %s", err, h.stderrText())
	}
	if pid == h.cmd.Process.Pid {
		t.Fatalf("pid %d is the started process: it did not fork into the time namespace", pid)
	}
	rep := checkTimeHelper(t, h, pid)
	want := ownNS()
	delete(want, "time")
	delete(want, "time_for_children")
	checkNS(t, rep, want)
	h.finish(t)
}

// TestUnshareUserTime: with a new user namespace, the time namespace is
// made after it and belongs to it, so that a process joining the user
// namespace (exec into the container) can join the time namespace too.
func TestUnshareUserTime(t *testing.T) {
	testutil.RequireRoot(t)
	h := startHelper(t)
	var mapped int
	flags := uintptr(unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWTIME)
	pid, err := h.enter(Request{Unshare: flags, TimeOffsets: offsets}, writeUserMaps(&mapped))
	if err != nil {
		t.Fatalf("enter: %v; stderr: %s", err, h.stderrText())
	}
	rep := checkTimeHelper(t, h, pid)
	if rep.Pid != 1 {
		t.Errorf("getpid() = %d in the new pid namespace, want 1", rep.Pid)
	}
	if owner := ownerInode(t, fmt.Sprintf("/proc/%d/ns/time", pid)); owner != rep.NS["user"] {
		t.Errorf("the time namespace belongs to user namespace %d, want the helper's %d", owner, rep.NS["user"])
	}
	// A second process joins the first one's namespaces, as exec does.
	j := startHelper(t)
	var joins []Join
	for _, typ := range []string{"user", "pid", "mnt", "time"} {
		joins = append(joins, Join{Type: typ, Path: fmt.Sprintf("/proc/%d/ns/%s", pid, typ)})
	}
	jpid, err := j.enter(Request{Joins: joins}, nil)
	if err != nil {
		t.Fatalf("join the namespaces of %d: %v; stderr: %s", pid, err, j.stderrText())
	}
	jrep := checkTimeHelper(t, j, jpid)
	if jrep.NS["time"] != rep.NS["time"] || jrep.NS["user"] != rep.NS["user"] {
		t.Errorf("joined time %d user %d, want %d %d", jrep.NS["time"], jrep.NS["user"], rep.NS["time"], rep.NS["user"])
	}
	j.finish(t)
	h.finish(t)
}

// TestTimeOffsetsOutOfRange: offsets the kernel refuses (a monotonic clock
// before zero) end the constructor with the kernel's error; nothing goes
// on into Go and no child is left.
func TestTimeOffsetsOutOfRange(t *testing.T) {
	testutil.RequireRoot(t)
	h := startHelper(t)
	req := Request{Unshare: unix.CLONE_NEWTIME, TimeOffsets: []TimeOffset{{Clock: "monotonic", Secs: -1 << 40}}}
	_, err := h.enter(req, nil)
	want := "nsenter: write time namespace offsets: Numerical result out of range"
	if err == nil || err.Error() != want {
		t.Fatalf("enter: %v, want %q", err, want)
	}
	if code := h.exitCode(t); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	var ws unix.WaitStatus
	if wpid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil); wpid > 0 {
		t.Errorf("a child %d was left behind (%v)", wpid, err)
	}
}

// checkTimeHelper checks that the helper at pid is in a new time namespace
// with the offsets of offsets, reads its clocks shifted by them and holds no
// descriptor of the offsets file; it returns the helper's report.
func checkTimeHelper(t *testing.T, h *helper, pid int) report {
	t.Helper()
	mono0, boot0 := clockSecs(unix.CLOCK_MONOTONIC), clockSecs(unix.CLOCK_BOOTTIME)
	rep := h.report(t)
	elapsed := clockSecs(unix.CLOCK_MONOTONIC) - mono0
	checkCommon(t, rep)
	if own := nsInode("/proc/self/ns/time"); rep.NS["time"] == own || rep.NS["time"] != rep.NS["time_for_children"] {
		t.Errorf("helper in time namespace %d (for children %d), want a new one (ours is %d)",
			rep.NS["time"], rep.NS["time_for_children"], own)
	}
	if d := rep.Monotonic - mono0; d < monoOffset || d > monoOffset+elapsed+1 {
		t.Errorf("helper's monotonic clock is %.3fs ahead of ours, want %d", d, monoOffset)
	}
	if d := rep.Boottime - boot0; d < bootOffset+0.5 || d > bootOffset+0.5+elapsed+1 {
		t.Errorf("helper's boot time clock is %.3fs ahead of ours, want %d.5", d, bootOffset)
	}
	got, err := os.ReadFile(fmt.Sprintf("/proc/%d/timens_offsets", pid))
	want := fmt.Sprintf("monotonic %11d %9d\nboottime %12d %9d\n", monoOffset, 0, bootOffset, bootNsecs)
	if err != nil || string(got) != want {
		t.Errorf("timens_offsets %q (%v), want %q", got, err, want)
	}
	checkNoOffsetsFD(t, pid)
	return rep
}

// checkNoOffsetsFD fails when pid holds a descriptor of a timens_offsets file.
func checkNoOffsetsFD(t *testing.T, pid int) {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if link, _ := os.Readlink(filepath.Join(dir, e.Name())); strings.HasSuffix(link, "/timens_offsets") {
			t.Errorf("descriptor %s of pid %d is open on %s", e.Name(), pid, link)
		}
	}
}

// ownerInode is the inode of the user namespace that owns namespace file p.
func ownerInode(t *testing.T, p string) uint64 {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := unix.IoctlRetInt(int(f.Fd()), nsGetUserns)
	if err != nil {
		t.Fatalf("NS_GET_USERNS of %s: %v", p, err)
	}
	defer unix.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}
