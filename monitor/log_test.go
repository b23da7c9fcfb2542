package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testLog writes a json-file log as the monitor (cmd/corral-monitor) does,
// for the reader's tests: one entry a line, the file rotated (path to
// path.1, path.1 to path.2, ...) before an entry would take it past
// maxSize (< 0: never), maxFiles files kept.
type testLog struct {
	t        *testing.T
	path     string
	maxSize  int64
	maxFiles int
	f        *os.File
	size     int64
}

func openLog(t *testing.T, path string, maxSize int64, maxFiles int) *testLog {
	t.Helper()
	w := &testLog{t: t, path: path, maxSize: maxSize, maxFiles: maxFiles}
	w.open(os.O_APPEND)
	return w
}

func (w *testLog) open(flag int) {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|flag, 0o640)
	if err != nil {
		w.t.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		w.t.Fatal(err)
	}
	w.f, w.size = f, st.Size()
}

// Write logs p, whole lines of stream, read at time at.
func (w *testLog) Write(stream byte, p []byte, at time.Time) {
	for _, line := range bytes.SplitAfter(p, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		name := map[byte]string{StreamStdout: "stdout", StreamStderr: "stderr"}[stream]
		entry, err := json.Marshal(jsonEntry{Log: string(line), Stream: name, Time: at})
		if err != nil {
			w.t.Fatal(err)
		}
		entry = append(entry, '\n')
		if w.maxSize >= 0 && w.size > 0 && w.size+int64(len(entry)) > w.maxSize {
			w.rotate()
		}
		n, err := w.f.Write(entry)
		if err != nil {
			w.t.Fatal(err)
		}
		w.size += int64(n)
	}
}

func (w *testLog) rotate() {
	w.f.Close()
	for i := w.maxFiles - 1; i > 0; i-- {
		if err := os.Rename(rotated(w.path, i-1), rotated(w.path, i)); err != nil && !os.IsNotExist(err) {
			w.t.Fatal(err)
		}
	}
	w.open(os.O_TRUNC)
}

func (w *testLog) Close() { w.f.Close() }

// writeLines logs n numbered lines through a rotating writer.
func writeLines(t *testing.T, path string, maxSize int64, maxFiles, n int, at func(i int) time.Time) {
	t.Helper()
	w := openLog(t, path, maxSize, maxFiles)
	for i := 0; i < n; i++ {
		w.Write(StreamStdout, fmt.Appendf(nil, "line %05d\n", i), at(i))
	}
	w.Close()
}

// readAll runs ReadLogEntries and returns the lines it passed on.
func readAll(t *testing.T, path string, o LogOptions) []string {
	t.Helper()
	var out []string
	err := ReadLogEntries(context.Background(), path, o, func(e *LogEntry) error {
		out = append(out, string(e.Line))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReadLogsTailSinceUntil(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	writeLines(t, path, 2048, 5, 200, at) // about 90 lines a file: 3 files kept in part
	all := readAll(t, path, LogOptions{Tail: TailAll, Stdout: true, Stderr: true})
	first := 200 - len(all)
	for _, tc := range []struct {
		name string
		o    LogOptions
		from int
		to   int // exclusive
	}{
		{"all", LogOptions{Tail: TailAll}, first, 200},
		{"tail 0", LogOptions{Tail: 0}, 200, 200},
		{"tail 1", LogOptions{Tail: 1}, 199, 200},
		{"tail 30", LogOptions{Tail: 30}, 170, 200},
		{"tail across files", LogOptions{Tail: 100}, 100, 200},
		{"tail more than all", LogOptions{Tail: 100000}, first, 200},
		{"since", LogOptions{Tail: TailAll, Since: at(190)}, 190, 200},
		{"until", LogOptions{Tail: TailAll, Until: at(first + 4)}, first, first + 5},
		{"tail and until", LogOptions{Tail: 10, Until: at(195)}, 190, 196},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Stdout = true
			got := readAll(t, path, tc.o)
			if len(got) != tc.to-tc.from {
				t.Fatalf("got %d lines, want %d (from %d)", len(got), tc.to-tc.from, tc.from)
			}
			for i, l := range got {
				if want := fmt.Sprintf("line %05d\n", tc.from+i); l != want {
					t.Fatalf("line %d = %q, want %q", i, l, want)
				}
			}
		})
	}
	if got := readAll(t, path, LogOptions{Tail: TailAll, Stderr: true}); len(got) != 0 {
		t.Errorf("stderr only: got %d stdout lines", len(got))
	}
}

func TestReadLogsFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w := openLog(t, path, -1, 1)
	at := time.Date(2024, 1, 2, 3, 4, 5, 600, time.UTC)
	w.Write(StreamStdout, []byte("out\n"), at)
	w.Write(StreamStderr, []byte("err\n"), at)
	w.Close()
	var buf bytes.Buffer
	o := LogOptions{Tail: TailAll, Stdout: true, Stderr: true, Timestamps: true}
	if err := ReadLogs(context.Background(), path, o, &buf); err != nil {
		t.Fatal(err)
	}
	line := "2024-01-02T03:04:05.000000600Z out\n"
	want := string(frame(StreamStdout, []byte(line))) + string(frame(StreamStderr, []byte(strings.Replace(line, "out", "err", 1))))
	if buf.String() != want {
		t.Errorf("framed output %q, want %q", buf.String(), want)
	}
	buf.Reset()
	o.Raw, o.Timestamps = true, false
	if err := ReadLogs(context.Background(), path, o, &buf); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "out\nerr\n" {
		t.Errorf("raw output %q", buf.String())
	}
}

// TestReadLogsFollowCancel: a follower with nothing new returns when its
// context ends; one started with tail 0 sees only new lines.
func TestReadLogsFollowCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	writeLines(t, path, -1, 1, 3, func(int) time.Time { return time.Now() })
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 10)
	errc := make(chan error, 1)
	go func() {
		errc <- ReadLogEntries(ctx, path, LogOptions{Follow: true, Tail: 0, Stdout: true}, func(e *LogEntry) error {
			got <- string(e.Line)
			return nil
		})
	}()
	time.Sleep(50 * time.Millisecond)
	w := openLog(t, path, -1, 1)
	w.Write(StreamStdout, []byte("new\n"), time.Now())
	w.Close()
	select {
	case l := <-got:
		if l != "new\n" {
			t.Fatalf("followed %q, want only the new line", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the new line was not followed")
	}
	cancel()
	select {
	case err := <-errc:
		if err != context.Canceled {
			t.Fatalf("ReadLogEntries = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadLogEntries did not return after cancel")
	}
}
