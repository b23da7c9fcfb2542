package nsenter

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The test binary links this package, so the constructor runs in it too.
// TestMain dispatches on roleEnv before any test runs:
//
//   - "helper": the process under test. The constructor has run by the time
//     Go starts; the helper waits for "go\n" on the sync socket (fd 3),
//     answers with a JSON report of where it ended up, then waits for
//     "exit\n" or end of stream and exits 0.
//   - "hold": holds namespaces that the test created with Cloneflags:
//     optionally mounts a tmpfs with a marker file, sets a hostname and
//     unshares a time namespace, prints "ready" and waits for stdin to end.
const (
	roleEnv     = "CORRAL_NSENTER_TEST_ROLE"
	markerEnv   = "CORRAL_NSENTER_TEST_MARKER"   // helper: file to look for; hold: its directory gets a tmpfs
	hostnameEnv = "CORRAL_NSENTER_TEST_HOSTNAME" // hold: hostname to set
	timeNSEnv   = "CORRAL_NSENTER_TEST_TIMENS"   // hold: unshare a time namespace
	markerName  = "marker"
)

// nsTypes are the entries of /proc/<pid>/ns the tests compare.
var nsTypes = []string{"user", "mnt", "pid", "net", "ipc", "uts", "cgroup", "time", "pid_for_children", "time_for_children"}

// report is what a helper tells about itself.
type report struct {
	Pid      int               // getpid(), in the helper's own pid namespace
	ProcPid  int               // /proc/self, in the pid namespace of /proc (the host's)
	NS       map[string]uint64 // inode of /proc/self/ns/<type>
	UID, GID int
	EnvSet   bool     // Env still in the environment
	Leaked   []string // descriptors open on namespace files
	Marker   bool     // markerEnv's file exists
	Hostname string
	// Monotonic and Boottime are the helper's clocks, in seconds.
	Monotonic, Boottime float64
}

// init keeps a holder's main goroutine on the main thread: it unshares a
// time namespace, which is the calling thread's (its children's), and the
// tests join it through /proc/PID/ns/time_for_children, the main
// thread's. Run on another thread, the unshare left the main thread's
// entry at the host's namespace, and the join failed with EPERM (seen
// once in the cgroup v2 VM).
func init() {
	if os.Getenv(roleEnv) == "hold" {
		goruntime.LockOSThread()
	}
}

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "helper":
		helperMain()
	case "hold":
		holdMain()
	}
	// The runtime's side of the contract: the grandchild of a fork becomes
	// our child and can be waited for.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "set child subreaper:", err)
		os.Exit(2)
	}
	code := m.Run()
	cleanupShared()
	os.Exit(code)
}

func die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "nsenter test "+os.Getenv(roleEnv)+": "+format+"\n", args...)
	os.Exit(2)
}

func helperMain() {
	leaked := leakedNSFDs() // first, before Go opens anything itself
	sock := os.NewFile(3, "sync")
	r := bufio.NewReader(sock)
	if line, err := r.ReadString('\n'); line != "go\n" {
		die("want \"go\\n\" first, got %q (%v)", line, err)
	}
	rep := selfReport()
	rep.Leaked = leaked
	if err := json.NewEncoder(sock).Encode(rep); err != nil {
		die("send report: %v", err)
	}
	_, _ = r.ReadString('\n') // "exit\n" or end of stream
	os.Exit(0)
}

func selfReport() report {
	rep := report{Pid: os.Getpid(), UID: os.Getuid(), GID: os.Getgid(), NS: map[string]uint64{}}
	if link, err := os.Readlink("/proc/self"); err == nil {
		fmt.Sscan(link, &rep.ProcPid)
	}
	for _, t := range nsTypes {
		rep.NS[t] = nsInode("/proc/self/ns/" + t)
	}
	_, rep.EnvSet = os.LookupEnv(Env)
	if p := os.Getenv(markerEnv); p != "" {
		_, err := os.Stat(p)
		rep.Marker = err == nil
	}
	rep.Hostname, _ = os.Hostname()
	rep.Monotonic, rep.Boottime = clockSecs(unix.CLOCK_MONOTONIC), clockSecs(unix.CLOCK_BOOTTIME)
	return rep
}

// clockSecs reads a clock, in seconds.
func clockSecs(clock int32) float64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(clock, &ts); err != nil {
		die("read clock %d: %v", clock, err)
	}
	return float64(ts.Sec) + float64(ts.Nsec)/1e9
}

// nsInode is the inode of a namespace file, 0 when it cannot be read.
func nsInode(path string) uint64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// leakedNSFDs lists open descriptors that point at namespaces ("net:[...]").
func leakedNSFDs() []string {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		die("list descriptors: %v", err)
	}
	var out []string
	for _, e := range ents {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue // the directory's own descriptor, already closed
		}
		if strings.HasSuffix(link, "]") && !strings.HasPrefix(link, "socket:") &&
			!strings.HasPrefix(link, "pipe:") && !strings.HasPrefix(link, "anon_inode:") {
			out = append(out, e.Name()+" -> "+link)
		}
	}
	return out
}

func holdMain() {
	if dir := os.Getenv(markerEnv); dir != "" {
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			die("make / private: %v", err)
		}
		if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
			die("mount tmpfs on %s: %v", dir, err)
		}
		if err := os.WriteFile(filepath.Join(dir, markerName), nil, 0o644); err != nil {
			die("write marker: %v", err)
		}
	}
	if name := os.Getenv(hostnameEnv); name != "" {
		if err := unix.Sethostname([]byte(name)); err != nil {
			die("set hostname: %v", err)
		}
	}
	if os.Getenv(timeNSEnv) != "" {
		if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
			die("unshare time namespace: %v", err)
		}
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}
