package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corral-dev/corral/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// newPIDNS starts a process as PID 1 of a new PID namespace.
var newPIDNS = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}

// nsPID returns the pid of the process in its own namespace (last NSpid).
func nsPID(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "NSpid:" {
			return f[len(f)-1]
		}
	}
	t.Fatal("no NSpid")
	return ""
}

// TestPID1 runs the init as PID 1 of a new PID namespace, where orphans
// come to it without any subreaper and where the kernel drops a signal that
// PID 1 has no handler for: it reaps the orphans and stops on the first
// SIGTERM.
func TestPID1(t *testing.T) {
	testutil.RequireRoot(t)
	r := start(t, newPIDNS, initBinary(t), "--", "sh", "-c", orphanScript+"exec sleep 30")
	r.expect("spawned")
	if got := nsPID(t, r.pid()); got != "1" {
		t.Fatalf("the init is pid %s in its namespace", got)
	}
	kid := mainChild(t, r.pid())
	if !checkReaped(t, r.pid(), kid) {
		t.Error("no orphan was reparented to the init")
	}
	r.signal(syscall.SIGTERM)
	if code := r.wait(); code != 143 {
		t.Errorf("exit %d after one SIGTERM, want 143; stderr %q", code, r.stderr())
	}
	if n := adopted(t); n != 0 {
		t.Errorf("%d process(es) left behind", n)
	}
}

// TestPID1WithoutHandlerIgnoresSIGTERM is the control of TestPID1: a
// program with no handler as PID 1 survives SIGTERM.
func TestPID1WithoutHandlerIgnoresSIGTERM(t *testing.T) {
	testutil.RequireRoot(t)
	r := start(t, newPIDNS, "/bin/sleep", "30")
	if !waitFor(3*time.Second, func() bool { p, _ := readProc(r.pid()); return p.comm == "sleep" }) {
		t.Fatal("sleep did not start")
	}
	r.signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	if p, ok := readProc(r.pid()); !ok || p.state == 'Z' {
		t.Fatal("sleep as PID 1 died of SIGTERM: the kernel no longer protects PID 1?")
	}
	r.signal(syscall.SIGKILL)
	if code := r.wait(); code != 137 {
		t.Errorf("exit %d after SIGKILL", code)
	}
}

// TestPID1ExitEndsNamespace: when the command exits, the init exits with
// its code at once, and the kernel ends what else ran in the namespace.
func TestPID1ExitEndsNamespace(t *testing.T) {
	testutil.RequireRoot(t)
	r := start(t, newPIDNS, initBinary(t), "--", "sh", "-c", "sleep 30 & echo ready; read line; exit 4")
	r.expect("ready")
	ns, err := os.Readlink("/proc/" + strconv.Itoa(r.pid()) + "/ns/pid")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.stdin.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(); code != 4 {
		t.Errorf("exit %d, want 4; stderr %q", code, r.stderr())
	}
	if left := inPIDNS(ns); len(left) > 0 {
		t.Errorf("processes left in %s: %v", ns, left)
	}
}

// inPIDNS lists the processes in the PID namespace ns ("pid:[N]").
func inPIDNS(ns string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink("/proc/" + e.Name() + "/ns/pid"); err == nil && l == ns {
			out = append(out, pid)
		}
	}
	return out
}

// containerScript makes orphans, then looks for zombies from inside the
// container and reports its pid and parent's.
const containerScript = orphanScript + `sleep 1.2
z=$(grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l)
echo zombies=$z pid=$$ ppid=$PPID
exec sleep 30
`

