package seccomp

import (
	"fmt"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const auditArchAArch64 = 0xc00000b7

func x64(t testing.TB, name string, args ...uint64) data {
	d := data{nr: nr(t, archX86_64, name), arch: auditArchX86_64}
	copy(d.args[:], args)
	return d
}

func TestActions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		act   specs.LinuxSeccompAction
		errno *uint
		want  uint32
	}{
		{specs.ActKill, nil, retKillThread},
		{specs.ActKillThread, nil, retKillThread},
		{specs.ActKillProcess, nil, retKillProcess},
		{specs.ActTrap, nil, retTrap},
		{specs.ActErrno, nil, errnoRet(unix.EPERM)},
		{specs.ActErrno, uptr(38), errnoRet(unix.ENOSYS)},
		{specs.ActErrno, uptr(0), retErrno},
		{specs.ActTrace, nil, retTrace | uint32(unix.EPERM)},
		{specs.ActTrace, uptr(1234), retTrace | 1234},
		{specs.ActAllow, nil, retAllow},
		{specs.ActLog, nil, retLog},
		{specs.ActNotify, nil, retNotify},
	} {
		name := string(tc.act)
		if tc.errno != nil {
			name += fmt.Sprint("/", *tc.errno)
		}
		t.Run(name, func(t *testing.T) {
			// As a rule's action, against a default that differs.
			def := specs.ActAllow
			if tc.act == specs.ActAllow {
				def = specs.ActErrno
			}
			c := &specs.LinuxSeccomp{DefaultAction: def, ListenerPath: "/agent.sock",
				Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: tc.act, ErrnoRet: tc.errno}}}
			v := newVM(t, mustCompile(t, c))
			if got := v.run(x64(t, "mkdir")); got != tc.want {
				t.Errorf("mkdir: got %#x, want %#x", got, tc.want)
			}
			if got, want := v.run(x64(t, "read")), refRet(def, nil); got != want {
				t.Errorf("read (default): got %#x, want %#x", got, want)
			}
			if tc.act == specs.ActNotify {
				return
			}
			// As the default action.
			c = &specs.LinuxSeccomp{DefaultAction: tc.act, DefaultErrnoRet: tc.errno}
			if got := newVM(t, mustCompile(t, c)).run(x64(t, "getpid")); got != tc.want {
				t.Errorf("default action: got %#x, want %#x", got, tc.want)
			}
		})
	}
}

// edges are argument values where comparisons go wrong: the ends, the sign
// bits of both halves, values equal in one half only, and a negative int32
// zero- and sign-extended.
var edges = []uint64{
	0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
	0x1_00000000, 0x1_00000001, 0x1_ffffffff, 0x2_00000000,
	0x7fffffff_ffffffff, 0x80000000_00000000, 0xffffffff_00000000,
	0xffffffff_fffffffe, 0xffffffff_ffffffff,
}

var ops = []specs.LinuxSeccompOperator{
	specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
	specs.OpGreaterEqual, specs.OpGreaterThan,
}

// Every operator, on every pair of edge values, on a 64-bit and a 32-bit
// architecture, and on an argument other than the first.
func TestOperators(t *testing.T) {
	t.Parallel()
	for _, a := range []*arch{archX86_64, archX86, archX32} {
		for _, op := range ops {
			for _, v := range edges {
				checkOp(t, a, specs.LinuxSeccompArg{Index: 3, Op: op, Value: v})
			}
		}
		for _, mask := range edges {
			for _, datum := range edges {
				checkOp(t, a, specs.LinuxSeccompArg{Index: 5, Op: specs.OpMaskedEqual, Value: mask, ValueTwo: datum})
			}
		}
	}
}

func checkOp(t *testing.T, a *arch, arg specs.LinuxSeccompArg) {
	t.Helper()
	c := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno,
			ErrnoRet: uptr(7), Args: []specs.LinuxSeccompArg{arg}}},
	}
	v := newVM(t, mustCompile(t, c))
	for _, x := range edges {
		d := data{nr: nr(t, a, "mkdir"), arch: a.audit}
		d.args[arg.Index] = x
		d.args[(arg.Index+1)%6] = ^x // another argument must not matter
		want := uint32(retAllow)
		if holds(arg.Op, x, arg.Value, arg.ValueTwo, a.bits32) {
			want = errnoRet(7)
		}
		if got := v.run(d); got != want {
			t.Errorf("%s: arg %#x %s %#x (%#x): got %#x, want %#x", a.name, x, arg.Op, arg.Value, arg.ValueTwo, got, want)
		}
	}
}

