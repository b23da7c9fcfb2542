package monitor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corral-dev/corral/monitor"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// rotating is a container that prints "ready", writes n numbered lines
// when a line comes on its stdin, then "done", and exits at the end of its
// stdin; its log rotates at maxSize, keeping 2 files.
func rotating(t *testing.T, n int, maxSize int64) (*container, *monitor.Stream) {
	t.Helper()
	script := fmt.Sprintf(`echo ready; read x; awk 'BEGIN { for (i = 1; i <= %d; i++) printf "%%06d\n", i }'; echo done; cat >/dev/null`, n)
	ct := newContainer(t, sh(script), func(_ *specs.Spec, c *monitor.Config) {
		c.OpenStdin, c.StdinOnce, c.Log.MaxSize, c.Log.MaxFiles = true, true, maxSize, 2
	})
	in, err := ct.c.Attach(ctx(t), monitor.AttachOptions{Stdin: true})
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	t.Cleanup(func() { in.Close() })
	ct.start()
	return ct, in
}

// follower runs ReadLogEntries with Follow on ct's log; on "ready" it
// writes a line to in (the container starts writing) and stalls: it reads
// nothing more until stall returns.
type follower struct {
	mu    sync.Mutex
	lines []string
	errc  chan error
}

func follow(t *testing.T, ct *container, in *monitor.Stream, stall func()) *follower {
	f := &follower{errc: make(chan error, 1)}
	o := monitor.LogOptions{Follow: true, Tail: monitor.TailAll, Stdout: true, Monitor: ct.c}
	go func() {
		f.errc <- monitor.ReadLogEntries(ctx(t), ct.cfg.LogPath(), o, func(e *monitor.LogEntry) error {
			f.mu.Lock()
			f.lines = append(f.lines, strings.TrimSuffix(string(e.Line), "\n"))
			f.mu.Unlock()
			if string(e.Line) == "ready\n" {
				if _, err := in.Write([]byte("go\n")); err != nil {
					return err
				}
				stall()
			}
			return nil
		})
	}()
	return f
}

func (f *follower) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.lines)
}

// check: the lines are "ready", then 1, 2, ..., without gap or repeat, and
// "done" when complete; it returns how many numbered lines came.
func (f *follower) check(t *testing.T, complete bool) int {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.lines) == 0 || f.lines[0] != "ready" {
		t.Fatalf("followed %d lines, first %q", len(f.lines), f.lines)
	}
	nums := f.lines[1:]
	if complete {
		if nums[len(nums)-1] != "done" {
			t.Fatalf("last line %q, want done", nums[len(nums)-1])
		}
		nums = nums[:len(nums)-1]
	}
	for i, l := range nums {
		if want := fmt.Sprintf("%06d", i+1); l != want {
			t.Fatalf("line %d = %q, want %q", i+1, l, want)
		}
	}
	return len(nums)
}

// writerDone waits until the container wrote "done" to its log.
func writerDone(t *testing.T, ct *container) {
	deadline := time.Now().Add(testTimeout)
	for {
		if data, err := os.ReadFile(ct.cfg.LogPath()); err == nil && strings.Contains(string(data), `"done\n"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Error("the container did not write done")
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLogFollowStalled: a follower that stalls (1 s, and until the writer
// is done) while the monitor rotates its log about 180 times, far past the
// 2 files it keeps, still gets every line once, in order, and ends when
// the container exits.
func TestLogFollowStalled(t *testing.T) {
	const n, maxSize = 10000, 4096
	ct, in := rotating(t, n, maxSize)
	f := follow(t, ct, in, func() {
		time.Sleep(time.Second) // the simulated stall
		writerDone(t, ct)
	})
	deadline := time.Now().Add(testTimeout)
	for f.count() < n+2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st, err := ct.c.Status(ctx(t)); err != nil || st.State != monitor.StateRunning {
		t.Fatalf("status %+v, %v: want running", st, err)
	}
	in.CloseStdin() // the container exits: the stream ends
	select {
	case err := <-f.errc:
		if err != nil {
			t.Fatalf("ReadLogEntries: %v (after %d lines)", err, f.count())
		}
	case <-time.After(testTimeout):
		t.Fatal("ReadLogEntries did not return after the exit")
	}
	if got := f.check(t, true); got != n {
		t.Fatalf("followed %d numbered lines, want %d", got, n)
	}
}

// TestLogFollowDropped: a follower that stalls while the monitor makes
// more files (3000, one entry each) than its socket holds is dropped: it
// gets the lines of the files it was sent, in order, then
// ErrLogFollowerDropped while the container still runs, never a gap.
func TestLogFollowDropped(t *testing.T) {
	const n = 3000
	ct, in := rotating(t, n, 64)
	f := follow(t, ct, in, func() { writerDone(t, ct) })
	var err error
	select {
	case err = <-f.errc:
	case <-time.After(testTimeout):
		t.Fatal("ReadLogEntries did not return")
	}
	if !errors.Is(err, monitor.ErrLogFollowerDropped) {
		t.Fatalf("ReadLogEntries = %v, want ErrLogFollowerDropped", err)
	}
	got := f.check(t, false)
	if got == 0 || got >= n {
		t.Fatalf("followed %d numbered lines before the drop, want some but not all %d", got, n)
	}
	t.Logf("dropped after %d files: %v", got, err)
	if st, err := ct.c.Status(ctx(t)); err != nil || st.State != monitor.StateRunning {
		t.Fatalf("status %+v, %v: want running", st, err)
	}
}

// TestLogFollowExited: following a container whose log is closed reads
// what is there and returns (the monitor refuses the stream: nothing
// rotates the log any more).
func TestLogFollowExited(t *testing.T) {
	ct := newContainer(t, sh("echo one; echo two"), nil)
	ct.start()
	ct.wait()
	if _, err := ct.c.FollowLog(ctx(t), ct.cfg.LogPath()); err == nil {
		t.Fatal("FollowLog of an exited container succeeded")
	}
	var lines []string
	o := monitor.LogOptions{Follow: true, Tail: monitor.TailAll, Stdout: true, Monitor: ct.c}
	err := monitor.ReadLogEntries(context.Background(), ct.cfg.LogPath(), o, func(e *monitor.LogEntry) error {
		lines = append(lines, string(e.Line))
		return nil
	})
	if err != nil || strings.Join(lines, "") != "one\ntwo\n" {
		t.Fatalf("ReadLogEntries = %q, %v", lines, err)
	}
}
