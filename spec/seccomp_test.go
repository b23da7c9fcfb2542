package spec

import (
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/corral-dev/corral/errdefs"
)

// rulesFor returns the actions and arguments the resolved profile has for
// a syscall name.
func rulesFor(sc *specs.LinuxSeccomp, name string) []specs.LinuxSyscall {
	var out []specs.LinuxSyscall
	for _, r := range sc.Syscalls {
		if slices.Contains(r.Names, name) {
			out = append(out, r)
		}
	}
	return out
}

func unconditional(sc *specs.LinuxSeccomp, name string) bool {
	return slices.ContainsFunc(rulesFor(sc, name), func(r specs.LinuxSyscall) bool {
		return r.Action == specs.ActAllow && len(r.Args) == 0
	})
}

func TestDefaultProfileByCaps(t *testing.T) {
	def, err := SeccompFor(nil, DefaultCaps(), "amd64", "6.18.0")
	if err != nil {
		t.Fatal(err)
	}
	if def.DefaultAction != specs.ActErrno || def.DefaultErrnoRet == nil || *def.DefaultErrnoRet != 1 {
		t.Errorf("default action %s %v, want ERRNO(EPERM)", def.DefaultAction, def.DefaultErrnoRet)
	}
	if !slices.Equal(def.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}) {
		t.Errorf("architectures %v", def.Architectures)
	}
	never := []string{"keyctl", "add_key", "request_key", "userfaultfd", "kexec_load", "kexec_file_load",
		"io_uring_setup", "io_uring_enter", "nfsservctl", "swapon", "pivot_root", "uselib", "vm86"}
	// Unlocked by CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_SYS_PACCT, CAP_SYS_BOOT,
	// CAP_SYS_TIME, CAP_SYS_NICE.
	capGated := []string{"mount", "umount2", "unshare", "setns", "bpf", "perf_event_open", "sethostname",
		"fsopen", "open_tree", "init_module", "acct", "reboot", "settimeofday", "mbind"}
	for _, n := range append(append(never, capGated...), "clone3") {
		if unconditional(def, n) {
			t.Errorf("default caps: %s allowed", n)
		}
	}
	for _, n := range []string{"read", "openat", "execve", "chroot", "ptrace", "arch_prctl", "modify_ldt", "getrandom"} {
		if !unconditional(def, n) {
			t.Errorf("default caps: %s not allowed", n)
		}
	}
	clone := rulesFor(def, "clone")
	if len(clone) != 1 || clone[0].Args[0].Op != specs.OpMaskedEqual || clone[0].Args[0].Value != 0x7e020000 {
		t.Errorf("clone rules %+v, want one masked check of the namespace flags", clone)
	}
	if c3 := rulesFor(def, "clone3"); len(c3) != 1 || c3[0].Action != specs.ActErrno || *c3[0].ErrnoRet != 38 {
		t.Errorf("clone3 rules %+v, want ERRNO(ENOSYS)", c3)
	}

	all, _ := SeccompFor(nil, KnownCaps(), "amd64", "6.18.0")
	for _, n := range append(capGated, "clone") {
		if !unconditional(all, n) {
			t.Errorf("all caps: %s not allowed", n)
		}
	}
	if len(rulesFor(all, "clone3")) != 1 || rulesFor(all, "clone3")[0].Action != specs.ActAllow {
		t.Errorf("all caps: clone3 %+v", rulesFor(all, "clone3"))
	}
	for _, n := range never {
		if unconditional(all, n) {
			t.Errorf("all caps: %s allowed", n)
		}
	}
}