// The examples the package comment promises, spelt out.
func TestRules(t *testing.T) {
	t.Parallel()
	eq := func(i uint, v uint64) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: i, Value: v, Op: specs.OpEqualTo}
	}
	allow := func(name string, args ...specs.LinuxSeccompArg) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: []string{name}, Action: specs.ActAllow, Args: args}
	}
	errno := func(e uint, name string, args ...specs.LinuxSeccompArg) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: []string{name}, Action: specs.ActErrno, ErrnoRet: uptr(e), Args: args}
	}
	type probe struct {
		args []uint64
		want uint32
	}
	for _, tc := range []struct {
		name   string
		def    specs.LinuxSeccompAction
		rules  []specs.LinuxSyscall
		probes []probe
	}{
		{"rulesOred", specs.ActErrno,
			[]specs.LinuxSyscall{allow("personality", eq(0, 0)), allow("personality", eq(0, 8)), allow("personality", eq(0, 0xffffffff))},
			[]probe{{[]uint64{0}, retAllow}, {[]uint64{8}, retAllow}, {[]uint64{0xffffffff}, retAllow},
				{[]uint64{1}, errnoRet(1)}, {[]uint64{0xffffffff_ffffffff}, errnoRet(1)}, {[]uint64{0x1_00000000}, errnoRet(1)},
				{[]uint64{0x1_00000008}, errnoRet(1)}}},
		{"argsAnded", specs.ActAllow,
			[]specs.LinuxSyscall{errno(9, "mkdir", eq(0, 1), specs.LinuxSeccompArg{Index: 1, Value: 5, Op: specs.OpGreaterThan})},
			[]probe{{[]uint64{1, 6}, errnoRet(9)}, {[]uint64{1, 5}, retAllow}, {[]uint64{2, 6}, retAllow}}},
		// As runc: several conditions on one argument are ORed, each
		// condition of the rule becoming a rule of its own.
		{"sameArgTwiceOred", specs.ActAllow,
			[]specs.LinuxSyscall{errno(9, "mkdir", eq(0, 10), eq(0, 20), eq(1, 7))},
			[]probe{{[]uint64{10}, errnoRet(9)}, {[]uint64{20}, errnoRet(9)}, {[]uint64{3, 7}, errnoRet(9)}, {[]uint64{3, 8}, retAllow}}},
		{"restrictiveWins", specs.ActLog,
			[]specs.LinuxSyscall{allow("mkdir"), errno(5, "mkdir", eq(0, 5))},
			[]probe{{[]uint64{5}, errnoRet(5)}, {[]uint64{6}, retAllow}}},
		{"restrictiveWinsWhateverTheOrder", specs.ActLog,
			[]specs.LinuxSyscall{errno(5, "mkdir", eq(0, 5)), allow("mkdir")},
			[]probe{{[]uint64{5}, errnoRet(5)}, {[]uint64{6}, retAllow}}},
		{"firstOfEqualActionsWins", specs.ActAllow,
			[]specs.LinuxSyscall{errno(1, "mkdir", eq(0, 1)), errno(2, "mkdir")},
			[]probe{{[]uint64{1}, errnoRet(1)}, {[]uint64{3}, errnoRet(2)}}},
		{"ruleLikeDefaultDropped", specs.ActErrno,
			[]specs.LinuxSyscall{allow("mkdir"), errno(1, "mkdir")},
			[]probe{{[]uint64{0}, retAllow}}},
		{"noConditionHoldsGivesDefault", specs.ActErrno,
			[]specs.LinuxSyscall{allow("mkdir", eq(0, 1)), allow("mkdir", eq(1, 2))},
			[]probe{{[]uint64{1, 0}, retAllow}, {[]uint64{0, 2}, retAllow}, {[]uint64{2, 1}, errnoRet(1)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVM(t, mustCompile(t, &specs.LinuxSeccomp{DefaultAction: tc.def, Syscalls: tc.rules}))
			for _, p := range tc.probes {
				name := tc.rules[0].Names[0]
				if got := v.run(x64(t, name, p.args...)); got != p.want {
					t.Errorf("%s%#x: got %#x, want %#x", name, p.args, got, p.want)
				}
			}
			if got, want := v.run(x64(t, "getpid")), refRet(tc.def, nil); got != want {
				t.Errorf("getpid: got %#x, want the default %#x", got, want)
			}
		})
	}
}

