package seccomp

import (
	"testing"

	"golang.org/x/sys/unix"
)

// The generated tables are sorted and unique (lookup is a binary search) and
// agree with x/sys and with numbers known by heart.
func TestTables(t *testing.T) {
	t.Parallel()
	for _, a := range []*arch{archX86_64, archX86, archX32} {
		if len(a.table) < 300 {
			t.Errorf("%s: only %d syscalls", a.name, len(a.table))
		}
		for i := 1; i < len(a.table); i++ {
			if a.table[i-1].name >= a.table[i].name {
				t.Errorf("%s: %q before %q", a.name, a.table[i-1].name, a.table[i].name)
			}
		}
		for _, e := range a.table {
			if (e.nr&x32Bit != 0) != a.x32 {
				t.Errorf("%s: %s is %#x", a.name, e.name, e.nr)
			}
		}
	}
	for _, tc := range []struct {
		a    *arch
		name string
		nr   uint32
	}{
		{archX86_64, "read", unix.SYS_READ}, {archX86_64, "mkdir", unix.SYS_MKDIR},
		{archX86_64, "mkdirat", unix.SYS_MKDIRAT}, {archX86_64, "clone3", unix.SYS_CLONE3},
		{archX86_64, "seccomp", unix.SYS_SECCOMP}, {archX86_64, "fchmodat2", 452},
		{archX86_64, "_sysctl", 156},
		{archX86, "read", 3}, {archX86, "mkdir", 39}, {archX86, "socketcall", 102}, {archX86, "clone3", 435},
		{archX32, "read", x32Bit}, {archX32, "mkdir", x32Bit | 83}, {archX32, "rt_sigaction", x32Bit | 512},
		{archX32, "execve", x32Bit | 520}, {archX32, "fchmodat2", x32Bit | 452},
	} {
		if got, ok := tc.a.table.lookup(tc.name); !ok || got != tc.nr {
			t.Errorf("%s %s: %#x %v, want %#x", tc.a.name, tc.name, got, ok, tc.nr)
		}
	}
	if _, ok := archX86_64.table.lookup("socketcall"); ok {
		t.Error("x86_64 has socketcall")
	}
}
