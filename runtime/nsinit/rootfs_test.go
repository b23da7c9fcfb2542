package nsinit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/testutil"
)

// The rootfs tests run prepareRootfs, enterRootfs and finishRootfs in a
// child (this test binary again, running TestHelperRootfs) cloned into new
// mount, pid, uts, ipc and network namespaces (and a user namespace for
// some), which then execs busybox sh with a script inside the container.
// The child's mounts die with its mount namespace; every test also checks
// that the host's mount table never saw them.

const (
	envRootfsHelper = "CORRAL_TEST_NSINIT_ROOTFS" // path of the helper's JSON config
	envRootfsStage  = "CORRAL_TEST_NSINIT_STAGE"  // "outer" for the two-step userns helper
	setupErrPrefix  = "ROOTFS-SETUP-ERROR: "      // printed by the helper when setup fails
	hostMarkerFile  = "host-marker-do-not-touch"  // in host directories attacks aim at
	helperTimeout   = 60 * time.Second
)

// rootfsRun is what the helper is asked to do.
type rootfsRun struct {
	Spec    *specs.Spec `json:"spec"`
	Rootfs  string      `json:"rootfs"`
	NoPivot bool        `json:"noPivot"`
	Script  string      `json:"script"`
	// UserNS runs the helper in a user namespace (uids 0-65535 mapped to
	// themselves: still a user namespace, so mknod fails and the inherited
	// mounts are locked).
	UserNS bool `json:"userns"`
	// NoNetNS leaves the network namespace shared (no sysfs in a userns).
	NoNetNS bool `json:"noNetns"`
	// CgroupNS adds a cgroup namespace.
	CgroupNS bool `json:"cgroupns"`
	// LockedTmpfs, when set, is mounted (tmpfs, nosuid,nodev,noexec) by an
	// outer helper in a private mount namespace before the user-namespace
	// helper starts, so that its flags are locked there.
	LockedTmpfs string `json:"lockedTmpfs,omitempty"`
	// Guards, exercised once the container's root is in place (guard_test.go).
	Guards guardRun `json:"guards"`
}

// TestHelperRootfs is not a test: it is the child the rootfs tests start.
func TestHelperRootfs(t *testing.T) {
	cfgPath := os.Getenv(envRootfsHelper)
	if cfgPath == "" {
		t.Skip("helper process of the rootfs tests")
	}
	runtime.LockOSThread()
	var run rootfsRun
	data, err := os.ReadFile(cfgPath)
	if err == nil {
		err = json.Unmarshal(data, &run)
	}
	if err == nil && os.Getenv(envRootfsStage) == "outer" {
		err = outerHelper(&run, cfgPath)
	}
	if err == nil {
		err = setupAndExec(&run)
	}
	fmt.Printf("%s%v\n", setupErrPrefix, err)
	os.Exit(3)
}

// setupAndExec builds the container's filesystem and execs the script.
func setupAndExec(run *rootfsRun) error {
	held, err := run.Guards.before()
	if err != nil {
		return err
	}
	devRO, err := prepareRootfs(run.Spec, run.Rootfs, nil, "")
	if err != nil {
		return err
	}
	defer devRO.Close()
	if err := enterRootfs(run.Rootfs, run.NoPivot); err != nil {
		return err
	}
	if err := finishRootfs(run.Spec); err != nil {
		return err
	}
	if err := devRO.finishReadonly(); err != nil {
		return err
	}
	if err := run.Guards.after(held); err != nil {
		return err
	}
	env := []string{"PATH=/bin"}
	return syscall.Exec("/bin/busybox", []string{"sh", "-c", run.Script}, env)
}

// outerHelper mounts the locked tmpfs, then runs the real helper in a user
// namespace and exits with its status.
func outerHelper(run *rootfsRun, cfgPath string) error {
	if err := unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("outer: make / private: %w", err)
	}
	if err := os.MkdirAll(run.LockedTmpfs, 0o755); err != nil {
		return err
	}
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if err := unix.Mount("tmpfs", run.LockedTmpfs, "tmpfs", flags, "size=1m"); err != nil {
		return fmt.Errorf("outer: mount locked tmpfs: %w", err)
	}
	if err := os.WriteFile(filepath.Join(run.LockedTmpfs, "in-locked"), []byte("x"), 0o644); err != nil {
		return err
	}
	cmd := helperCommand(context.Background(), cfgPath, run, "inner")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		os.Exit(exit.ExitCode())
	}
	if err != nil {
		return fmt.Errorf("outer: run inner helper: %w", err)
	}
	os.Exit(0)
	return nil
}

