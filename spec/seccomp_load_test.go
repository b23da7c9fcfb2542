package spec

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	rseccomp "github.com/corral-dev/corral/runtime/seccomp"
)

// The profile is checked black-box: a re-executed test binary loads it
// (compiled by corral's own runtime/seccomp, as corral init does) on its
// locked thread and makes syscalls; a control child without the filter
// shows that each refusal comes from the filter. Only the child's own
// state changes (a new UTS namespace, its personality).

// seccompChildEnv carries the capability list of the profile to load, or
// "none" for the control child.
const seccompChildEnv = "CORRAL_SPEC_SECCOMP_CHILD"

func TestMain(m *testing.M) {
	if caps, ok := os.LookupEnv(seccompChildEnv); ok {
		os.Exit(seccompChild(caps))
	}
	os.Exit(m.Run())
}

// probes are syscalls whose errno tells whether the filter let them
// through: each is harmless if it runs, and fails differently in the
// kernel than the filter's EPERM (ENOSYS for clone3).
var probes = map[string]func() syscall.Errno{
	"getpid": func() syscall.Errno { return sys(unix.SYS_GETPID, 0, 0, 0) },
	"keyctl": func() syscall.Errno {
		return sys(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, negOne(3), 0) // session keyring
	},
	"add_key": func() syscall.Errno {
		return sys(unix.SYS_ADD_KEY, strPtr("no-such-key-type"), strPtr("x"), 0)
	},
	"unshare-uts":  func() syscall.Errno { return sys(unix.SYS_UNSHARE, unix.CLONE_NEWUTS, 0, 0) },
	"unshare-user": func() syscall.Errno { return sys(unix.SYS_UNSHARE, unix.CLONE_NEWUSER|unix.CLONE_FS, 0, 0) },
	"setns":        func() syscall.Errno { return sys(unix.SYS_SETNS, negOne(1), 0, 0) },
	"mount": func() syscall.Errno {
		return sys(unix.SYS_MOUNT, strPtr("none"), strPtr("/nonexistent-corral"), strPtr("tmpfs"))
	},
	"clone-newuser": func() syscall.Errno { return sys(unix.SYS_CLONE, unix.CLONE_NEWUSER|unix.CLONE_FS, 0, 0) },
	// CLONE_SIGHAND without CLONE_VM: EINVAL from the kernel, after the
	// filter let a clone without namespace flags through.
	"clone-plain":    func() syscall.Errno { return sys(unix.SYS_CLONE, unix.CLONE_SIGHAND, 0, 0) },
	"clone3":         func() syscall.Errno { return sys(unix.SYS_CLONE3, 0, 0, 0) },
	"bpf":            func() syscall.Errno { return sys(unix.SYS_BPF, 1000, 0, 0) },
	"userfaultfd":    func() syscall.Errno { return closeFD(sys3(unix.SYS_USERFAULTFD, 1<<20, 0, 0)) }, // bad flags
	"io_uring_setup": func() syscall.Errno { return sys(unix.SYS_IO_URING_SETUP, 0, 0, 0) },
	"kexec":          func() syscall.Errno { return sys(unix.SYS_KEXEC_FILE_LOAD, negOne(1), negOne(1), 0) },
	"open_by_handle": func() syscall.Errno { return sys(unix.SYS_OPEN_BY_HANDLE_AT, negOne(1), 0, 0) },
	"reboot":         func() syscall.Errno { return sys(unix.SYS_REBOOT, 0, 0, 0) },
	"syslog":         func() syscall.Errno { return sys(unix.SYS_SYSLOG, 10, 0, 0) },
	"ptrace":         func() syscall.Errno { return sys(unix.SYS_PTRACE, unix.PTRACE_PEEKDATA, 0, 0) },
	"chroot":         func() syscall.Errno { return sys(unix.SYS_CHROOT, strPtr("/nonexistent-corral"), 0, 0) },
	"socket-inet":    func() syscall.Errno { return closeFD(sys3(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_DGRAM, 0)) },
	"socket-alg":     func() syscall.Errno { return closeFD(sys3(unix.SYS_SOCKET, unix.AF_ALG, unix.SOCK_SEQPACKET, 0)) },
	"socket-vsock":   func() syscall.Errno { return closeFD(sys3(unix.SYS_SOCKET, unix.AF_VSOCK, unix.SOCK_STREAM, 0)) },
	"personality-query": func() syscall.Errno {
		return sys(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	},
	"personality-norandom": func() syscall.Errno {
		return sys(unix.SYS_PERSONALITY, addrNoRandomize, 0, 0)
	},
	"unknown-nr": func() syscall.Errno { return sys(1000, 0, 0, 0) },
}

func sys(nr, a, b, c uintptr) syscall.Errno {
	_, _, e := unix.RawSyscall(nr, a, b, c)
	return e
}

func sys3(nr, a, b, c uintptr) (uintptr, syscall.Errno) {
	r, _, e := unix.RawSyscall(nr, a, b, c)
	return r, e
}

func closeFD(fd uintptr, e syscall.Errno) syscall.Errno {
	if e == 0 {
		unix.Close(int(fd))
	}
	return e
}

func negOne(n int) uintptr { return uintptr(-n) }

// strPtr returns a C string that lives as long as the program: probes run
// with the filter loaded, where a garbage collection must not matter.
func strPtr(s string) uintptr {
	b := append([]byte(s), 0)
	keep = append(keep, b)
	return uintptr(unsafe.Pointer(&b[0]))
}

var keep [][]byte

// seccompChild loads the built-in profile resolved for caps (unless caps is
// "none") and prints each probe's errno as JSON.
func seccompChild(caps string) int {
	runtime.LockOSThread()
	if caps != "none" {
		sc, err := SeccompFor(nil, strings.Split(caps, ","), runtime.GOARCH, "")
		if err == nil {
			err = loadFilter(sc)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 100
		}
	}
	out := map[string]int{}
	for name, probe := range probes {
		out[name] = int(probe())
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		return 101
	}
	return 0
}

func loadFilter(sc *specs.LinuxSeccomp) error {
	p, err := rseccomp.Compile(sc)
	if err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	_, err = p.Load()
	return err
}

// runProbes runs the probes in a child with the profile for caps.
func runProbes(t *testing.T, caps string) map[string]syscall.Errno {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), seccompChildEnv+"="+caps)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child (caps %s): %v: %s", caps, err, stderr.String())
	}
	var res map[string]int
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("child output %q: %v", out, err)
	}
	got := map[string]syscall.Errno{}
	for k, v := range res {
		got[k] = syscall.Errno(v)
	}
	return got
}

