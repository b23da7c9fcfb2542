package content_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/content"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/testutil"
)

// The test binary re-executed as a writer process: helperEnv is its mode
// ("commit" or "crash"), helperRoot the store, helperBlob the file to store.
const (
	helperEnv  = "CONTENT_TEST_HELPER"
	helperRoot = "CONTENT_TEST_ROOT"
	helperBlob = "CONTENT_TEST_BLOB"
	exitExists = 3
)

// helperProcess writes the blob in 4 KiB chunks. "commit" commits it (exit
// 0, or exitExists when another process won); "crash" exits half way,
// leaving its ingest file behind as a killed writer would.
func helperProcess() int {
	data, err := os.ReadFile(os.Getenv(helperBlob))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	l, err := content.NewLocal(os.Getenv(helperRoot))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	w, err := l.Writer(ctx, content.WriterOpts{Ref: "helper"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := 0; i < len(data); i += 4096 {
		if os.Getenv(helperEnv) == "crash" && i >= len(data)/2 {
			return 0
		}
		if _, err := w.Write(data[i:min(i+4096, len(data))]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	err = w.Commit(ctx, int64(len(data)), digest.FromBytes(data))
	if errdefs.IsAlreadyExists(err) {
		return exitExists
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// helper returns the command of a writer process.
func helper(t *testing.T, mode, root, blob string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperRoot+"="+root, helperBlob+"="+blob)
	cmd.Stderr = os.Stderr
	return cmd
}

func writeBlobFile(t *testing.T, n int) (string, []byte) {
	data := randomBytes(t, n)
	path := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// TestLocalProcessesSameDigest races writer processes (each opening, and so
// sweeping, the store as it starts) on one blob: one publishes it.
func TestLocalProcessesSameDigest(t *testing.T) {
	root := t.TempDir()
	blob, data := writeBlobFile(t, 2<<20)
	const procs = 6
	codes := make([]int, procs)
	var wg sync.WaitGroup
	for i := range procs {
		cmd := helper(t, "commit", root, blob)
		wg.Go(func() {
			cmd.Run()
			codes[i] = cmd.ProcessState.ExitCode()
		})
	}
	wg.Wait()
	won := 0
	for i, code := range codes {
		switch code {
		case 0:
			won++
		case exitExists:
		default:
			t.Errorf("writer process %d exited %d", i, code)
		}
	}
	if won != 1 {
		t.Errorf("%d processes published the blob, want 1 (exit codes %v)", won, codes)
	}
	got, err := os.ReadFile(filepath.Join(root, "blobs", "sha256", digest.FromBytes(data).Encoded()))
	if err != nil || string(got) != string(data) {
		t.Fatalf("published blob: %d bytes, %v; want the %d written", len(got), err, len(data))
	}
	if names := ingestFiles(t, root); len(names) != 0 {
		t.Fatalf("ingest files left: %v", names)
	}
}

// TestLocalCrashedWriter: a writer process that dies mid-blob leaves its
// ingest file; the next NewLocal removes it and the blob can be written.
func TestLocalCrashedWriter(t *testing.T) {
	root := t.TempDir()
	blob, data := writeBlobFile(t, 64<<10)
	if err := helper(t, "crash", root, blob).Run(); err != nil {
		t.Fatalf("crashing writer: %v", err)
	}
	if names := ingestFiles(t, root); len(names) != 1 {
		t.Fatalf("after the crash: ingest holds %v, want the dead writer's file", names)
	}
	l := newLocal(t, root)
	if names := ingestFiles(t, root); len(names) != 0 {
		t.Fatalf("NewLocal left stale ingest files: %v", names)
	}
	if _, err := l.Info(context.Background(), digest.FromBytes(data)); !errdefs.IsNotFound(err) {
		t.Fatalf("half-written blob visible: %v", err)
	}
	if err := helper(t, "commit", root, blob).Run(); err != nil {
		t.Fatalf("re-run after the crash: %v", err)
	}
}

// TestLocalDiskFull writes into a store on a 256 KiB tmpfs: the write fails
// with ENOSPC, nothing is published, the ingest goes on Close, and the
// store keeps working for what fits.
func TestLocalDiskFull(t *testing.T) {
	testutil.RequireRoot(t)
	if !testutil.InSandbox() {
		t.Skip("mounts a tmpfs: runs only in the test sandbox's mount namespace")
	}
	root := t.TempDir()
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, "size=256k"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(root, unix.MNT_DETACH) })
	l := newLocal(t, root)
	ctx := context.Background()
	data := randomBytes(t, 1<<20)
	w, err := l.Writer(ctx, content.WriterOpts{Ref: "big-layer", Expected: digest.FromBytes(data)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Write(data)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "big-layer") {
		t.Fatalf("Write to a full disk: %v, want ENOSPC naming the blob", err)
	}
	t.Logf("error: %v", err)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if names := ingestFiles(t, root); len(names) != 0 {
		t.Fatalf("ingest files left: %v", names)
	}
	if _, err := l.Info(ctx, digest.FromBytes(data)); !errdefs.IsNotFound(err) {
		t.Fatalf("blob after a failed write: %v", err)
	}
	small := randomBytes(t, 10_000)
	w, _ = l.Writer(ctx, content.WriterOpts{})
	w.Write(small)
	if err := w.Commit(ctx, 10_000, digest.FromBytes(small)); err != nil {
		t.Fatalf("commit after the full disk was freed: %v", err)
	}
}
