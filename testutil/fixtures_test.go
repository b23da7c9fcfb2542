package testutil

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestUniqueName(t *testing.T) {
	t.Parallel()
	valid := regexp.MustCompile(`^[a-z0-9-]{1,40}-[0-9a-f]{8}$`)
	a, b := UniqueName(t), UniqueName(t)
	if a == b || !valid.MatchString(a) || !strings.HasPrefix(a, "testuniquename-") {
		t.Fatalf("UniqueName = %q, %q", a, b)
	}
	tests := map[string]string{
		"TestFoo/sub_case#01":                   "testfoo-sub-case-01",
		"Test__X":                               "test-x",
		"//":                                    "test",
		strings.Repeat("a", 50):                 strings.Repeat("a", 40),
		"Test" + strings.Repeat("x", 35) + "/y": "test" + strings.Repeat("x", 35),
	}
	for in, want := range tests {
		if got := sanitizeName(in); got != want {
			t.Errorf("sanitizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBusyboxRootfs(t *testing.T) {
	t.Parallel()
	root := BusyboxRootfs(t)
	for _, exe := range []string{"bin/busybox", "bin/testprog"} {
		if st, err := os.Stat(filepath.Join(root, exe)); err != nil || st.Mode().Perm() != 0o755 {
			t.Errorf("%s: %v %v", exe, st, err)
		}
	}
	if target, err := os.Readlink(filepath.Join(root, "bin/sh")); err != nil || target != "busybox" {
		t.Errorf("bin/sh -> %q, %v", target, err)
	}
	if st, err := os.Stat(filepath.Join(root, "tmp")); err != nil || st.Mode()&os.ModeSticky == 0 || st.Mode().Perm() != 0o777 {
		t.Errorf("tmp: %v %v", st, err)
	}
	for _, d := range []string{"proc", "sys", "dev", "run", "root", "home"} {
		if st, err := os.Stat(filepath.Join(root, d)); err != nil || !st.IsDir() {
			t.Errorf("%s: %v", d, err)
		}
	}
	passwd, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if err != nil || !strings.Contains(string(passwd), "tester:x:1000:1000:") {
		t.Errorf("etc/passwd: %q %v", passwd, err)
	}
	out, err := exec.Command(filepath.Join(root, "bin/sh"), "-c", "echo hello").Output()
	if err != nil || string(out) != "hello\n" {
		t.Errorf("bin/sh -c echo: %q %v", out, err)
	}
}

func TestNewBundle(t *testing.T) {
	t.Parallel()
	dir, spec := NewBundle(t)
	if spec.Process.Terminal || spec.Process.Args[0] != "true" || spec.Root.Path != "rootfs" {
		t.Fatalf("spec not adjusted: %+v", spec.Process)
	}
	if _, err := os.Stat(filepath.Join(dir, "rootfs/bin/true")); err != nil {
		t.Fatal(err)
	}
	spec.Hostname = "edited"
	WriteSpec(t, dir, spec)
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got specs.Spec
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Hostname != "edited" || got.Version != specs.Version || len(got.Mounts) != 7 {
		t.Fatalf("config.json: %s", data)
	}
}

func TestCorralBinaryFromEnv(t *testing.T) {
	t.Setenv("CORRAL_BINARY", "/some/corral")
	if got := CorralBinary(t); got != "/some/corral" {
		t.Fatalf("CorralBinary = %q", got)
	}
}

func TestTestProgramInfo(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(TestProgram(t), "info")
	cmd.Env = []string{"A=b"}
	cmd.Dir = t.TempDir()
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		UID     *int              `json:"uid"`
		Cwd     string            `json:"cwd"`
		Env     []string          `json:"env"`
		Caps    map[string]string `json:"caps"`
		Rlimits map[string]struct{ Soft, Hard uint64 }
		FDs     []struct {
			FD     int    `json:"fd"`
			Target string `json:"target"`
		} `json:"fds"`
		Namespaces map[string]uint64 `json:"namespaces"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	if info.UID == nil || info.Cwd != cmd.Dir || len(info.Env) != 1 || len(info.Caps) != 5 {
		t.Errorf("info: %s", out)
	}
	if len(info.Rlimits) != 16 || info.Namespaces["net"] == 0 {
		t.Errorf("rlimits or namespaces missing: %s", out)
	}
	// Beyond stdio, testprog must only have what it inherited from us.
	for _, fd := range info.FDs {
		if fd.FD <= 2 {
			continue
		}
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", strconv.Itoa(fd.FD))); err != nil || target != fd.Target {
			t.Errorf("testprog has fd %d -> %s of its own", fd.FD, fd.Target)
		}
	}
	if len(info.FDs) < 3 || info.FDs[0].FD != 0 {
		t.Errorf("stdio missing from %+v", info.FDs)
	}
}

func TestTestProgramCommands(t *testing.T) {
	t.Parallel()
	prog, dir := TestProgram(t), t.TempDir()
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"exit", "7"}, 7, ""},
		{[]string{"sleep", "0.01"}, 0, ""},
		{[]string{"fds"}, 0, `[{"fd":0,`},
		{[]string{"write", filepath.Join(dir, "f"), "text"}, 0, ""},
		{[]string{"write", filepath.Join(dir, "no/f"), "text"}, 1, ""},
		{[]string{"mknod", filepath.Join(dir, "no/null")}, 1, "ENOENT\n"},
		{[]string{"bogus"}, 2, ""},
	}
	for _, tt := range tests {
		out, err := exec.Command(prog, tt.args...).Output()
		code := 0
		if exit, ok := err.(*exec.ExitError); ok {
			code = exit.ExitCode()
		}
		if code != tt.code || !strings.HasPrefix(string(out), tt.out) {
			t.Errorf("testprog %v: exit %d, %q; want %d, %q", tt.args, code, out, tt.code, tt.out)
		}
	}
	if data, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(data) != "text" {
		t.Errorf("write: %q %v", data, err)
	}
}

func TestTestProgramPause(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(TestProgram(t), "pause")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	var got []string
	for _, sig := range []syscall.Signal{0, syscall.SIGUSR1, syscall.SIGTERM} {
		if sig != 0 {
			_ = cmd.Process.Signal(sig)
		}
		lines.Scan()
		got = append(got, lines.Text())
	}
	if err := cmd.Wait(); err != nil || strings.Join(got, " ") != "ready SIGUSR1 SIGTERM" {
		t.Fatalf("pause: %v, %v", got, err)
	}
}
