package corral_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
)

// A rule says which of the module's packages a package may import, and for
// the packages that run inside a container's namespaces also which external
// ones. Paths are relative to the module root. A pattern is an exact path,
// "p/*" for every package strictly below p, "p/..." for p and below, or "*"
// for anything.
type rule struct {
	pkg      string   // the importing package(s), as a pattern
	internal []string // module packages it may import
	// external lists the non-standard-library modules/packages it may
	// import, as patterns; nil means any.
	external []string
}

// leaf is what every package may use: plumbing under internal/ and, except
// where a rule says otherwise, the error classes.
var leaf = []string{"internal/*", "errdefs"}

// rules encodes "Dependency direction" of DESIGN.md; docs/ARCHITECTURE.md
// draws it. The first rule whose pkg matches applies. A package with no rule
// may import only leaf and its own subpackages.
var rules = []rule{
	// corral-init runs inside containers: static, the standard library only.
	{pkg: "cmd/corral-init", internal: []string{"initproc"}, external: []string{}},
	{pkg: "initproc", internal: []string{}, external: []string{}},
	{pkg: "cmd/...", internal: []string{"*"}},
	{pkg: "testutil/...", internal: []string{"*"}},
	{pkg: "test/e2e/...", internal: with("client/...", "api/...", "testutil/...", "test/e2e/*")},
	{pkg: "test/oci/...", internal: with("testutil/...", "test/oci/*")},
	{pkg: "cli/...", internal: with("client/...", "api/...", "archive/...", "cli/*")},
	{pkg: "client/...", internal: with("api/...", "client/*")},
	{pkg: "api/...", internal: []string{"api/*"}},
	{pkg: "apiserver/...", internal: with("api/...", "daemon/...", "apiserver/*")},
	{pkg: "daemon/...", internal: with("daemon/*", "api/...", "container/...", "image/...",
		"content/...", "snapshot/...", "archive/...", "registry/...", "build/...",
		"volume/...", "network/...", "secret/...", "spec/...", "monitor/...",
		"health/...")},
	{pkg: "build/...", internal: with("api/...", "image/...", "archive/...", "build/*")},
	{pkg: "image/...", internal: with("content/...", "snapshot/...", "archive/...",
		"registry/...", "image/*")},
	{pkg: "monitor/...", internal: with("runtime", "monitor/*")},
	// The image domain's building blocks: each may use only its own
	// contract package (content/contenttest → content, snapshot/overlay →
	// snapshot).
	{pkg: "content/...", internal: with("content", "content/*")},
	{pkg: "snapshot/...", internal: with("snapshot", "snapshot/*")},
	{pkg: "registry/...", internal: with("registry", "registry/*")},
	// Inside the namespaces: the standard library and a few small modules.
	{pkg: "runtime/nsinit/...", internal: []string{"runtime/nsinit/*", "runtime/seccomp"}, external: []string{
		"golang.org/x/sys/...",
		"github.com/opencontainers/runtime-spec/...",
		"github.com/cyphar/filepath-securejoin/...",
		"github.com/moby/sys/capability",
	}},
	{pkg: "runtime/nsenter", internal: []string{}, external: []string{"golang.org/x/sys/..."}},
	{pkg: "runtime/seccomp", internal: []string{}, external: []string{
		"golang.org/x/sys/...", "github.com/opencontainers/runtime-spec/...",
	}},
	// Networking talks to the kernel itself (netlink, nftables); of
	// Docker's API it may use only the wire types of ports and networks.
	// The embedded DNS (network/resolver) speaks DNS with miekg/dns.
	{pkg: "network/...", internal: with("network", "network/*"), external: []string{
		"github.com/miekg/dns",
		"golang.org/x/sys/...",
		"github.com/google/nftables/...",
		"github.com/mdlayher/netlink/...",
		"github.com/vishvananda/netlink/...",
		"github.com/vishvananda/netns",
		"github.com/moby/moby/api/types/network",
	}},
	{pkg: "runtime/runcli/...", internal: with("runtime", "runtime/*")},
	{pkg: "runtime/...", internal: with("runtime/*")},
	{pkg: "internal/...", internal: []string{"internal/*"}},
	{pkg: "errdefs", internal: []string{}},
}

func with(patterns ...string) []string {
	return append(patterns, leaf...)
}

