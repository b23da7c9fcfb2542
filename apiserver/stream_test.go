package apiserver

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/corral-dev/corral/api"
)

func TestMuxWriterFrames(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	stdout, stderr := outputs(&buf, false)
	_, _ = stdout.Write([]byte("hi\n"))
	_, _ = stderr.Write([]byte("oops\n"))
	want := append([]byte{1, 0, 0, 0, 0, 0, 0, 3}, "hi\n"...)
	want = append(append(want, 2, 0, 0, 0, 0, 0, 0, 5), "oops\n"...)
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("frames %v, want %v", buf.Bytes(), want)
	}
	// A long write is split into frames the docker client reassembles.
	buf.Reset()
	long := bytes.Repeat([]byte("x"), 3*maxFrame+7)
	if n, err := stdout.Write(long); n != len(long) || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	if got := binary.BigEndian.Uint32(buf.Bytes()[4:8]); got != maxFrame {
		t.Errorf("first frame %d bytes, want %d", got, maxFrame)
	}
	var out, errOut bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errOut, &buf); err != nil || !bytes.Equal(out.Bytes(), long) {
		t.Errorf("stdcopy: %v, %d bytes back", err, out.Len())
	}
}

func TestRawTTYOutput(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	stdout, stderr := outputs(&buf, true)
	_, _ = stdout.Write([]byte("a"))
	_, _ = stderr.Write([]byte("b"))
	if buf.String() != "ab" {
		t.Errorf("tty output %q, want raw %q", buf.String(), "ab")
	}
}

func TestLogsFraming(t *testing.T) {
	t.Parallel()
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	f := newFake()
	f.logs = []api.LogMessage{
		{Stream: "stdout", Line: []byte("out\n"), Timestamp: ts},
		{Stream: "stderr", Line: []byte("err\n"), Timestamp: ts},
		{Err: errors.New("disk gone")},
	}
	s := New(f.config())
	w := do(t, s, "GET", "/v1.47/containers/web/logs?stdout=1&stderr=1&timestamps=1", "")
	if ct := w.Result().Header.Get("Content-Type"); ct != "application/vnd.docker.multiplexed-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	var out, errOut bytes.Buffer
	_, err := stdcopy.StdCopy(&out, &errOut, w.Body)
	if out.String() != "2026-01-02T03:04:05.000000006Z out\n" || errOut.String() != "2026-01-02T03:04:05.000000006Z err\n" {
		t.Errorf("demuxed stdout %q stderr %q", out.String(), errOut.String())
	}
	if err == nil || !strings.Contains(err.Error(), "Error grabbing logs: disk gone") {
		t.Errorf("system error frame: %v", err)
	}
	// Only the streams asked for; raw bytes with a TTY; raw-stream type
	// before API 1.42.
	f.logs, f.logsTTY = f.logs[:2], true
	w = do(t, s, "GET", "/v1.41/containers/web/logs?stdout=1", "")
	if w.Body.String() != "out\n" || w.Result().Header.Get("Content-Type") != "application/vnd.docker.raw-stream" {
		t.Errorf("tty logs: %q %q", w.Body, w.Result().Header.Get("Content-Type"))
	}
}

func TestStatsStream(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.stats = []container.StatsResponse{{Name: "/web", ID: "c1"}, {Name: "/web", ID: "c1"}}
	s := New(f.config())
	w := do(t, s, "GET", "/containers/web/stats", "")
	if n := strings.Count(w.Body.String(), "\n"); n != 2 {
		t.Errorf("stream: %d objects, want 2: %q", n, w.Body)
	}
	w = do(t, s, "GET", "/containers/web/stats?stream=False", "")
	var st container.StatsResponse
	if n := strings.Count(w.Body.String(), "\n"); n != 1 || json.Unmarshal(w.Body.Bytes(), &st) != nil || st.ID != "c1" {
		t.Errorf("stream=False: %q", w.Body)
	}
}

// TestEventsStream: the headers come before any event, each event is one
// flushed line, container events carry the legacy fields.
func TestEventsStream(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.events = make(chan events.Message)
	srv := httptest.NewServer(New(f.config()))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v1.47/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	br := bufio.NewReader(resp.Body)
	for i, m := range []events.Message{
		{Type: events.ContainerEventType, Action: events.ActionStart, Actor: events.Actor{ID: "c1", Attributes: map[string]string{"image": "busybox"}}, Time: 1},
		{Type: events.NetworkEventType, Action: events.ActionConnect, Actor: events.Actor{ID: "n1"}},
	} {
		f.events <- m
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatal(err)
		}
		if i == 0 && (got["status"] != "start" || got["id"] != "c1" || got["from"] != "busybox" || got["Action"] != "start") {
			t.Errorf("container event %s", line)
		}
		if i == 1 && (got["status"] != nil || got["Type"] != "network") {
			t.Errorf("network event %s", line)
		}
	}
	close(f.events)
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Errorf("after close: %q", rest)
	}
}

func TestDiskUsageForms(t *testing.T) {
	t.Parallel()
	w := do(t, New(newFake().config()), "GET", "/v1.47/system/df", "")
	var got map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"LayersSize": "42", "Containers": "[]", "Volumes": "[]", "BuildCache": "[]"} {
		if string(got[k]) != want {
			t.Errorf("%s = %s, want %s", k, got[k], want)
		}
	}
	if !strings.Contains(string(got["Images"]), `"Id":"sha256:1"`) || got["ImageUsage"] == nil {
		t.Errorf("images: legacy %s, new %s", got["Images"], got["ImageUsage"])
	}
}

// failingReader fails after its content.
type failingReader struct{ r io.Reader }

func (f failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errors.New("registry went away")
	}
	return n, err
}

func TestJSONStreamCopy(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	copyJSONStream(w, io.NopCloser(failingReader{strings.NewReader(`{"status":"Pulling"}` + "\n")}))
	lines := strings.Split(strings.TrimSpace(w.Body.String()), "\n")
	if len(lines) != 2 || lines[1] != `{"errorDetail":{"message":"registry went away"},"error":"registry went away"}` {
		t.Errorf("stream %q", w.Body)
	}
	if !w.Flushed || w.Result().Header.Get("Content-Type") != "application/json" {
		t.Error("not flushed or not JSON")
	}
}

// TestBinaryAbort: a tar that fails midway breaks the connection rather
// than ending short.
func TestBinaryAbort(t *testing.T) {
	t.Parallel()
	defer func() {
		if r := recover(); r != http.ErrAbortHandler {
			t.Errorf("recover() = %v, want ErrAbortHandler", r)
		}
	}()
	copyBinary(httptest.NewRecorder(), io.NopCloser(failingReader{strings.NewReader("TAR")}), "application/x-tar")
}

// TestConcurrentFrames: stdout and stderr written at once never interleave
// inside a frame.
func TestConcurrentFrames(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	stdout, stderr := outputs(&buf, false)
	var wg sync.WaitGroup
	for _, w := range []io.Writer{stdout, stderr} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				_, _ = w.Write([]byte("0123456789"))
			}
		}()
	}
	wg.Wait()
	var out, errOut bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errOut, &buf); err != nil || out.Len() != 2000 || errOut.Len() != 2000 {
		t.Errorf("demux: %v, %d/%d bytes", err, out.Len(), errOut.Len())
	}
}