// initBundle makes a busybox bundle whose process is the init running
// sh -c script, the way `run --init` does it: the binary bound read-only at
// /sbin/corral-init, args [/sbin/corral-init -- cmd...]. It returns the
// bundle, a state root and a container ID, and deletes the container when
// the test ends.
func initBundle(t *testing.T, corral, script string, terminal bool) (bundle, root, id string) {
	t.Helper()
	bin := initBinary(t)
	bundle, spec := testutil.NewBundle(t)
	writeFile(t, filepath.Join(bundle, "rootfs", "sbin", "corral-init"), "", 0o755) // the mount point
	spec.Mounts = append(spec.Mounts, specs.Mount{
		Destination: "/sbin/corral-init", Type: "bind", Source: bin, Options: []string{"bind", "ro"},
	})
	spec.Process.Args = []string{"/sbin/corral-init", "--", "sh", "-c", script}
	spec.Process.Terminal = terminal
	testutil.WriteSpec(t, bundle, spec)
	root, id = filepath.Join(t.TempDir(), "state"), testutil.UniqueName(t)
	t.Cleanup(func() { _ = exec.Command(corral, "runtime", "--root", root, "delete", "-f", id).Run() })
	return bundle, root, id
}

// TestContainer runs the init through `corral runtime run` on a busybox
// bundle, and stops it with one `corral runtime kill ID TERM`.
func TestContainer(t *testing.T) {
	testutil.RequireRoot(t)
	corral := testutil.EngineBinary(t)
	bundle, root, id := initBundle(t, corral, containerScript, false)
	r := start(t, nil, corral, "runtime", "--root", root, "run", "--bundle", bundle, id)
	r.expect("spawned")
	// The command's pid depends on what the runtime ran in the namespace
	// before; its parent is the init at PID 1.
	if got := strings.Fields(r.line()); len(got) != 3 || got[0] != "zombies=0" || got[1] == "pid=1" || got[2] != "ppid=1" {
		t.Errorf("inside the container: %q, want zombies=0 pid=N ppid=1", got)
	}
	kill := exec.Command(corral, "runtime", "--root", root, "kill", id, "TERM")
	if out, err := kill.CombinedOutput(); err != nil {
		t.Fatalf("kill: %v: %s", err, out)
	}
	if code := r.wait(); code != 143 {
		t.Errorf("run: exit %d after one SIGTERM, want 143; stderr %q", code, r.stderr())
	}
}

// TestContainerTerminal is `run -it --init`: the command reads the
// terminal (it would be stopped by SIGTTIN outside the foreground) and ^C
// ends it.
func TestContainerTerminal(t *testing.T) {
	testutil.RequireRoot(t)
	corral := testutil.EngineBinary(t)
	script := `read line; echo "got $line"; exec sleep 30`
	bundle, root, id := initBundle(t, corral, script, true)
	p, master, lines := startOnTerminal(t, corral, "runtime", "--root", root, "run", "--bundle", bundle, id)
	// Wait until the init's child runs (its tty echo would be lost before).
	if !waitFor(10*time.Second, func() bool { return len(childrenNamed(p.Pid, "sh")) > 0 }) {
		t.Fatal("the container's shell did not start")
	}
	if _, err := master.Write([]byte("hello\r")); err != nil {
		t.Fatal(err)
	}
	for l := nextLine(t, lines); l != "got hello"; l = nextLine(t, lines) {
		t.Logf("terminal: %q", l)
	}
	if !waitFor(5*time.Second, func() bool { return len(childrenNamed(p.Pid, "sleep")) > 0 }) {
		t.Fatal("the command did not go on to sleep")
	}
	if _, err := master.Write([]byte{3}); err != nil { // ^C
		t.Fatal(err)
	}
	st, err := waitProcess(p)
	if err != nil {
		t.Fatal(err)
	}
	if code := st.ExitStatus(); code != 130 {
		t.Errorf("run: exit status %v, want 130 after ^C", st)
	}
}

// childrenNamed returns the descendants of pid named comm.
func childrenNamed(pid int, comm string) []proc {
	var out []proc
	for _, c := range children(pid) {
		if c.comm == comm {
			out = append(out, c)
		}
		out = append(out, childrenNamed(c.pid, comm)...)
	}
	return out
}