// match reports whether path (relative to the module root) matches pattern.
func match(pattern, path string) bool {
	switch {
	case pattern == "*":
		return true
	case strings.HasSuffix(pattern, "/..."):
		base := strings.TrimSuffix(pattern, "/...")
		return path == base || strings.HasPrefix(path, base+"/")
	case strings.HasSuffix(pattern, "/*"):
		return strings.HasPrefix(path, strings.TrimSuffix(pattern, "*"))
	}
	return pattern == path
}

func matchAny(patterns []string, path string) bool {
	for _, p := range patterns {
		if match(p, path) {
			return true
		}
	}
	return false
}

// ruleFor returns the rule for the module package at path.
func ruleFor(path string) rule {
	for _, r := range rules {
		if match(r.pkg, path) {
			return r
		}
	}
	return rule{pkg: path, internal: with(path + "/*")}
}

// checkImport says why the import of imp by pkg is not allowed, or "".
// Both are relative to the module root; external imports pass external=true
// and their full path.
func checkImport(pkg, imp string, external bool) string {
	r := ruleFor(pkg)
	if external {
		if r.external == nil || matchAny(r.external, imp) {
			return ""
		}
		return fmt.Sprintf("%s may import only the standard library and %s, not %s",
			pkg, strings.Join(r.external, ", "), imp)
	}
	if matchAny(r.internal, imp) {
		return ""
	}
	return fmt.Sprintf("%s → %s is not an allowed edge (rule %q allows %v)",
		pkg, imp, r.pkg, r.internal)
}

func TestRules(t *testing.T) {
	tests := []struct {
		pkg, imp string
		external bool
		ok       bool
	}{
		{"cmd/corral", "runtime/runcli", false, true},
		{"runtime", "runtime/nsinit", false, true},
		{"runtime", "daemon", false, false},
		{"runtime/runcli", "runtime", false, true},
		{"runtime/runcli", "runtime/cgroups", false, true},
		{"runtime/cgroups", "runtime", false, false},
		{"runtime/nsinit", "runtime", false, false},
		{"runtime/nsinit", "internal/atomicfile", false, false},
		{"runtime/nsinit", "golang.org/x/sys/unix", true, true},
		{"runtime/nsinit", "github.com/spf13/cobra", true, false},
		{"network/nat", "github.com/google/nftables/expr", true, true},
		{"network/nat", "github.com/moby/moby/api/types/network", true, true},
		{"network/nat", "github.com/moby/moby/api/types/container", true, false},
		{"network/nat", "daemon", false, false},
		{"network/nat", "errdefs", false, true},
		{"runtime/nsenter", "runtime/nsinit", false, false},
		{"runtime/cgroups", "github.com/moby/sys/mountinfo", true, true},
		{"test/oci", "testutil", false, true},
		{"test/oci", "runtime", false, false},
		{"test/e2e", "daemon", false, false},
		{"cli", "client", false, true},
		{"cli", "daemon", false, false},
		{"apiserver", "daemon", false, true},
		{"image", "snapshot/overlay", false, true},
		{"monitor", "runtime", false, true},
		{"monitor", "runtime/nsinit", false, false},
		{"snapshot/overlay", "snapshot/overlay/internal", false, true},
		{"snapshot/overlay", "image", false, false},
		{"snapshot/overlay", "snapshot", false, true},
		{"content/contenttest", "content", false, true},
		{"content", "snapshot", false, false},
		{"registry/registrytest", "registry", false, true},
		{"archive", "content", false, false},
		{"volume", "errdefs", false, true},
		{"internal/atomicfile", "errdefs", false, false},
		{"errdefs", "internal/x", false, false},
	}
	for _, tt := range tests {
		why := checkImport(tt.pkg, tt.imp, tt.external)
		if (why == "") != tt.ok {
			t.Errorf("checkImport(%q, %q, %v) = %q, want ok=%v", tt.pkg, tt.imp, tt.external, why, tt.ok)
		}
	}
}

// pkg is the part of `go list -json` output these tests read.
type pkg struct {
	ImportPath   string
	Name         string
	Doc          string
	Standard     bool
	DepOnly      bool
	GoFiles      []string
	CgoFiles     []string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Module       *struct {
		Path string
		Main bool
	}
	Error *struct{ Err string }
}

var (
	loadOnce sync.Once
	loaded   []pkg
	loadErr  error
)

