package monitor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// openLogFDs counts this process's descriptors open on path's files, the
// rotated and unlinked ones included.
func openLogFDs(t *testing.T, path string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, path) {
			n++
		}
	}
	return n
}

// TestReadLogsFollowLagging: a follower that reads nothing while the
// writer rotates its file away many times (far past MaxFiles) still gets
// every line once, in order: the files it has not read are kept open for
// it from the moment they are made, and freed once read.
func TestReadLogsFollowLagging(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w := openLog(t, path, 2048, 3)
	w.Write(StreamStdout, []byte("line 00000\n"), time.Now())
	release, first := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	var lines []string
	errc := make(chan error, 1)
	go func() {
		o := LogOptions{Follow: true, Done: done, Tail: TailAll, Stdout: true}
		errc <- ReadLogEntries(context.Background(), path, o, func(e *LogEntry) error {
			if len(lines) == 0 {
				close(first)
				<-release // a client that does not read
			}
			lines = append(lines, string(e.Line))
			return nil
		})
	}()
	<-first
	const n = 3000
	rotations := 0
	for i := 1; i < n; i++ {
		before := w.size
		w.Write(StreamStdout, fmt.Appendf(nil, "line %05d\n", i), time.Now())
		if w.size < before { // rotated: wait until the new file is pinned
			rotations++
			waitFor(t, func() bool { return openLogFDs(t, path) >= rotations+1 }, "rotation %d not pinned", rotations)
		}
	}
	if rotations < 10 {
		t.Fatalf("only %d rotations", rotations)
	}
	w.Close()
	close(release)
	close(done)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	for i, l := range lines {
		if want := fmt.Sprintf("line %05d\n", i); l != want {
			t.Fatalf("line %d = %q, want %q", i, l, want)
		}
	}
	if len(lines) != n {
		t.Fatalf("followed %d lines, want %d", len(lines), n)
	}
	if k := openLogFDs(t, path); k != 0 {
		t.Errorf("%d descriptors of the log left open", k)
	}
}
