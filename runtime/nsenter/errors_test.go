package nsenter

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/corral-dev/corral/testutil"
	"golang.org/x/sys/unix"
)

func TestEnterErrors(t *testing.T) {
	testutil.RequireRoot(t)
	noMaps := func(int) error { return nil }
	tests := []struct {
		name      string
		req       Request
		writeMaps func(int) error
		want      string
	}{
		{"missing path", Request{Joins: []Join{{Type: "net", Path: "/nonexistent/ns/net"}}}, nil,
			"nsenter: open net /nonexistent/ns/net: No such file or directory"},
		{"wrong namespace type", Request{Joins: []Join{{Type: "net", Path: "/proc/self/ns/uts"}}}, nil,
			"nsenter: setns net /proc/self/ns/uts: Invalid argument"},
		{"not a namespace", Request{Joins: []Join{{Type: "mnt", Path: "/dev/null"}}}, nil,
			"nsenter: setns mnt /dev/null: Invalid argument"},
		{"maps fail", Request{Unshare: unix.CLONE_NEWUSER}, func(int) error { return errors.New("no maps today") },
			"write id maps of pid"},
		{"maps missing", Request{Unshare: unix.CLONE_NEWUSER}, noMaps,
			"nsenter: setresgid 0 in new user namespace: Invalid argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startHelper(t)
			_, err := h.enter(tt.req, tt.writeMaps)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("enter: %v, want an error containing %q", err, tt.want)
			}
			if code := h.exitCode(t); code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
		})
	}
}

// TestMalformedRequests feeds the constructor bytes that WriteTo would never
// send; each must end in an error reply and exit status 1, never in Go.
func TestMalformedRequests(t *testing.T) {
	tests := []struct {
		name, send, want string
	}{
		{"bad magic", "HELLO 3\n", "parse request: bad header"},
		{"bad length", "CORRAL-NSENTER 1x\n", "parse request: bad header"},
		{"huge length", "CORRAL-NSENTER 99999999999999999999999\n", "parse request: bad header"},
		{"body too large", "CORRAL-NSENTER 65537\n", "exceeds 65536"},
		{"long header", strings.Repeat("C", 100), "line longer than 64 bytes"},
		{"unknown type", body("join foo /x\n"), `unknown namespace type "foo"`},
		{"join without path", body("join net\n"), "join needs a type and a path"},
		{"join twice", body("join net /a\njoin net /b\n"), "net namespace joined twice"},
		{"unknown line", body("hello\n"), `unknown line "hello"`},
		{"cgroup unshare", body("unshare 33554432\n"), "unshare flags 0x2000000 not supported"},
		{"offsets without time unshare", body("unshare 1073741824\ntimens monotonic 5 0\n"),
			"time offsets without a new time namespace"},
		{"offsets for a joined time namespace", body("join time /proc/self/ns/time\ntimens boottime 5 0\n"),
			"time offsets without a new time namespace"},
		{"unknown clock", body("unshare 128\ntimens realtime 5 0\n"), `unknown clock "realtime"`},
		{"clock twice", body("unshare 128\ntimens boottime 5 0\ntimens boottime 6 0\n"),
			"two offsets for clock boottime"},
		{"timens fields missing", body("unshare 128\ntimens monotonic 5\n"), "timens needs a clock"},
		{"timens field extra", body("unshare 128\ntimens monotonic 5 0 1\n"), "bad offset"},
		{"nanoseconds overflow", body("unshare 128\ntimens monotonic 5 1000000000\n"), "bad offset"},
		{"seconds not a number", body("unshare 128\ntimens monotonic 5s 0\n"), "bad offset"},
		{"seconds overflow", body("unshare 128\ntimens monotonic 9223372036854775808 0\n"), "bad offset"},
		{"minus alone", body("unshare 128\ntimens monotonic - 0\n"), "bad offset"},
		{"bad flags", body("unshare -1\n"), "bad unshare flags"},
		{"no final newline", body("join net /a"), "does not end in a newline"},
		{"NUL byte", body("join net /a\x00b\n"), "NUL byte"},
		{"short body", "CORRAL-NSENTER 10\njoin", "read request body: unexpected end of stream"},
		{"nothing", "", "read request header: unexpected end of stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startHelper(t)
			if _, err := io.WriteString(h.sock, tt.send); err != nil {
				t.Fatal(err)
			}
			// End of stream after what was sent.
			if err := unix.Shutdown(int(h.sock.Fd()), unix.SHUT_WR); err != nil {
				t.Fatal(err)
			}
			_, err := Await(h.r, h.sock, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Await: %v, want an error containing %q", err, tt.want)
			}
			if code := h.exitCode(t); code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
		})
	}
}

func body(s string) string {
	return magic + strconv.Itoa(len(s)) + "\n" + s
}

// TestBadEnv: a value that is not an open descriptor stops the process with
// a message on stderr, whatever the rest of the binary would do.
func TestBadEnv(t *testing.T) {
	for _, val := range []string{"abc", "-1", "999", "3 "} {
		t.Run(val, func(t *testing.T) {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), roleEnv+"=helper", Env+"="+val)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1", err)
			}
			if !strings.Contains(string(out), "corral nsenter: "+Env+" is not an open descriptor") {
				t.Errorf("output %q", out)
			}
		})
	}
}
