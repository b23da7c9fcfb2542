package e2e_test

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// stopRootDaemon stops, when the test ends, the daemon that `corral
// --data-root ROOT` starts on first use (on ROOT/corral.sock), and waits
// until it is gone. The daemon is found by its command line, not its pid
// file, which a test's tmpfs on ROOT may have taken away with it.
func stopRootDaemon(t *testing.T, root string) {
	t.Cleanup(func() {
		for _, pid := range rootDaemons(root) {
			_ = syscall.Kill(pid, syscall.SIGTERM)
			deadline := time.Now().Add(20 * time.Second)
			for running(pid) {
				if time.Now().After(deadline) {
					_ = syscall.Kill(pid, syscall.SIGKILL)
					t.Errorf("daemon %d of %s did not stop on SIGTERM", pid, root)
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	})
}

// rootDaemons are the pids of `corral daemon ... --data-root root ...`.
func rootDaemons(root string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0})
		if len(args) < 2 || string(args[1]) != "daemon" {
			continue
		}
		for i := 2; i+1 < len(args); i++ {
			if string(args[i]) == "--data-root" && string(args[i+1]) == root && running(pid) {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// running reports whether pid is alive and not a zombie waiting for the
// sandbox's reaper.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	i := bytes.LastIndexByte(b, ')')
	return err == nil && i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}