// The attacks on the architecture check: another audit architecture, i386
// syscalls, x32 numbers on x86_64.
func TestArchitectures(t *testing.T) {
	t.Parallel()
	denyMkdir := func(archs ...specs.Arch) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: archs,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno}}}
	}
	allowRead := func(archs ...specs.Arch) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: archs,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"read", "set_mempolicy_home_node"}, Action: specs.ActAllow}}}
	}
	eperm := errnoRet(unix.EPERM)
	x32 := func(n uint32) data { return data{nr: 0x40000000 | n, arch: auditArchX86_64} }
	for _, tc := range []struct {
		name string
		c    *specs.LinuxSeccomp
		d    data
		want uint32
	}{
		{"nativeDenied", denyMkdir(), x64(t, "mkdir"), eperm},
		{"nativeOther", denyMkdir(), x64(t, "rmdir"), retAllow},
		{"foreignAuditArch", denyMkdir(), data{nr: 34, arch: auditArchAArch64}, retKillThread},
		{"foreignListedStillBad", denyMkdir(specs.ArchAARCH64), data{nr: 34, arch: auditArchAArch64}, retKillThread},
		{"i386NotListed", denyMkdir(), data{nr: 39, arch: auditArchI386}, retKillThread},
		{"i386NotListedAllowList", allowRead(), data{nr: 3, arch: auditArchI386}, retKillThread},
		{"i386Mkdir", denyMkdir(specs.ArchX86), data{nr: nr(t, archX86, "mkdir"), arch: auditArchI386}, eperm},
		// 83 is mkdir on x86_64 but symlink on i386.
		{"i386OwnNumbers", denyMkdir(specs.ArchX86), data{nr: 83, arch: auditArchI386}, retAllow},
		{"i386HugeNr", allowRead(specs.ArchX86), data{nr: 0xffffffff, arch: auditArchI386}, errnoRet(unix.ENOSYS)},
		{"x32BitNotListed", denyMkdir(), x32(83), retKillThread},
		{"x32BitNotListedAllowList", allowRead(), x32(0), retKillThread},
		{"minusOneNotListed", denyMkdir(), data{nr: 0xffffffff, arch: auditArchX86_64}, retKillThread},
		{"x32Mkdir", denyMkdir(specs.ArchX32), x32(83), eperm},
		{"x32Read", allowRead(specs.ArchX32), x32(0), retAllow},
		{"x32NotInTable", allowRead(specs.ArchX32), x32(59), eperm},
		{"x32NegativeNr", allowRead(specs.ArchX32), data{nr: 0xffffffff, arch: auditArchX86_64}, errnoRet(unix.ENOSYS)},
		{"allListed", denyMkdir(specs.ArchX86_64, specs.ArchX86, specs.ArchX32), x32(nr(t, archX32, "mkdirat") &^ 0x40000000), eperm},
		{"gapNumber", allowRead(), data{nr: 400, arch: auditArchX86_64}, eperm},
		{"justBelowX32", allowRead(), data{nr: 0x3fffffff, arch: auditArchX86_64}, errnoRet(unix.ENOSYS)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := newVM(t, mustCompile(t, tc.c)).run(tc.d); got != tc.want {
				t.Errorf("nr %#x arch %#x: got %#x, want %#x", tc.d.nr, tc.d.arch, got, tc.want)
			}
		})
	}
}

