package image_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corral-dev/corral/image"
	"github.com/corral-dev/corral/registry"
	"github.com/corral-dev/corral/registry/registrytest"
	"github.com/corral-dev/corral/testutil"
)

// TestHelperPull is not a test: TestPullKilled runs the test binary with
// it to pull $CORRAL_HELPER_REF into $CORRAL_HELPER_ROOT.
func TestHelperPull(t *testing.T) {
	root, ref := os.Getenv("CORRAL_HELPER_ROOT"), os.Getenv("CORRAL_HELPER_REF")
	if root == "" {
		t.Skip("helper process only")
	}
	s, err := image.Open(context.Background(), root, registry.New(registry.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Pull(context.Background(), ref, image.PullOptions{})
	t.Fatalf("pull returned: %v", err)
}

// TestPullKilled kills a pulling process once it has written to the store
// and checks that the next start leaves nothing behind and that the pull
// then succeeds.
func TestPullKilled(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	_, tarball := busyboxTar(t)
	reg := registrytest.New(t)
	ref := reg.Host() + "/killed"
	src, _ := openStore(t, registry.New(registry.Options{}))
	if _, err := src.Import(ctx, bytes.NewReader(tarball), image.ImportOptions{Ref: ref}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Push(ctx, ref, image.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, written := range map[string]func([]string) bool{
		"ingest":   func(f []string) bool { return len(f) > 0 },
		"blobs":    func(f []string) bool { return count(f, "content/blobs/") >= 2 },
		"snapshot": func(f []string) bool { return count(f, "snapshots/") >= 1 },
	} {
		t.Run(name, func(t *testing.T) { killedPull(t, reg, ref, written) })
	}
}

func count(files []string, prefix string) int {
	n := 0
	for _, f := range files {
		if strings.HasPrefix(f, prefix) {
			n++
		}
	}
	return n
}

// killedPull kills a pull once written says it wrote enough, then checks
// the restart and a new pull.
func killedPull(t *testing.T, reg *registrytest.Registry, ref string, written func([]string) bool) {
	ctx := context.Background()
	root := t.TempDir()
	reg.Latency(200 * time.Millisecond) // slow enough to be caught
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPull$")
	cmd.Env = append(os.Environ(), "CORRAL_HELPER_ROOT="+root, "CORRAL_HELPER_REF="+ref)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !written(storeFiles(t, root)) && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	left := storeFiles(t, root)
	if !written(left) {
		t.Fatalf("the helper did not get that far before it was killed: %v", left)
	}
	t.Logf("left by the killed pull: %v", left)
	reg.Latency(0)
	s, err := image.Open(ctx, root, registry.New(registry.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if files := storeFiles(t, root); len(files) != 0 {
		t.Errorf("after restart: %v", files)
	}
	if _, err := s.Pull(ctx, ref, image.PullOptions{}); err != nil {
		t.Fatal(err)
	}
}
