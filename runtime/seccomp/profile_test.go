package seccomp

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// loadProfile reads a seccomp config from testdata.
func loadProfile(t testing.TB, name string) *specs.LinuxSeccomp {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var c specs.LinuxSeccomp
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &c
}

// probeArgs are argument vectors that the docker-like profile's conditions
// tell apart.
var probeArgs = [][6]uint64{
	{}, {8}, {0x20008}, {0xffffffff}, {0xffffffff_ffffffff}, {0x1_00000000},
	{0x10000000}, {0x7e020000}, {unix.AF_VSOCK}, {0x4206}, {0x1_00000000 | unix.AF_VSOCK},
}

// probeNrs are the syscall numbers to try on each architecture: the whole
// table range and beyond, and the extremes.
func probeNrs(base uint32) []uint32 {
	var nrs []uint32
	for n := uint32(0); n < 600; n++ {
		nrs = append(nrs, base|n)
	}
	return append(nrs, base|0x3fffffff, base|0x3ffffffe, 0xffffffff, 0x80000000, 0x7fffffff)
}

// differential runs every probe through the compiled program and the
// reference semantics.
func differential(t *testing.T, c *specs.LinuxSeccomp, v *vm) {
	t.Helper()
	fails, r := 0, newRef(c)
	for _, a := range []uint32{auditArchX86_64, auditArchI386} {
		for _, base := range []uint32{0, x32Bit} {
			for _, n := range probeNrs(base) {
				for _, args := range probeArgs {
					d := data{nr: n, arch: a, args: args}
					got, want := v.run(d), r.eval(d)
					if got != want && fails < 10 {
						fails++
						t.Errorf("nr %#x arch %#x args %#x: got %#x, want %#x", n, a, args[0], got, want)
					}
				}
			}
		}
	}
}

// A profile like Docker's default (~390 names, conditional rules for
// personality, clone, socket) for three architectures stays far under the
// kernel's limit and does what the reference says everywhere.
func TestDockerLikeProfile(t *testing.T) {
	t.Parallel()
	c := loadProfile(t, "docker-like.json")
	p := mustCompile(t, c)
	t.Logf("docker-like profile: %d names, %d BPF instructions", len(c.Syscalls[0].Names), p.Len())
	if p.Len() >= maxInsns {
		t.Fatalf("%d instructions, the kernel takes at most %d", p.Len(), maxInsns)
	}
	v := newVM(t, p)
	eperm, enosys := errnoRet(unix.EPERM), errnoRet(unix.ENOSYS)
	for _, tc := range []struct {
		name string
		d    data
		want uint32
	}{
		{"read", x64(t, "read"), retAllow},
		{"mount", x64(t, "mount"), eperm},
		{"unshare", x64(t, "unshare"), eperm},
		{"cloneThread", x64(t, "clone", unix.CLONE_VM|unix.CLONE_THREAD|unix.CLONE_SIGHAND), retAllow},
		{"cloneNewUser", x64(t, "clone", unix.CLONE_NEWUSER), eperm},
		{"cloneNewUserHighBits", x64(t, "clone", 0xffffffff_00000000|unix.CLONE_NEWNS), eperm},
		{"clone3", x64(t, "clone3"), enosys},
		{"personality8", x64(t, "personality", 8), retAllow},
		{"personalityOther", x64(t, "personality", 0x0400000), eperm},
		{"socketInet", x64(t, "socket", unix.AF_INET), retAllow},
		{"socketVsock", x64(t, "socket", unix.AF_VSOCK), eperm},
		{"ptraceLogged", x64(t, "ptrace", 0), retLog},
		{"i386Socketcall", data{nr: nr(t, archX86, "socketcall"), arch: auditArchI386}, retAllow},
		{"i386Mount", data{nr: nr(t, archX86, "mount"), arch: auditArchI386}, eperm},
		{"x32Mount", data{nr: nr(t, archX32, "mount"), arch: auditArchX86_64}, eperm},
		{"x32Read", data{nr: nr(t, archX32, "read"), arch: auditArchX86_64}, retAllow},
		{"fchmodat2", x64(t, "fchmodat2"), retAllow},
		{"aarch64", data{nr: 0, arch: auditArchAArch64}, retKillThread},
	} {
		if got := v.run(tc.d); got != tc.want {
			t.Errorf("%s: got %#x, want %#x", tc.name, got, tc.want)
		}
	}
	differential(t, c, v)
}

