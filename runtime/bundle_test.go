package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func validSpec() *specs.Spec {
	s := ExampleSpec()
	s.Process.Terminal = false
	return s
}

func TestCheckSpec(t *testing.T) {
	cases := []struct {
		name   string
		modify func(*specs.Spec)
		want   string // "" means valid
	}{
		{"example", func(*specs.Spec) {}, ""},
		{"no version", func(s *specs.Spec) { s.Version = "" }, "ociVersion"},
		{"no process", func(s *specs.Spec) { s.Process = nil }, "process is missing"},
		{"empty args", func(s *specs.Spec) { s.Process.Args = nil }, "process.args"},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "tmp" }, "process.cwd"},
		{"no root", func(s *specs.Spec) { s.Root = nil }, "root.path"},
		{"no linux", func(s *specs.Spec) { s.Linux = nil }, "linux section"},
		{"unknown ns", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, `unknown type "bogus"`},
		{"dup ns", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		}, "listed twice"},
		{"relative ns path", func(s *specs.Spec) {
			s.Linux.Namespaces[0].Path = "proc/1/ns/pid"
		}, "must be absolute"},
		{"userns without maps", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}, "uidMappings"},
		{"relative mount", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "data", Type: "tmpfs", Source: "tmpfs"})
		}, `destination "data"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := validSpec()
			c.modify(s)
			err := checkSpec(s)
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestLoadBundleErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := loadBundle(dir); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Fatalf("missing config: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte("{not json"), 0o644)
	if _, err := loadBundle(dir); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("malformed config: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"},"linux":{"namespaces":[{"type":"mount"}]}}`), 0o644)
	if _, err := loadBundle(dir); !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), "root.path") {
		t.Fatalf("missing rootfs: %v", err)
	}
	os.Mkdir(filepath.Join(dir, "rootfs"), 0o755)
	b, err := loadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	spec, rootfs := b.spec, b.rootfs
	if rootfs != filepath.Join(dir, "rootfs") || spec.Process.Args[0] != "sh" {
		t.Fatalf("got rootfs %s args %v", rootfs, spec.Process.Args)
	}
}

func TestCheckID(t *testing.T) {
	for _, id := range []string{"abc", "a.b-c_d+e", "0123"} {
		if err := checkID(id); err != nil {
			t.Errorf("%q rejected: %v", id, err)
		}
	}
	for _, id := range []string{"", ".", "..", "a/b", "../x", "a b", strings.Repeat("x", 2000)} {
		if checkID(id) == nil {
			t.Errorf("%q accepted", id)
		}
	}
}

func TestProcStat(t *testing.T) {
	start, state, err := procStat(os.Getpid())
	if err != nil || start == 0 || state != 'R' && state != 'S' {
		t.Fatalf("procStat(self) = %d %c %v", start, state, err)
	}
	if !processAlive(os.Getpid(), start) || processAlive(os.Getpid(), start+1) {
		t.Fatal("processAlive does not check the start time")
	}
}

// TestCompileAhead: the bundle's seccomp profile compiles beside the rest of
// create, and a bad one is still a config error naming linux.seccomp.
func TestCompileAhead(t *testing.T) {
	if f, err := compileAhead(nil).wait(); f != nil || err != nil {
		t.Fatalf("no profile: %v, %v", f, err)
	}
	good := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"read", "write"}, Action: specs.ActAllow}}}
	if f, err := compileAhead(good).wait(); err != nil || f == nil || f.Len() == 0 {
		t.Fatalf("good profile: %v, %v", f, err)
	}
	bad := &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_BOGUS"}
	if _, err := compileAhead(bad).wait(); !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), "linux.seccomp") {
		t.Fatalf("bad profile: %v, want a config error naming linux.seccomp", err)
	}
}