func TestProfileConditions(t *testing.T) {
	old, _ := SeccompFor(nil, DefaultCaps(), "amd64", "4.4.0-generic")
	if unconditional(old, "ptrace") {
		t.Error("ptrace allowed before 4.8 without CAP_SYS_PTRACE")
	}
	ptraceCap, _ := SeccompFor(nil, []string{"CAP_SYS_PTRACE"}, "amd64", "4.4")
	if !unconditional(ptraceCap, "ptrace") || !unconditional(ptraceCap, "kcmp") {
		t.Error("CAP_SYS_PTRACE does not unlock ptrace, kcmp")
	}
	arm, _ := SeccompFor(nil, DefaultCaps(), "arm64", "")
	if unconditional(arm, "arch_prctl") || !unconditional(arm, "set_tls") {
		t.Error("arm64: arch-specific rules wrong")
	}
	if !slices.Equal(arm.Architectures, []specs.Arch{specs.ArchAARCH64, specs.ArchARM}) {
		t.Errorf("arm64 architectures %v", arm.Architectures)
	}
	s390, _ := SeccompFor(nil, nil, "s390x", "")
	if c := rulesFor(s390, "clone"); len(c) != 1 || c[0].Args[0].Index != 1 {
		t.Errorf("s390x clone %+v: flags are the second argument there", c)
	}
	mips, _ := SeccompFor(nil, nil, "mips64le", "")
	if len(mips.Architectures) != 0 {
		t.Errorf("an architecture the archMap lacks gets %v", mips.Architectures)
	}
}

func TestParseProfile(t *testing.T) {
	p, err := ParseProfile([]byte(customProfile))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := p.resolve(seccompEnv{caps: nil, arch: "amd64", kernel: "3.10.0"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range sc.Syscalls {
		names = append(names, r.Names...)
	}
	want := []string{"read", "write", "exit_group", "ptrace", "old_call", "personality"}
	if !slices.Equal(names, want) {
		t.Errorf("names %v, want %v (no mount without CAP_SYS_ADMIN, old_call before 4.0)", names, want)
	}
	if empty, err := ParseProfile([]byte(`{}`)); err != nil {
		t.Errorf("empty profile: %v", err)
	} else if sc, _ := empty.resolve(seccompEnv{arch: "amd64"}); sc != nil {
		t.Errorf("empty profile means no seccomp, got %+v", sc)
	}
}

func TestParseProfileErrors(t *testing.T) {
	bad := map[string]string{
		`[]`: "decode",
		`{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}],"syscalls":[]}`:          "both architectures and archMap",
		`{"defaultAction":"SCMP_ACT_ALLOW","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["i386"]}],"syscalls":[]}`:                `archMap[0]: unknown architecture "i386"`,
		`{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_NOPE"],"syscalls":[]}`:                                                       "flags",
		`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ERRNO"}]}`:                                        "both name and names",
		`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ERRNO"}]}`:                                                                 "no syscall names",
		`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}`: "index",
		`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_ERRNO","includes":{"minKernel":"four"}}]}`:                   "minKernel",
		`{"syscalls":[{"names":["a"],"action":"SCMP_ACT_ERRNO"}]}`:                                                                                    "defaultAction",
	}
	for profile, want := range bad {
		_, err := ParseProfile([]byte(profile))
		if err == nil || !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want invalid argument containing %q", profile, err, want)
		}
	}
}

func TestSeccompChoice(t *testing.T) {
	tests := []struct {
		name       string
		opts       []string
		daemon     string
		privileged bool
		want       string // "none", "default" or the default action
	}{
		{name: "default", want: "default"},
		{name: "unconfined", opts: []string{"seccomp=unconfined"}, want: "none"},
		{name: "old colon form", opts: []string{"seccomp:unconfined"}, want: "none"},
		{name: "builtin", opts: []string{"seccomp=builtin"}, daemon: SeccompUnconfined, want: "default"},
		{name: "daemon unconfined", daemon: SeccompUnconfined, want: "none"},
		{name: "daemon profile", daemon: `{"defaultAction":"SCMP_ACT_LOG","syscalls":[]}`, want: "SCMP_ACT_LOG"},
		{name: "privileged", privileged: true, want: "none"},
		{name: "privileged with a profile", privileged: true,
			opts: []string{`seccomp={"defaultAction":"SCMP_ACT_TRAP","syscalls":[]}`}, want: "SCMP_ACT_TRAP"},
	}
	for _, tt := range tests {
		in := baseInput("true")
		in.HostConfig.SecurityOpt, in.HostConfig.Privileged, in.Daemon.SeccompProfile = tt.opts, tt.privileged, tt.daemon
		s, err := Build(in)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		got := "none"
		if sc := s.Linux.Seccomp; sc != nil {
			got = string(sc.DefaultAction)
			if len(sc.Syscalls) > 0 && len(sc.Syscalls[0].Names) > 300 {
				got = "default"
			}
		}
		if got != tt.want {
			t.Errorf("%s: seccomp %s, want %s", tt.name, got, tt.want)
		}
	}
}