// Many conditional rules make jumps longer than a conditional jump's 8-bit
// offset: the assembler must add trampolines and every path still be right.
func TestLongJumps(t *testing.T) {
	t.Parallel()
	c := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{specs.ArchX86}}
	for i, e := range archX86_64.table {
		if i%2 == 0 {
			c.Syscalls = append(c.Syscalls, specs.LinuxSyscall{Names: []string{e.name}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: uint(i % 6), Value: uint64(i), Op: specs.OpNotEqual}}})
		} else {
			c.Syscalls = append(c.Syscalls, specs.LinuxSyscall{Names: []string{e.name}, Action: specs.ActAllow})
		}
	}
	p := mustCompile(t, c)
	t.Logf("%d rules: %d instructions", len(c.Syscalls), p.Len())
	v := newVM(t, p)
	differential(t, c, v)
	far := 0
	for _, f := range p.filter {
		if f.Code == opJa {
			far++
		}
	}
	if far == 0 {
		t.Errorf("no trampoline in a %d-instruction program: the test does not test long jumps", p.Len())
	}
}

// Random profiles checked against the reference: actions, precedence,
// operators, architectures and layout together.
func TestRandomProfiles(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	actions := []specs.LinuxSeccompAction{specs.ActKill, specs.ActKillProcess, specs.ActTrap, specs.ActErrno,
		specs.ActTrace, specs.ActAllow, specs.ActLog, specs.ActNotify}
	allOps := append(ops[:len(ops):len(ops)], specs.OpMaskedEqual)
	names := []string{"read", "write", "open", "close", "mkdir", "mkdirat", "personality", "clone", "socket",
		"ioctl", "fcntl", "socketcall", "waitpid", "exit", "getpid", "execve", "rt_sigreturn", "mmap"}
	pick := func(n int) []string {
		out := make([]string, 1+rng.IntN(n))
		for i := range out {
			out[i] = names[rng.IntN(len(names))]
		}
		return out
	}
	for round := 0; round < 150; round++ {
		c := &specs.LinuxSeccomp{DefaultAction: actions[rng.IntN(len(actions)-1)], ListenerPath: "/s"}
		for _, a := range []specs.Arch{specs.ArchX86, specs.ArchX32} {
			if rng.IntN(2) == 0 {
				c.Architectures = append(c.Architectures, a)
			}
		}
		for r := rng.IntN(25); r >= 0; r-- {
			sc := specs.LinuxSyscall{Names: pick(4), Action: actions[rng.IntN(len(actions))]}
			if sc.Action == specs.ActNotify && slices.Contains(sc.Names, "write") {
				sc.Action = specs.ActLog // notify on write is refused, as runc does
			}
			if (sc.Action == specs.ActErrno || sc.Action == specs.ActTrace) && rng.IntN(2) == 0 {
				sc.ErrnoRet = uptr(uint(rng.IntN(3)))
			}
			for k := rng.IntN(3); k > 0; k-- {
				sc.Args = append(sc.Args, specs.LinuxSeccompArg{Index: uint(rng.IntN(2)), Op: allOps[rng.IntN(len(allOps))],
					Value: edges[rng.IntN(len(edges))], ValueTwo: edges[rng.IntN(len(edges))]})
			}
			c.Syscalls = append(c.Syscalls, sc)
		}
		v, r := newVM(t, mustCompile(t, c)), newRef(c)
		for probe := 0; probe < 300; probe++ {
			d := randomData(rng, names)
			if got, want := v.run(d), r.eval(d); got != want {
				b, _ := json.Marshal(c)
				t.Fatalf("round %d: %+v: got %#x, want %#x\nconfig: %s", round, d, got, want, b)
			}
		}
	}
}

func randomData(rng *rand.Rand, names []string) data {
	a := []*arch{archX86_64, archX86, archX32}[rng.IntN(3)]
	d := data{arch: a.audit}
	if nr, ok := a.table.lookup(names[rng.IntN(len(names))]); ok && rng.IntN(8) != 0 {
		d.nr = nr
	} else {
		d.nr = rng.Uint32()
	}
	for i := range 2 {
		d.args[i] = edges[rng.IntN(len(edges))]
	}
	return d
}

func BenchmarkCompileDockerLike(b *testing.B) {
	c := loadProfile(b, "docker-like.json")
	var p *Program
	for b.Loop() {
		var err error
		if p, err = Compile(c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(p.Len()), "insns")
}
