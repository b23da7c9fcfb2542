package network

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

const crashDirEnv = "CORRAL_NETWORK_CRASH_DIR"

// TestHelperChurn is not a test: run by TestKilledMidway with crashDirEnv
// set, it allocates and releases endpoints and makes networks until
// killed.
func TestHelperChurn(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process only")
	}
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("churn"); err != nil {
		if _, err := s.Create(CreateOptions{Name: "churn", Subnet: netip.MustParsePrefix("10.3.0.0/16")}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; ; i++ {
		id := fmt.Sprintf("c%d-%d", os.Getpid(), i)
		if _, _, err := s.Allocate("churn", EndpointOptions{Container: id}); err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			if _, _, err := s.Release("churn", fmt.Sprintf("c%d-%d", os.Getpid(), i-1)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// A store killed with SIGKILL mid-write opens again with every record
// whole, no address given to two endpoints, and no temporary file left.
func TestKilledMidway(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "networks")
	for round := 0; round < 4; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperChurn$")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(100+50*round) * time.Millisecond)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		s, err := Open(dir, nil)
		if err != nil {
			t.Fatalf("round %d: open after kill: %v", round, err)
		}
		n, err := s.Get("churn")
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		seen := map[netip.Addr]string{}
		for id, ep := range n.Endpoints {
			if other, dup := seen[ep.IP]; dup {
				t.Fatalf("round %d: %s given to %s and %s", round, ep.IP, id, other)
			}
			seen[ep.IP] = id
		}
		if m, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(m) > 0 {
			t.Fatalf("round %d: left %v", round, m)
		}
		t.Logf("round %d: %d endpoints survive", round, len(n.Endpoints))
	}
}