// helperCommand builds the command that starts the helper.
func helperCommand(ctx context.Context, cfgPath string, run *rootfsRun, stage string) *exec.Cmd {
	exe, _ := os.Executable()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^TestHelperRootfs$", "-test.count=1")
	cmd.Env = append(os.Environ(), envRootfsHelper+"="+cfgPath, envRootfsStage+"="+stage)
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Cloneflags: syscall.CLONE_NEWNS}
	if stage != "outer" {
		attr.Cloneflags |= syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC
		if !run.NoNetNS {
			attr.Cloneflags |= syscall.CLONE_NEWNET
		}
		if run.CgroupNS {
			attr.Cloneflags |= syscall.CLONE_NEWCGROUP
		}
	}
	if run.UserNS && stage != "outer" {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
	}
	cmd.SysProcAttr = attr
	return cmd
}

// runRootfs runs the helper and returns the script's output. A setup error
// is returned as an error carrying the helper's message.
func runRootfs(t *testing.T, run rootfsRun) (string, error) {
	t.Helper()
	testutil.RequireRoot(t)
	cfgPath := filepath.Join(t.TempDir(), "run.json")
	data, err := json.Marshal(run)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	stage := "single"
	if run.LockedTmpfs != "" {
		stage = "outer"
	}
	ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
	defer cancel()
	cmd := helperCommand(ctx, cfgPath, &run, stage)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	runtime.LockOSThread() // Pdeathsig follows the thread that forked
	err = cmd.Run()
	runtime.UnlockOSThread()
	assertHostClean(t, run.Rootfs)
	if i := strings.Index(out.String(), setupErrPrefix); i >= 0 {
		return "", errors.New(strings.TrimSpace(out.String()[i+len(setupErrPrefix):]))
	}
	if err != nil {
		t.Fatalf("helper: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), stderr.String())
	}
	return out.String(), nil
}

// mustRun runs the helper and fails the test on a setup error.
func mustRun(t *testing.T, run rootfsRun) map[string]string {
	t.Helper()
	out, err := runRootfs(t, run)
	if err != nil {
		t.Fatalf("container setup failed: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("CORRAL_TEST_NSINIT_SHOW") != "" {
			t.Logf("container output:\n%s", out)
		}
	})
	return parseKV(out)
}

// parseKV reads the script's "key=value" lines.
func parseKV(out string) map[string]string {
	kv := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			kv[k] = v
		}
	}
	return kv
}

// expectKV checks the script's answers.
func expectKV(t *testing.T, kv map[string]string, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if got, ok := kv[k]; !ok || got != w {
			t.Errorf("%s = %q, want %q (all: %v)", k, got, w, kv)
		}
	}
}

// assertHostClean fails if the host's mount table has anything under dir.
func assertHostClean(t *testing.T, dir string) {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	top := filepath.Dir(dir)
	if strings.Contains(string(data), top) {
		t.Errorf("host mount table has mounts under %s:\n%s", top, data)
	}
}

// newRootfs builds a minimal busybox rootfs in a new temporary directory.
// The user-namespace tests map uid 0 to itself, so the 0700 directories of
// t.TempDir stay traversable.
func newRootfs(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t)
	base := t.TempDir()
	rootfs := filepath.Join(base, "rootfs")
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc", "mnt"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, "/bin/busybox", filepath.Join(rootfs, "bin/busybox"), 0o755)
	for _, app := range []string{"sh", "ls", "cat", "mount", "stat", "readlink", "touch", "grep",
		"echo", "mkdir", "wc", "head", "test", "awk", "sysctl", "rm"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", app)); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(rootfs, "etc/passwd"), "root:x:0:0:root:/:/bin/sh\n")
	return rootfs
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// exampleSpec is the default configuration of `runc spec`, trimmed to what
// the rootfs code reads.
func exampleSpec(rootfs string) *specs.Spec {
	return &specs.Spec{
		Root: &specs.Root{Path: rootfs},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs",
				Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts",
				Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm",
				Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue",
				Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs",
				Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
				Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace},
				{Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			MaskedPaths: []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
				"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
				"/sys/firmware", "/proc/scsi"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}

// mountLine is one line of the container's mountinfo, as the script prints it.
type mountLine struct {
	opts, fstype string
}

// containerMounts runs in the script: it prints "mnt:<mountpoint>=<opts> <fstype>".
const printMounts = `awk '{ for (i = 7; $i != "-"; i++) ; print "mnt:" $5 "=" $6 " " $(i+1) }' /proc/self/mountinfo;`

func mountsOf(kv map[string]string) map[string]mountLine {
	m := map[string]mountLine{}
	for k, v := range kv {
		if p, ok := strings.CutPrefix(k, "mnt:"); ok {
			opts, fstype, _ := strings.Cut(v, " ")
			m[p] = mountLine{opts: opts, fstype: fstype}
		}
	}
	return m
}

func hasOpt(opts, opt string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}
