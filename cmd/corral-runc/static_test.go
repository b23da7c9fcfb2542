package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoNSS keeps corral-runc, which is linked statically (static.go), off
// the packages that call the C library's NSS: with a static glibc those
// calls need shared modules it may crash loading.
func TestNoNSS(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "os/user" || pkg == "archive/tar" {
			t.Errorf("corral-runc imports %s, whose cgo lookups a static binary cannot make", pkg)
		}
	}
}
