package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// build holds the binaries built once per test process, in one temporary
// directory that Sandbox removes after the tests.
var build struct {
	dirOnce sync.Once
	dir     string
	dirErr  error

	corralOnce sync.Once
	corral     string
	corralErr  error

	progOnce sync.Once
	prog     string
	progErr  error

	engineOnce sync.Once
	engineErr  error
}

// CorralBuildFlags are go build's flags for cmd/corral and cmd/corrald, the same as
// CORRAL_BUILD_FLAGS in scripts/lib.sh (cmd/corral's tests compare them): a
// static binary with the pure Go user and name lookups.
var CorralBuildFlags = []string{"-tags", "osusergo,netgo", "-ldflags=-extldflags=-static"}

// CorralBinary returns the path of the corral binary: $CORRAL_BINARY when
// set (with corrald beside it), otherwise ./cmd/corral built once per test
// process (with cgo and CorralBuildFlags), and ./cmd/corrald beside it.
func CorralBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CORRAL_BINARY"); p != "" {
		return p
	}
	build.corralOnce.Do(func() {
		// corral hands daemon, runtime and init over to corrald beside it.
		if _, build.corralErr = buildPackage("./cmd/corrald", "corrald", true, CorralBuildFlags...); build.corralErr == nil {
			build.corral, build.corralErr = buildPackage("./cmd/corral", "corral", true, CorralBuildFlags...)
		}
	})
	if build.corralErr != nil {
		t.Fatalf("build corral: %v", build.corralErr)
	}
	return build.corral
}

// EngineBinary returns the corral binary of CorralBinary with corral-runc
// and corral-monitor beside it, as scripts/install.sh installs them: the
// engine's monitors are corral-monitor (C, cmd/corral-monitor/build.sh)
// and they run corral-runc. With $CORRAL_BINARY set, that binary is
// returned as it is, with whatever is beside it.
func EngineBinary(t testing.TB) string {
	t.Helper()
	bin := CorralBinary(t)
	if os.Getenv("CORRAL_BINARY") == "" {
		MonitorBinary(t)
	}
	return bin
}

// MonitorBinary returns corral-monitor built once per test process, with
// corral-runc beside it, in the directory where CorralBinary builds corral.
func MonitorBinary(t testing.TB) string {
	t.Helper()
	build.engineOnce.Do(func() {
		_, build.engineErr = buildPackage("./cmd/corral-runc", "corral-runc", true)
		if build.engineErr == nil {
			build.engineErr = buildMonitor()
		}
	})
	if build.engineErr != nil {
		t.Fatalf("build the engine's programs: %v", build.engineErr)
	}
	return filepath.Join(build.dir, "corral-monitor")
}

// buildMonitor builds corral-monitor into the shared build directory.
func buildMonitor() error {
	dir, err := buildDir()
	if err != nil {
		return err
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command("bash", "cmd/corral-monitor/build.sh", filepath.Join(dir, "corral-monitor"))
	cmd.Dir = root
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build corral-monitor: %w\n%s", err, output)
	}
	return nil
}

// TestProgram returns the path of the static test program (testutil/testprog,
// built once per test process with CGO_ENABLED=0). Its subcommands: info,
// fds, sleep N, exit N, pause, write PATH TEXT, mknod PATH.
func TestProgram(t testing.TB) string {
	t.Helper()
	build.progOnce.Do(func() {
		build.prog, build.progErr = buildPackage("./testutil/testprog", "testprog", false)
	})
	if build.progErr != nil {
		t.Fatalf("build test program: %v", build.progErr)
	}
	return build.prog
}

// buildPackage runs go build with flags on pkg, relative to the module
// root, into the shared build directory.
func buildPackage(pkg, name string, cgo bool, flags ...string) (string, error) {
	dir, err := buildDir()
	if err != nil {
		return "", err
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, name)
	args := append(append([]string{"build", "-trimpath"}, flags...), "-o", out, pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cgoEnabled := "CGO_ENABLED=0"
	if cgo {
		cgoEnabled = "CGO_ENABLED=1"
	}
	cmd.Env = append(os.Environ(), cgoEnabled)
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, output)
	}
	return out, nil
}

// buildDir creates the directory for the binaries: in the sandbox on its
// tmpfs, which cannot outlive the run, elsewhere in $TMPDIR.
func buildDir() (string, error) {
	build.dirOnce.Do(func() {
		base := ""
		if InSandbox() {
			base = sandboxTmpfs[len(sandboxTmpfs)-1].path
		}
		build.dir, build.dirErr = os.MkdirTemp(base, "corral-testbin-")
		if build.dirErr == nil {
			// Readable by the users that containers in tests run as.
			build.dirErr = os.Chmod(build.dir, 0o755)
		}
	})
	return build.dir, build.dirErr
}

// removeBuildDir removes the binaries built by this process, if any.
func removeBuildDir() {
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
}

// moduleRoot returns the directory of corral's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("find module root: not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}
