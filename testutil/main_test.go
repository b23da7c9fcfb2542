package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestMain(m *testing.M) {
	code := Sandbox(m)
	if os.Geteuid() == 0 && !InSandbox() {
		if err := verifyCleanup(); err != nil {
			fmt.Fprintf(os.Stderr, "testutil: sandbox left something behind: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// leakFile is where TestSandboxLeavesNothing, run in the sandbox, records
// the process it leaves behind for the sandbox parent to kill.
func leakFile(parentPid int) string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("corral-testutil-leak-%d", parentPid))
}

// verifyCleanup runs in the sandbox parent after the tests: the per-run
// cgroups must be gone and the leaked process dead.
func verifyCleanup() error {
	if len(lastRunCgroups) == 0 {
		return fmt.Errorf("no per-run cgroups were recorded")
	}
	for _, dir := range lastRunCgroups {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			return fmt.Errorf("cgroup %s still exists (stat: %v)", dir, err)
		}
	}
	data, err := os.ReadFile(leakFile(os.Getpid()))
	if os.IsNotExist(err) {
		return nil // the leak test did not run
	}
	os.Remove(leakFile(os.Getpid()))
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return fmt.Errorf("read leaked pid: %v", err)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err == nil && !strings.Contains(string(stat), ") Z ") {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		return fmt.Errorf("leaked process %d survived: %s", pid, stat)
	}
	fmt.Fprintf(os.Stderr, "testutil: %d cgroups removed, leaked process %d killed\n", len(lastRunCgroups), pid)
	return nil
}