func TestDefaultProfileEnforced(t *testing.T) {
	control := runProbes(t, "none")
	deniedByDefault := []string{"keyctl", "add_key", "unshare-uts", "unshare-user", "setns", "mount",
		"clone-newuser", "bpf", "userfaultfd", "io_uring_setup", "kexec", "open_by_handle",
		"reboot", "syslog", "socket-alg", "socket-vsock", "personality-norandom"}
	allowed := []string{"getpid", "clone-plain", "ptrace", "chroot", "socket-inet", "personality-query"}
	for _, name := range deniedByDefault {
		if control[name] == unix.EPERM {
			// Not root: the kernel refuses it too, so the probe proves nothing.
			t.Skipf("%s fails with EPERM without a filter (not root?)", name)
		}
	}
	tests := []struct {
		caps    []string
		denied  []string
		allowed []string
		enosys  []string
	}{
		{DefaultCaps(), deniedByDefault, allowed, []string{"clone3", "unknown-nr"}},
		{append(DefaultCaps(), "CAP_SYS_ADMIN"),
			[]string{"keyctl", "add_key", "userfaultfd", "io_uring_setup", "kexec", "open_by_handle", "reboot",
				"socket-alg", "socket-vsock", "personality-norandom"},
			[]string{"getpid", "unshare-uts", "setns", "mount", "clone-newuser", "bpf", "syslog", "clone3"},
			[]string{"unknown-nr"}},
		{[]string{"CAP_SYS_BOOT", "CAP_DAC_READ_SEARCH"}, []string{"chroot", "mount"},
			[]string{"reboot", "open_by_handle", "ptrace"}, nil},
	}
	for _, tt := range tests {
		caps := strings.Join(tt.caps, ",")
		got := runProbes(t, caps)
		for _, name := range tt.denied {
			if got[name] != unix.EPERM {
				t.Errorf("caps %s: %s = %v, want EPERM from the filter", caps, name, got[name])
			}
		}
		for _, name := range tt.allowed {
			if got[name] != control[name] {
				t.Errorf("caps %s: %s = %v, want %v as without a filter", caps, name, got[name], control[name])
			}
		}
		for _, name := range tt.enosys {
			if got[name] != unix.ENOSYS {
				t.Errorf("caps %s: %s = %v, want ENOSYS", caps, name, got[name])
			}
		}
	}
}

// TestProfilesCompile compiles the built-in profile, resolved for several
// capability sets and each architecture it maps, with corral's compiler,
// and checks which names it had to skip as unknown.
func TestProfilesCompile(t *testing.T) {
	capSets := [][]string{nil, DefaultCaps(), KnownCaps()}
	for _, arch := range []string{"amd64", "arm64", "386"} {
		for _, caps := range capSets {
			sc, err := SeccompFor(nil, caps, arch, "6.1")
			if err != nil {
				t.Fatal(err)
			}
			p, err := rseccomp.Compile(sc)
			if arch != "amd64" {
				// corral's compiler covers x86 hosts; other arches only
				// have to be accepted or refused cleanly.
				continue
			}
			if err != nil {
				t.Fatalf("%s, %d caps: compile: %v", arch, len(caps), err)
			}
			for _, n := range p.Ignored() {
				if !knownForeign(n) {
					t.Errorf("%s: compiler does not know %q on x86", arch, n)
				}
			}
		}
	}
}

// knownForeign reports whether a name of the profile is, on purpose, one
// that x86 kernels do not have.
func knownForeign(name string) bool {
	switch name {
	case "riscv_hwprobe", "recv", "send", "sync_file_range2", "uretprobe":
		return true
	}
	return false
}

// addrNoRandomize is the ADDR_NO_RANDOMIZE personality flag.
const addrNoRandomize = 0x0040000
