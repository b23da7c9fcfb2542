package testutil

import (
	"debug/elf"
	"testing"
)

// RequireStatic fails t unless the ELF executable at path is statically
// linked: no program interpreter (PT_INTERP, the dynamic loader each start
// would run) and no dynamic section. It returns the opened file for further
// checks; it is closed when t ends.
func RequireStatic(t testing.TB, path string) *elf.File {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { f.Close() })
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s is dynamically linked (program header %v)", path, p.Type)
		}
	}
	return f
}
