package nsinit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/testutil"
)

// guardRun asks the rootfs helper to exercise the guards of guard.go on
// the container it has built (see setupAndExec).
type guardRun struct {
	// HostDir is opened (without close-on-exec) before the container is
	// built; afterwards the helper chdirs to /proc/self/fd/N of it and
	// prints "cwdfd=" and what verifyCwd said, then goes back to /.
	HostDir string `json:"hostDir,omitempty"`
	// Console opens a pty on the container's /dev/ptmx and binds it on
	// /dev/console with bindConsole; it prints "console=" and the error.
	Console bool `json:"console,omitempty"`
}

// before runs before the container's filesystem is built.
func (g guardRun) before() (held *os.File, err error) {
	if g.HostDir == "" {
		return nil, nil
	}
	fd, err := unix.Open(g.HostDir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), g.HostDir), nil
}

// after runs in the container's root, before the script.
func (g guardRun) after(held *os.File) error {
	if held != nil {
		err := unix.Chdir("/proc/self/fd/" + strconv.Itoa(int(held.Fd())))
		if err == nil {
			err = verifyCwd()
		}
		fmt.Printf("cwdfd=%v\n", errText(err))
		held.Close()
		if err := unix.Chdir("/"); err != nil {
			return err
		}
		fmt.Printf("cwdroot=%v\n", errText(verifyCwd()))
	}
	if g.Console {
		fmt.Printf("console=%v\n", errText(consoleOnPtmx()))
	}
	return nil
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// consoleOnPtmx opens a pty pair on /dev/ptmx and binds the slave on
// /dev/console.
func consoleOnPtmx() error {
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	master := os.NewFile(uintptr(m), "ptmx")
	defer master.Close()
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		return err
	}
	slave, err := openPtySlave(master)
	if err != nil {
		return err
	}
	defer slave.Close()
	return bindConsole(slave)
}

// TestVerifyCwd: a working directory reached through a descriptor of a host
// directory (CVE-2024-21626) is refused; the container's / is fine.
func TestVerifyCwd(t *testing.T) {
	t.Parallel()
	rootfs := newRootfs(t)
	host := filepath.Join(filepath.Dir(rootfs), "host")
	writeFile(t, filepath.Join(host, hostMarkerFile), "host\n")
	kv := mustRun(t, rootfsRun{Spec: exampleSpec(rootfs), Rootfs: rootfs, Script: "true",
		Guards: guardRun{HostDir: host}})
	if !strings.Contains(kv["cwdfd"], "outside the container's root") {
		t.Errorf("cwd through a host descriptor: verifyCwd said %q", kv["cwdfd"])
	}
	if kv["cwdroot"] != "ok" {
		t.Errorf("cwd /: verifyCwd said %q", kv["cwdroot"])
	}
}

// TestBindConsole: the image's /dev/console is a symlink to a sysctl; the
// pty must end on /dev/console itself, the sysctl untouched.
func TestBindConsole(t *testing.T) {
	t.Parallel()
	rootfs := newRootfs(t)
	const sysctl = "/proc/sys/kernel/core_pattern"
	before := readHost(t, sysctl)
	if err := os.Symlink(sysctl, filepath.Join(rootfs, "dev/console")); err != nil {
		t.Fatal(err)
	}
	spec := exampleSpec(rootfs)
	spec.Mounts = append(spec.Mounts[:1], spec.Mounts[2:]...) // the image's /dev
	kv := mustRun(t, rootfsRun{Spec: spec, Rootfs: rootfs, Guards: guardRun{Console: true},
		Script: `echo "dev=$(stat -c '%F %t' /dev/console)"; echo "target=$(stat -L -c %F ` + sysctl + `)"`})
	expectKV(t, kv, map[string]string{"console": "ok", "dev": "character special file 88",
		"target": "regular empty file"})
	if now := readHost(t, sysctl); now != before {
		t.Errorf("%s changed: %q, was %q", sysctl, now, before)
	}
}

