package volume

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// crashDirEnv names the directory the helper process creates and removes
// volumes in until it is killed.
const crashDirEnv = "CORRAL_VOLUME_CRASH_DIR"

// TestHelperChurn is not a test: run by TestKilledMidway with crashDirEnv
// set, it creates and removes volumes without end.
func TestHelperChurn(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process only")
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		name := fmt.Sprintf("v%d", i)
		if _, _, err := s.Create(name, CreateOptions{Labels: map[string]string{"i": name}}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(s.Path(name), "f"), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			if err := s.Remove(fmt.Sprintf("v%d", i-1), false); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// A store killed with SIGKILL at any point opens again with every volume
// whole (record and data directory) and nothing half-made left.
func TestKilledMidway(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "volumes")
	for round := 0; round < 5; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperChurn$")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Let it churn until it made some volumes, then kill it wherever
		// it is.
		deadline := time.Now().Add(10 * time.Second)
		for {
			ents, _ := os.ReadDir(dir)
			if len(ents) > 3*(round+1) || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		s, err := Open(dir)
		if err != nil {
			t.Fatalf("round %d: open after kill: %v", round, err)
		}
		ents, _ := os.ReadDir(dir)
		if len(ents) != len(s.List()) || len(s.Skipped()) != 0 {
			t.Fatalf("round %d: %d directories for %d volumes (skipped %v)", round, len(ents), len(s.List()), s.Skipped())
		}
		for _, v := range s.List() {
			if strings.HasPrefix(v.Name, ".") || v.Labels["i"] != v.Name {
				t.Fatalf("round %d: volume %+v", round, v)
			}
			if st, err := os.Stat(s.Path(v.Name)); err != nil || !st.IsDir() {
				t.Fatalf("round %d: %s has no data directory: %v", round, v.Name, err)
			}
		}
		// Start the next round from scratch names.
		for _, v := range s.List() {
			if err := s.Remove(v.Name, false); err != nil {
				t.Fatal(err)
			}
		}
	}
}