// listPackages runs `go list -e -deps -json ./...` once, with cgo on so
// that runtime/nsenter's files count whatever the caller's environment says.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	loadOnce.Do(func() {
		cmd := exec.Command("go", "list", "-e", "-deps", "-json", "./...")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			loadErr = fmt.Errorf("go list: %w: %s", err, stderr.String())
			return
		}
		loaded, loadErr = decodePackages(out)
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return loaded
}

func decodePackages(out []byte) ([]pkg, error) {
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			return pkgs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decode go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
}

// ownPackages returns the module's own packages (not dependencies) and the
// module path; it fails the test for every package go list could not load.
func ownPackages(t *testing.T) (string, []pkg) {
	t.Helper()
	var mod string
	var own []pkg
	for _, p := range listPackages(t) {
		if p.Module == nil || !p.Module.Main || p.DepOnly {
			continue
		}
		mod = p.Module.Path
		if p.Error != nil {
			t.Errorf("package %s does not load (does it compile yet?): %s", p.ImportPath, p.Error.Err)
		}
		own = append(own, p)
	}
	if mod == "" {
		t.Fatal("go list found no package of the main module")
	}
	return mod, own
}

// isStandard reports whether the import path names a standard package.
func isStandard(std map[string]bool, path string) bool {
	return path == "C" || std[path] || !strings.Contains(strings.SplitN(path, "/", 2)[0], ".")
}

// TestDependencyDirection fails on every import edge among the module's
// packages that the rules above do not allow. Test-only packages (test/oci)
// are judged by their test imports; other packages by their build imports.
func TestDependencyDirection(t *testing.T) {
	std := map[string]bool{}
	for _, p := range listPackages(t) {
		std[p.ImportPath] = p.Standard
	}
	mod, own := ownPackages(t)
	var bad []string
	for _, p := range own {
		from := rel(mod, p.ImportPath)
		imports := p.Imports
		if len(p.GoFiles)+len(p.CgoFiles) == 0 {
			imports = append(append([]string{}, p.TestImports...), p.XTestImports...)
		}
		for _, imp := range imports {
			var why string
			switch {
			case imp == mod || strings.HasPrefix(imp, mod+"/"):
				why = checkImport(from, rel(mod, imp), false)
			case !isStandard(std, imp):
				why = checkImport(from, imp, true)
			}
			if why != "" {
				bad = append(bad, why)
			}
		}
	}
	sort.Strings(bad)
	for _, why := range dedupe(bad) {
		t.Error(why)
	}
	if len(bad) > 0 {
		t.Log("change the code, or the rules in depgraph_test.go together with DESIGN.md and docs/ARCHITECTURE.md")
	}
}

// banned lists outside packages no package of the module may import
// (tests excepted), by importing package pattern ("*": every package).
var banned = []struct {
	pkg, imp, why string
}{
	{"*", "github.com/distribution/reference",
		"its init compiles a dozen regexps (~0.5 ms) in every process; use internal/reference"},
	{"internal/reference", "regexp", "it scans by hand so that it has no init work"},
}

// TestBannedImports fails for every build import that banned forbids.
func TestBannedImports(t *testing.T) {
	mod, own := ownPackages(t)
	for _, p := range own {
		from := rel(mod, p.ImportPath)
		for _, imp := range p.Imports {
			for _, b := range banned {
				if match(b.pkg, from) && imp == b.imp {
					t.Errorf("%s imports %s: %s", from, imp, b.why)
				}
			}
		}
	}
}

// TestPackageComments fails for every package without a package comment;
// library packages need one that starts "Package <name> ".
func TestPackageComments(t *testing.T) {
	_, own := ownPackages(t)
	for _, p := range own {
		if len(p.GoFiles)+len(p.CgoFiles) == 0 {
			continue // test-only (this root, test/oci): go list reports no Doc
		}
		switch {
		case p.Doc == "":
			t.Errorf("package %s has no package comment (// Package %s ...)", p.ImportPath, p.Name)
		case p.Name != "main" && !strings.HasPrefix(p.Doc, "Package "+p.Name+" "):
			t.Errorf("package comment of %s should start %q, not %q", p.ImportPath, "Package "+p.Name+" ", p.Doc)
		}
	}
}

func rel(mod, path string) string {
	if path == mod {
		return "."
	}
	return strings.TrimPrefix(path, mod+"/")
}

func dedupe(sorted []string) []string {
	var out []string
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}