func readHost(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCheckPtySlave(t *testing.T) {
	f, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := checkPtySlave(f); err == nil {
		t.Error("checkPtySlave accepted /dev/null")
	}
	if err := checkDevNull(f); err != nil {
		t.Errorf("checkDevNull refused /dev/null: %v", err)
	}
	z, err := os.Open("/dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	if err := checkDevNull(z); err == nil {
		t.Error("checkDevNull accepted /dev/zero")
	}
}

// TestMaskRefusesFakeNull: with /dev bound from the host (nothing created
// in it), a /dev/null that is not the null device makes setup fail rather
// than bind it over the masked paths (CVE-2025-31133).
func TestMaskRefusesFakeNull(t *testing.T) {
	t.Parallel()
	for name, mk := range map[string]func(p string) error{
		"symlink to a sysctl": func(p string) error { return os.Symlink("/proc/sys/kernel/core_pattern", p) },
		"regular file":        func(p string) error { return os.WriteFile(p, nil, 0o666) },
		"zero device":         func(p string) error { return unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rootfs := newRootfs(t)
			dev := filepath.Join(filepath.Dir(rootfs), "hostdev")
			if err := os.Mkdir(dev, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := mk(filepath.Join(dev, "null")); err != nil {
				t.Fatal(err)
			}
			spec := exampleSpec(rootfs)
			spec.Mounts = []specs.Mount{spec.Mounts[0],
				{Destination: "/dev", Type: "bind", Source: dev, Options: []string{"rbind"}}}
			spec.Linux.MaskedPaths = []string{"/proc/timer_list"}
			spec.Linux.ReadonlyPaths = nil
			_, err := runRootfs(t, rootfsRun{Spec: spec, Rootfs: rootfs, Script: "echo ran=yes"})
			if err == nil || !strings.Contains(err.Error(), "not the null device") {
				t.Errorf("setup: %v, want a refusal of the fake /dev/null", err)
			}
		})
	}
}

// TestReadonlyPathsRecursive: a read-only path stays read-only below it,
// in the mounts under it too.
func TestReadonlyPathsRecursive(t *testing.T) {
	t.Parallel()
	rootfs := newRootfs(t)
	spec := exampleSpec(rootfs)
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/mnt/ro/sub", Type: "tmpfs", Source: "tmpfs"})
	spec.Linux.ReadonlyPaths = []string{"/mnt/ro"}
	kv := mustRun(t, rootfsRun{Spec: spec, Rootfs: rootfs, Script: `
if touch /mnt/ro/probe 2>/dev/null; then echo top=rw; else echo top=ro; fi
if touch /mnt/ro/sub/probe 2>/dev/null; then echo sub=rw; else echo sub=ro; fi`})
	expectKV(t, kv, map[string]string{"top": "ro", "sub": "ro"})
}

// envGuardHelper runs TestHelperGuard as the helper of
// TestWriteThreadSelfOvermount.
const envGuardHelper = "CORRAL_TEST_NSINIT_GUARD"

// TestWriteThreadSelfOvermount binds another process's oom_score_adj (a
// procfs file too) over /proc/self/oom_score_adj, as a mount racing in
// from a shared mount could (CVE-2025-52881): a write through the path
// lands in the other process, writeThreadSelf's lands in ours.
func TestWriteThreadSelfOvermount(t *testing.T) {
	t.Parallel()
	testutil.RequireRoot(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^TestHelperGuard$", "-test.count=1")
	cmd.Env = append(os.Environ(), envGuardHelper+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID, Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread()
	out, err := cmd.CombinedOutput()
	runtime.UnlockOSThread()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	expectKV(t, parseKV(string(out)), map[string]string{
		"bypath": "redirected", "guarded": "ours", "victim": "200", "self": "300"})
}

// TestHelperGuard is not a test: the helper of TestWriteThreadSelfOvermount,
// pid 1 of a pid namespace of its own, in a mount namespace of its own.
func TestHelperGuard(t *testing.T) {
	if os.Getenv(envGuardHelper) == "" {
		t.Skip("helper process of TestWriteThreadSelfOvermount")
	}
	runtime.LockOSThread()
	if err := guardHelper(); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func guardHelper() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	// This pid namespace's own procfs, so that /proc/self is this process.
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	victim := exec.Command("/bin/sleep", "30")
	if err := victim.Start(); err != nil {
		return err
	}
	defer victim.Process.Kill()
	adj := func(pid int) string {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/oom_score_adj", pid, pid))
		return strings.TrimSpace(string(b))
	}
	src := fmt.Sprintf("/proc/%d/oom_score_adj", victim.Process.Pid)
	if err := unix.Mount(src, "/proc/self/oom_score_adj", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind the victim's oom_score_adj: %w", err)
	}
	time.Sleep(10 * time.Millisecond)
	if err := os.WriteFile("/proc/self/oom_score_adj", []byte("200"), 0); err != nil {
		return err
	}
	fmt.Printf("bypath=%s\n", map[bool]string{true: "redirected", false: "ours"}[adj(victim.Process.Pid) == "200"])
	if err := writeThreadSelf("oom_score_adj", "300"); err != nil {
		return err
	}
	self := os.Getpid()
	fmt.Printf("guarded=%s\nvictim=%s\nself=%s\n",
		map[bool]string{true: "ours", false: "redirected"}[adj(self) == "300"], adj(victim.Process.Pid), adj(self))
	return nil
}