// Syscalls numbered above every one the profile names get ENOSYS when the
// default action denies, as with runc's stub.
func TestEnosysStub(t *testing.T) {
	t.Parallel()
	profile := func(def specs.LinuxSeccompAction, act specs.LinuxSeccompAction, names ...string) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: def, Architectures: []specs.Arch{specs.ArchX86, specs.ArchX32},
			Syscalls: []specs.LinuxSyscall{{Names: names, Action: act}}}
	}
	eperm, enosys := errnoRet(unix.EPERM), errnoRet(unix.ENOSYS)
	allowList := profile(specs.ActErrno, specs.ActAllow, "read", "mkdir")
	x32 := func(n uint32) data { return data{nr: x32Bit | n, arch: auditArchX86_64} }
	i386 := func(n uint32) data { return data{nr: n, arch: auditArchI386} }
	for _, tc := range []struct {
		name string
		c    *specs.LinuxSeccomp
		d    data
		want uint32
	}{
		{"belowMax", allowList, data{nr: 50, arch: auditArchX86_64}, eperm},
		{"max", allowList, x64(t, "mkdir"), retAllow},
		{"aboveMax", allowList, data{nr: 84, arch: auditArchX86_64}, enosys},
		{"belowX32Bit", allowList, data{nr: x32Bit - 1, arch: auditArchX86_64}, enosys},
		{"i386Max", allowList, i386(39), retAllow},
		{"i386AboveMax", allowList, i386(40), enosys},
		{"x32AboveMax", allowList, x32(84), enosys},
		{"x32Top", allowList, x32(0x3fffffff), enosys},
		{"killDefault", profile(specs.ActKillProcess, specs.ActAllow, "mkdir"), data{nr: 84, arch: auditArchX86_64}, enosys},
		{"allowDefault", profile(specs.ActAllow, specs.ActErrno, "mkdir"), data{nr: 84, arch: auditArchX86_64}, retAllow},
		{"logDefault", profile(specs.ActLog, specs.ActErrno, "mkdir"), data{nr: 84, arch: auditArchX86_64}, retLog},
		// As in runc, a profile whose highest syscall is number 0 gets no stub.
		{"onlyNumberZero", profile(specs.ActErrno, specs.ActAllow, "read"), data{nr: 84, arch: auditArchX86_64}, eperm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := newVM(t, mustCompile(t, tc.c)).run(tc.d); got != tc.want {
				t.Errorf("nr %#x arch %#x: got %#x, want %#x", tc.d.nr, tc.d.arch, got, tc.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	base := func(edit func(c *specs.LinuxSeccomp)) *specs.LinuxSeccomp {
		c := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}}}
		edit(c)
		return c
	}
	for _, tc := range []struct {
		name string
		c    *specs.LinuxSeccomp
		want []string // the message must mention each
	}{
		{"nil", nil, []string{"no config"}},
		{"defaultAction", base(func(c *specs.LinuxSeccomp) { c.DefaultAction = "SCMP_ACT_BOGUS" }), []string{"defaultAction", "SCMP_ACT_BOGUS"}},
		{"emptyDefaultAction", base(func(c *specs.LinuxSeccomp) { c.DefaultAction = "" }), []string{"defaultAction"}},
		{"action", base(func(c *specs.LinuxSeccomp) { c.Syscalls[0].Action = "SCMP_ACT_NOPE" }), []string{"syscalls[0].action", "SCMP_ACT_NOPE"}},
		{"operator", base(func(c *specs.LinuxSeccomp) {
			c.Syscalls[0].Args = []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_XOR"}}
		}), []string{"syscalls[0].args[0].op", "SCMP_CMP_XOR"}},
		{"argIndex", base(func(c *specs.LinuxSeccomp) {
			c.Syscalls[0].Args = []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}
		}), []string{"syscalls[0].args[0].index", "6"}},
		{"arch", base(func(c *specs.LinuxSeccomp) { c.Architectures = []specs.Arch{specs.ArchX86, "SCMP_ARCH_VAX"} }), []string{"architectures[1]", "SCMP_ARCH_VAX"}},
		{"flag", base(func(c *specs.LinuxSeccomp) { c.Flags = []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FAST"} }), []string{"flags[0]", "SECCOMP_FILTER_FLAG_FAST"}},
		{"errnoOnAllow", base(func(c *specs.LinuxSeccomp) {
			c.Syscalls[0].Action, c.Syscalls[0].ErrnoRet = specs.ActAllow, uptr(1)
		}), []string{"syscalls[0].errnoRet", "SCMP_ACT_ALLOW"}},
		{"defaultErrnoOnKill", base(func(c *specs.LinuxSeccomp) {
			c.DefaultAction, c.DefaultErrnoRet = specs.ActKill, uptr(1)
		}), []string{"defaultErrnoRet", "SCMP_ACT_KILL"}},
		{"errnoTooLarge", base(func(c *specs.LinuxSeccomp) { c.Syscalls[0].ErrnoRet = uptr(70000) }), []string{"syscalls[0].errnoRet", "70000"}},
		{"noNames", base(func(c *specs.LinuxSeccomp) { c.Syscalls[0].Names = nil }), []string{"syscalls[0].names"}},
		{"notifyDefault", base(func(c *specs.LinuxSeccomp) { c.DefaultAction = specs.ActNotify }), []string{"defaultAction", "SCMP_ACT_NOTIFY"}},
		{"notifyNoListener", base(func(c *specs.LinuxSeccomp) { c.Syscalls[0].Action = specs.ActNotify }), []string{"listenerPath"}},
		{"metadataNoListener", base(func(c *specs.LinuxSeccomp) { c.ListenerMetadata = "x" }), []string{"listenerMetadata"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(tc.c)
			if err == nil {
				t.Fatalf("compiled (%d instructions), want an error", p.Len())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		flags  []specs.LinuxSeccompFlag
		notify bool
		want   uintptr
	}{
		{nil, false, 0},
		{[]specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow}, false,
			unix.SECCOMP_FILTER_FLAG_LOG | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW},
		{[]specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC"}, false, unix.SECCOMP_FILTER_FLAG_TSYNC},
		{nil, true, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER},
		{[]specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC"}, true, unix.SECCOMP_FILTER_FLAG_TSYNC |
			unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH | unix.SECCOMP_FILTER_FLAG_NEW_LISTENER},
		{[]specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}, true,
			unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | unix.SECCOMP_FILTER_FLAG_NEW_LISTENER},
		{[]specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}, false, 0},
	} {
		act := specs.ActErrno
		if tc.notify {
			act = specs.ActNotify
		}
		p := mustCompile(t, &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: tc.flags, ListenerPath: "/s",
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: act}}})
		if p.flags != tc.want || p.notify != tc.notify {
			t.Errorf("flags %v notify %v: got %#x %v, want %#x", tc.flags, tc.notify, p.flags, p.notify, tc.want)
		}
	}
}

