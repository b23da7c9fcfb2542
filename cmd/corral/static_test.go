package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/corral-dev/corral/testutil"
)

// nssSymbols are the C library's lookups through NSS, which a static glibc
// would make by loading shared modules, crashing if they do not match it.
var nssSymbols = []string{"getpwnam", "getpwuid", "getgrnam", "getgrgid", "getpwnam_r", "getpwuid_r",
	"getgrnam_r", "getgrgid_r", "getgrouplist", "getaddrinfo", "getnameinfo", "gethostbyname"}

// TestBuildFlagsAgree: scripts/lib.sh's CORRAL_BUILD_FLAGS (install.sh and
// test.sh build corral with them) are testutil's CorralBuildFlags.
func TestBuildFlagsAgree(t *testing.T) {
	lib, err := os.ReadFile("../../scripts/lib.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^CORRAL_BUILD_FLAGS=\((.*)\)$`).FindSubmatch(lib)
	if m == nil {
		t.Fatal("scripts/lib.sh sets no CORRAL_BUILD_FLAGS=(...)")
	}
	if got := strings.Fields(string(m[1])); !slices.Equal(got, testutil.CorralBuildFlags) {
		t.Errorf("scripts/lib.sh builds corral with %q, testutil with %q", got, testutil.CorralBuildFlags)
	}
}

// TestStaticBinary builds corral and corrald with CorralBuildFlags (and
// checks $CORRAL_BINARY too when set): no program interpreter, so no
// dynamic loader at each start, and none of the C library's NSS lookups
// linked in.
func TestStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds corral")
	}
	for name, pkg := range map[string]string{"corral": ".", "corrald": "../corrald"} {
		bin := filepath.Join(t.TempDir(), name)
		args := append(append([]string{"build"}, testutil.CorralBuildFlags...), "-o", bin, pkg)
		cmd := exec.Command("go", args...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
		checkStatic(t, bin)
	}
	if p := os.Getenv("CORRAL_BINARY"); p != "" {
		checkStatic(t, p)
		checkStatic(t, filepath.Join(filepath.Dir(p), "corrald"))
	}
}

// TestEngineApart: the command line links none of the engine's packages
// (their start-up would be paid by every command); corrald has them.
func TestEngineApart(t *testing.T) {
	engine := []string{"github.com/corral-dev/corral/daemon", "github.com/corral-dev/corral/runtime/runcli",
		"github.com/corral-dev/corral/build", "github.com/moby/buildkit/frontend/dockerfile/parser"}
	for dir, want := range map[string]bool{".": false, "../corrald": true} {
		out, err := exec.Command("go", "list", "-deps", dir).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", dir, err)
		}
		deps := strings.Fields(string(out))
		for _, pkg := range engine {
			if slices.Contains(deps, pkg) != want {
				t.Errorf("%s imports %s: %v, want %v", dir, pkg, !want, want)
			}
		}
	}
}

func checkStatic(t *testing.T, bin string) {
	t.Helper()
	syms, err := testutil.RequireStatic(t, bin).Symbols()
	if err != nil {
		t.Fatalf("%s: symbols: %v", bin, err)
	}
	for _, s := range syms {
		if slices.Contains(nssSymbols, s.Name) {
			t.Errorf("%s links %s: an NSS lookup a static binary cannot make", bin, s.Name)
		}
	}
}
