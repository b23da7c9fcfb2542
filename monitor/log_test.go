package monitor

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readEntries decodes every line of a json-file log file.
func readEntries(t *testing.T, path string) []jsonEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []jsonEntry
	s := bufio.NewScanner(f)
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		var e jsonEntry
		if err := json.Unmarshal(s.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", s.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{
		"", "plain", "tab\tnl\ncr\r", `quote" back\`, "<a>&b", "\x00\x01\x1f\x7f",
		"héllo ✓ 🎉", "bad \xff\xfe utf8", "trunc \xe2\x82", "\u2028\u2029", strings.Repeat("x", 100),
	} {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString(nil, []byte(s)); string(got) != string(want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestLogWriterLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, err := openLog(path, -1, 1)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	w.Write(StreamStdout, []byte("one\ntw"), now)
	w.Write(StreamStderr, []byte("err\n"), now)
	w.Write(StreamStdout, []byte("o\nthr"), now)
	long := strings.Repeat("a", maxLogLine) + strings.Repeat("b", maxLogLine+10) + "\n"
	w.Write(StreamStdout, []byte("ee\n"+long), now)
	exact := strings.Repeat("c", maxLogLine) + "\n"
	w.Write(StreamStderr, []byte(exact), now)
	w.Write(StreamStdout, []byte("tail"), now)
	w.Flush(StreamStdout, now)
	w.Close()
	got := readEntries(t, path)
	want := []struct{ log, stream string }{
		{"one\n", "stdout"}, {"err\n", "stderr"}, {"two\n", "stdout"}, {"three\n", "stdout"},
		{strings.Repeat("a", maxLogLine), "stdout"},
		{strings.Repeat("b", maxLogLine), "stdout"},
		{strings.Repeat("b", 10) + "\n", "stdout"},
		{exact, "stderr"},
		{"tail", "stdout"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i, e := range got {
		if e.Log != want[i].log || e.Stream != want[i].stream || !e.Time.Equal(now) {
			t.Errorf("entry %d = %q %s %v, want %q %s", i, short(e.Log), e.Stream, e.Time, short(want[i].log), want[i].stream)
		}
	}
	raw, _ := os.ReadFile(path)
	if first := strings.SplitN(string(raw), "\n", 2)[0]; first != `{"log":"one\n","stream":"stdout","time":"2024-05-06T07:08:09.123456789Z"}` {
		t.Errorf("first line %s is not Docker's json-file format", first)
	}
}

func short(s string) string {
	if len(s) > 20 {
		return fmt.Sprintf("%s...(%d)", s[:10], len(s))
	}
	return s
}

// writeLines logs n numbered lines through a rotating writer.
func writeLines(t *testing.T, path string, maxSize int64, maxFiles, n int, at func(i int) time.Time) {
	t.Helper()
	w, err := openLog(path, maxSize, maxFiles)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		w.Write(StreamStdout, fmt.Appendf(nil, "line %05d\n", i), at(i))
	}
	w.Close()
}

func TestLogRotation(t *testing.T) {
	for _, maxFiles := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(maxFiles), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			writeLines(t, path, 4096, maxFiles, 2000, func(int) time.Time { return time.Now() })
			names := logFileNames(path)
			if len(names) != maxFiles {
				t.Fatalf("files %v, want %d", names, maxFiles)
			}
			var lines []string
			for _, n := range names {
				st, _ := os.Stat(n)
				if st.Size() > 4096 {
					t.Errorf("%s is %d bytes, over the 4096 limit", n, st.Size())
				}
				for _, e := range readEntries(t, n) {
					lines = append(lines, e.Log)
				}
			}
			// The newest lines, in order, ending with the last one.
			for i, l := range lines {
				want := fmt.Sprintf("line %05d\n", 2000-len(lines)+i)
				if l != want {
					t.Fatalf("line %d = %q, want %q", i, l, want)
				}
			}
		})
	}
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
	w, err := openLog(path, -1, 1)
	if err != nil {
		t.Fatal(err)
	}
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

// TestReadLogsFollow follows a log that a writer fills and rotates many
// times meanwhile: no line is lost or repeated, and the reader returns
// once Done is closed and it has read to the end.
func TestReadLogsFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, err := openLog(path, 2048, 3)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(StreamStdout, []byte("line 00000\n"), time.Now())
	done := make(chan struct{})
	lines := make(chan string, 100000)
	errc := make(chan error, 1)
	go func() {
		o := LogOptions{Follow: true, Done: done, Tail: TailAll, Stdout: true}
		errc <- ReadLogEntries(context.Background(), path, o, func(e *LogEntry) error {
			lines <- string(e.Line)
			return nil
		})
	}()
	waitFor(t, func() bool { return len(lines) == 1 }, "line 0 not followed")
	const n = 3000
	for i := 1; i < n; i++ {
		w.Write(StreamStdout, fmt.Appendf(nil, "line %05d\n", i), time.Now())
		if i%20 == 0 {
			// Let the reader keep up: 3 files of 2 KiB hold ~80 lines, and
			// a writer further ahead drops lines before anyone reads them.
			waitFor(t, func() bool { return len(lines) >= i-20 }, "line %d: followed only %d", i, len(lines))
		}
	}
	w.Close()
	close(done)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	close(lines)
	i := 0
	for l := range lines {
		if want := fmt.Sprintf("line %05d\n", i); l != want {
			t.Fatalf("line %d = %q, want %q", i, l, want)
		}
		i++
	}
	if i != n {
		t.Fatalf("followed %d lines, want %d", i, n)
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
	w, err := openLog(path, -1, 1)
	if err != nil {
		t.Fatal(err)
	}
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

func waitFor(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: "+format, args...)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestStdinFrames(t *testing.T) {
	var buf bytes.Buffer
	buf.Write(frame(StreamStdin, []byte("hello")))
	buf.Write(frame(StreamStdin, nil))
	b, err := readStdinFrame(&buf, nil)
	if err != nil || string(b) != "hello" {
		t.Fatalf("first frame %q, %v", b, err)
	}
	if b, err = readStdinFrame(&buf, b); err != nil || len(b) != 0 {
		t.Fatalf("EOF frame %q, %v", b, err)
	}
	if _, err = readStdinFrame(&buf, nil); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	bad := bytes.NewReader(frame(StreamStdout, []byte("x")))
	if _, err = readStdinFrame(bad, nil); err == nil {
		t.Fatal("a stdout frame on stdin was accepted")
	}
	huge := make([]byte, FrameHeaderLen)
	putHeader(huge, StreamStdin, maxStdinFrame+1)
	if _, err = readStdinFrame(bytes.NewReader(huge), nil); err == nil {
		t.Fatal("an oversized stdin frame was accepted")
	}
}