func TestUnknownNamesIgnored(t *testing.T) {
	t.Parallel()
	c := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"read", "no_such_syscall", "socketcall", "arm_fadvise64_64"}, Action: specs.ActAllow}}}
	p := mustCompile(t, c)
	if got, want := strings.Join(p.Ignored(), ","), "arm_fadvise64_64,no_such_syscall,socketcall"; got != want {
		t.Errorf("ignored %s, want %s", got, want)
	}
	c.Architectures = []specs.Arch{specs.ArchX86}
	p = mustCompile(t, c)
	if got, want := strings.Join(p.Ignored(), ","), "arm_fadvise64_64,no_such_syscall"; got != want {
		t.Errorf("with x86: ignored %s, want %s", got, want)
	}
	v := newVM(t, p)
	if got := v.run(data{nr: nr(t, archX86, "socketcall"), arch: auditArchI386}); got != retAllow {
		t.Errorf("i386 socketcall: got %#x, want allow", got)
	}
	if got := v.run(x64(t, "read")); got != retAllow {
		t.Errorf("read: got %#x, want allow", got)
	}
}

func TestNotifyOnWriteRefused(t *testing.T) {
	_, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/s",
		Syscalls: []specs.LinuxSyscall{{Names: []string{"write"}, Action: specs.ActNotify}}})
	if err == nil || !strings.Contains(err.Error(), "cannot be used for the write syscall") {
		t.Fatalf("notify on write: %v", err)
	}
}
