package nsenter

import (
	"bufio"
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestWriteTo(t *testing.T) {
	req := Request{
		Joins: []Join{
			{Type: "mnt", Path: "/proc/1/ns/mnt"},
			{Type: "user", Path: "/run/ns with space/user"},
		},
		Unshare: unix.CLONE_NEWNET | unix.CLONE_NEWPID,
	}
	var b bytes.Buffer
	n, err := req.WriteTo(&b)
	if err != nil {
		t.Fatal(err)
	}
	body := "join mnt /proc/1/ns/mnt\njoin user /run/ns with space/user\nunshare 1610612736\n"
	want := "CORRAL-NSENTER 77\n" + body
	if len(body) != 77 {
		t.Fatalf("test body is %d bytes", len(body))
	}
	if b.String() != want || n != int64(len(want)) {
		t.Errorf("wrote %d bytes %q, want %q", n, b.String(), want)
	}
}

func TestWriteToTime(t *testing.T) {
	req := Request{
		Unshare:     unix.CLONE_NEWUSER | unix.CLONE_NEWTIME,
		TimeOffsets: []TimeOffset{{Clock: "monotonic", Secs: -5, Nanosecs: 7}, {Clock: "boottime", Secs: 864000}},
	}
	var b bytes.Buffer
	if _, err := req.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	body := "unshare 268435584\ntimens monotonic -5 7\ntimens boottime 864000 0\n"
	if want := magic + strconv.Itoa(len(body)) + "\n" + body; b.String() != want {
		t.Errorf("wrote %q, want %q", b.String(), want)
	}
}

func TestWriteToEmpty(t *testing.T) {
	var b bytes.Buffer
	if _, err := (Request{}).WriteTo(&b); err != nil || b.String() != "CORRAL-NSENTER 0\n" {
		t.Errorf("got %q, %v", b.String(), err)
	}
}

func TestWriteToRejects(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"unknown type", Request{Joins: []Join{{Type: "mount", Path: "/x"}}}, `unknown namespace type "mount"`},
		{"twice", Request{Joins: []Join{{Type: "net", Path: "/a"}, {Type: "net", Path: "/b"}}}, "net namespace joined twice"},
		{"empty path", Request{Joins: []Join{{Type: "net"}}}, "bad path"},
		{"newline", Request{Joins: []Join{{Type: "net", Path: "/a\nunshare 1"}}}, "bad path"},
		{"nul", Request{Joins: []Join{{Type: "net", Path: "/a\x00"}}}, "bad path"},
		{"cgroup unshare", Request{Unshare: unix.CLONE_NEWCGROUP}, "cannot unshare flags 0x2000000"},
		{"offsets without a new time namespace", Request{Unshare: unix.CLONE_NEWNET,
			TimeOffsets: []TimeOffset{{Clock: "monotonic", Secs: 1}}}, "time offsets without a new time namespace"},
		{"unknown clock", Request{Unshare: unix.CLONE_NEWTIME,
			TimeOffsets: []TimeOffset{{Clock: "realtime", Secs: 1}}}, `unknown clock "realtime"`},
		{"clock twice", Request{Unshare: unix.CLONE_NEWTIME,
			TimeOffsets: []TimeOffset{{Clock: "boottime"}, {Clock: "boottime"}}}, "two time offsets for clock boottime"},
		{"a second of nanoseconds", Request{Unshare: unix.CLONE_NEWTIME,
			TimeOffsets: []TimeOffset{{Clock: "monotonic", Nanosecs: 1e9}}}, "a second or more"},
		{"too large", Request{Joins: []Join{{Type: "net", Path: strings.Repeat("a", maxBody)}}}, "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			_, err := tt.req.WriteTo(&b)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if b.Len() != 0 {
				t.Errorf("wrote %q despite the error", b.String())
			}
		})
	}
}

func TestAwait(t *testing.T) {
	tests := []struct {
		name, replies string
		mapsErr       error
		pid           int
		want          string // error substring, "" for success
		acks          string
		rest          string // what stays readable after Await
	}{
		{name: "pid", replies: "pid 42\n{\"type\":\"ready\"}\n", pid: 42, rest: "{\"type\":\"ready\"}\n"},
		{name: "maps then pid", replies: "maps 7\npid 9\n", pid: 9, acks: "ack\n"},
		{name: "error", replies: "error setns net /x: Operation not permitted\n", want: "nsenter: setns net /x: Operation not permitted"},
		{name: "maps fail", replies: "maps 7\n", mapsErr: errors.New("boom"), want: "write id maps of pid 7: boom", acks: "abort\n"},
		{name: "eof", replies: "", want: "read nsenter reply: unexpected EOF"},
		{name: "partial line", replies: "pid 4", want: "unexpected EOF"},
		{name: "garbage", replies: "hello\n", want: `unexpected "hello\n"`},
		{name: "bad pid", replies: "pid -3\n", want: `bad pid "-3"`},
		{name: "long line", replies: strings.Repeat("x", 5000) + "\n", want: "buffer full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bufio.NewReader(strings.NewReader(tt.replies))
			var acks bytes.Buffer
			var mapped int
			pid, err := Await(r, &acks, func(p int) error { mapped = p; return tt.mapsErr })
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Await = %d, %v; want error %q", pid, err, tt.want)
				}
			} else if err != nil || pid != tt.pid {
				t.Fatalf("Await = %d, %v; want %d", pid, err, tt.pid)
			}
			if acks.String() != tt.acks {
				t.Errorf("acks %q, want %q", acks.String(), tt.acks)
			}
			if tt.acks != "" && mapped != 7 {
				t.Errorf("writeMaps got pid %d, want 7", mapped)
			}
			rest := make([]byte, 100)
			n, _ := r.Read(rest)
			if tt.want == "" && string(rest[:n]) != tt.rest {
				t.Errorf("left %q, want %q", rest[:n], tt.rest)
			}
		})
	}
}

func TestAwaitMapsWithoutCallback(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("maps 5\npid 5\n"))
	var acks bytes.Buffer
	if _, err := Await(r, &acks, nil); err == nil || acks.Len() != 0 {
		t.Errorf("err %v, acks %q: want an error and no ack", err, acks.String())
	}
}
