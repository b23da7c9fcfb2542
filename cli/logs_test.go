package cli

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestLogs(t *testing.T) {
	f := newCtrFake(t)
	f.logs = string(frame(1, "out 1\n")) + string(frame(2, "err 1\n")) + string(frame(1, "out 2\n"))
	out, errOut, code := runCLI(f, "", "logs", "web")
	if code != 0 || out != "out 1\nout 2\n" || errOut != "err 1\n" {
		t.Errorf("logs: exit %d, out %q, err %q", code, out, errOut)
	}
	want := "inspect web\nlogs " + ctrID + " follow=false out=true err=true ts=false details=false since=-62135596800 until=-62135596800 tail=-1"
	if got := f.callList(); got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}

	f = newCtrFake(t)
	f.tty = true
	f.logs = "raw\r\n"
	out, _, code = runCLI(f, "", "logs", "-f", "-t", "--details", "-n", "5", "--since", "1700000000.5", "--until", "2024-01-02T03:04:05Z", "web")
	if code != 0 || out != "raw\r\n" {
		t.Errorf("logs of a TTY: exit %d, out %q", code, out)
	}
	want = "logs " + ctrID + " follow=true out=true err=true ts=true details=true since=1700000000 until=1704164645 tail=5"
	if !strings.HasSuffix(f.callList(), want) {
		t.Errorf("calls:\n%s\nwant the last:\n%s", f.callList(), want)
	}

	for _, tt := range []struct{ args, err string }{
		{"--since x web", `invalid value for "since": failed to parse value as time or duration: "x"` + "\n"},
		{"--until 2013-13-01 web", `invalid value for "until": parsing time "2013-13-01": month out of range` + "\n"},
		{"--since x nosuch", "Error response from daemon: No such container: nosuch\n"},
	} {
		_, errOut, code := runCLI(newCtrFake(t), "", append([]string{"logs"}, strings.Fields(tt.args)...)...)
		if code != 1 || errOut != tt.err {
			t.Errorf("logs %s: exit %d, %q", tt.args, code, errOut)
		}
	}
	f = newCtrFake(t)
	f.logs = string(frame(3, "disk gone"))
	_, errOut, code = runCLI(f, "", "logs", "web")
	if code != 1 || errOut != "error from daemon in stream: disk gone\n" {
		t.Errorf("logs with a daemon error: exit %d, %q", code, errOut)
	}
}

func TestLogsTail(t *testing.T) {
	for tail, want := range map[string]int{"all": -1, "": -1, "0": 0, "12": 12, "-3": -1, "x": -1} {
		opts, err := logsOptions{tail: tail}.options(time.Now())
		if err != nil || opts.Tail != want {
			t.Errorf("tail %q: %d %v, want %d", tail, opts.Tail, err, want)
		}
	}
}

// TestParseTimestamp checks docker's readings of --since and --until.
func TestParseTimestamp(t *testing.T) {
	zone := time.FixedZone("X", 3600)
	ref := time.Date(2024, 5, 6, 7, 8, 9, 500, zone)
	tests := []struct {
		in   string
		want string // RFC 3339 in UTC with nanoseconds, or the error
	}{
		{"10m", "2024-05-06T05:58:09Z"},
		{"1h30m", "2024-05-06T04:38:09Z"},
		{"-5s", "2024-05-06T06:08:14Z"},
		{"0", "1970-01-01T00:00:00Z"},
		{"1700000000", "2023-11-14T22:13:20Z"},
		{"1700000000.5", "2023-11-14T22:13:20.5Z"},
		{"1700000000.000000001", "2023-11-14T22:13:20.000000001Z"},
		{"2013-01-02T13:23:37Z", "2013-01-02T13:23:37Z"},
		{"2013-01-02T13:23:37.25+02:00", "2013-01-02T11:23:37.25Z"},
		{"2013-01-02T13:23:37", "2013-01-02T12:23:37Z"},
		{"2013-01-02T13:23", "2013-01-02T12:23:00Z"},
		{"2013-01-02T13", "2013-01-02T12:00:00Z"},
		{"2013-01-02T13:23+02:00", "2013-01-02T11:23:00Z"},
		{"2013-01-02", "2013-01-01T23:00:00Z"},
		{"2013-01-02Z", "2013-01-02T00:00:00Z"},
		{"2013-01-02T13:23:37.5", "2013-01-02T12:23:37.5Z"},
		{"x", `failed to parse value as time or duration: "x"`},
		{"1.x", `failed to parse value as time or duration: "1.x"`},
		{"2013-13-01", `parsing time "2013-13-01": month out of range`},
	}
	for _, tt := range tests {
		got, err := parseTimestamp(tt.in, ref)
		s := ""
		if err != nil {
			s = err.Error()
		} else {
			s = got.UTC().Format(time.RFC3339Nano)
		}
		if s != tt.want {
			t.Errorf("parseTimestamp(%q) = %s, want %s", tt.in, s, tt.want)
		}
	}
}

func TestWait(t *testing.T) {
	f := newCtrFake(t)
	f.proc = func(*ctrFake, io.Reader, io.Writer, io.Writer) int { return 7 }
	go f.runProc(nil, io.Discard, io.Discard)
	out, errOut, code := runCLI(f, "", "wait", "web", "nosuch", "web")
	if code != 1 || out != "7\n7\n" || errOut != "Error response from daemon: No such container: nosuch\n" {
		t.Errorf("wait: exit %d, out %q, err %q", code, out, errOut)
	}
	if got := f.callList(); got != "wait web \nwait nosuch \nwait web " {
		t.Errorf("calls:\n%s", got)
	}
}
