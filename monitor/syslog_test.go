package monitor_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/corral-dev/corral/monitor"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Tests of the syslog log driver (cmd/corral-monitor/syslog.c): the
// messages' bytes in each of Docker's formats, over unix datagrams, udp and
// tcp, and a receiver that is absent or does not read never holding the
// container up.

// syslogConfig is the driver's config for the receiver at network addr.
func syslogConfig(network, addr, format string) func(*specs.Spec, *monitor.Config) {
	return func(_ *specs.Spec, c *monitor.Config) {
		c.Log.Driver = "syslog"
		c.Log.Syslog = &monitor.SyslogConfig{Network: network, Address: addr, Facility: 19, Tag: "web/" + c.ID[:8],
			Format: format}
	}
}

// gramReceiver listens for datagrams on a unix socket in a directory of
// the test's own.
func gramReceiver(t *testing.T) (*net.UnixConn, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, path
}

// receive reads n datagrams.
func receive(t *testing.T, conn net.PacketConn, n int) []string {
	t.Helper()
	var out []string
	buf := make([]byte, 64<<10)
	conn.SetReadDeadline(time.Now().Add(testTimeout))
	for len(out) < n {
		k, _, err := conn.ReadFrom(buf)
		if err != nil {
			t.Fatalf("after %d messages %q: %v", len(out), out, err)
		}
		out = append(out, string(buf[:k]))
	}
	return out
}

// TestSyslogFormats: each line is one message: the priority from the
// facility and the stream (info for stdout, err for stderr), the time,
// host, tag and the monitor's pid as Docker's formats place them, the
// line without its newline; an empty line is no message.
func TestSyslogFormats(t *testing.T) {
	host, _ := os.Hostname()
	stamp := `[A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d`
	rfc3339 := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d`
	zone := `(Z|[+-]\d\d:\d\d)`
	for _, tc := range []struct{ format, want string }{
		{monitor.SyslogFormatUnix, `^<PRI>` + stamp + ` TAG\[PID\]: MSG\n$`},
		{monitor.SyslogFormatRFC3164, `^<PRI>` + stamp + ` HOST TAG\[PID\]: MSG\n$`},
		{monitor.SyslogFormatRFC5424, `^<PRI>1 ` + rfc3339 + zone + ` HOST TAG PID TAG - MSG\n$`},
		{monitor.SyslogFormatRFC5424Micro, `^<PRI>1 ` + rfc3339 + `\.\d{6}` + zone + ` HOST TAG PID TAG - MSG\n$`},
	} {
		t.Run("format="+tc.format, func(t *testing.T) {
			conn, path := gramReceiver(t)
			ct := newContainer(t, sh(`echo out1; echo; echo err1 >&2; sleep 0.1; printf 'out2 "x"'`),
				syslogConfig("unixgram", path, tc.format))
			ct.start()
			if ex := ct.wait(); ex.ExitCode != 0 || ex.LogDropped != 0 {
				t.Fatalf("exit %+v", ex)
			}
			got := receive(t, conn, 3)
			for i, m := range []struct {
				pri int
				msg string
			}{{19<<3 | 6, "out1"}, {19<<3 | 3, "err1"}, {19<<3 | 6, `out2 "x"`}} {
				re := strings.NewReplacer("PRI", fmt.Sprint(m.pri), "HOST", regexp.QuoteMeta(host),
					"TAG", regexp.QuoteMeta(ct.cfg.Log.Syslog.Tag), "PID", fmt.Sprint(ct.c.Pid()),
					"MSG", regexp.QuoteMeta(m.msg)).Replace(tc.want)
				if !regexp.MustCompile(re).MatchString(got[i]) {
					t.Errorf("message %d = %q, want /%s/", i, got[i], re)
				}
			}
			if _, err := os.Stat(filepath.Join(ct.cfg.Dir(), monitor.DefaultLogName)); err == nil {
				t.Error("the syslog driver wrote a json-file log too")
			}
		})
	}
}

// TestSyslogNetworks: udp and tcp (newline-ended messages on the stream)
// reach a receiver on the loopback.
func TestSyslogNetworks(t *testing.T) {
	t.Run("udp", func(t *testing.T) {
		conn, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ct := newContainer(t, sh("echo a; echo b >&2"), syslogConfig("udp", conn.LocalAddr().String(), "rfc5424"))
		ct.start()
		ct.wait()
		got := receive(t, conn, 2)
		if !strings.HasPrefix(got[0], "<158>1 ") || !strings.HasSuffix(got[0], " - a\n") ||
			!strings.HasPrefix(got[1], "<155>1 ") || !strings.HasSuffix(got[1], " - b\n") {
			t.Errorf("messages %q", got)
		}
	})
	t.Run("tcp", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		const lines = 2000
		ct := newContainer(t, sh(fmt.Sprintf("seq 1 %d", lines)), syslogConfig("tcp", ln.Addr().String(), ""))
		ct.start()
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(testTimeout))
		sc := bufio.NewScanner(c)
		for i := 1; i <= lines; i++ {
			if !sc.Scan() {
				t.Fatalf("line %d: %v", i, sc.Err())
			}
			if want := fmt.Sprintf("]: %d", i); !strings.HasSuffix(sc.Text(), want) {
				t.Fatalf("line %d = %q", i, sc.Text())
			}
		}
		if ex := ct.wait(); ex.LogDropped != 0 {
			t.Errorf("exit %+v", ex)
		}
	})
}

// TestSyslogStreams: "unix" falls back to a stream socket when the
// receiver's is one (as syslog(3) does); a tcp receiver that goes away is
// dialled again, at most once a second, and gets the lines from then on.
func TestSyslogStreams(t *testing.T) {
	t.Run("unix-stream", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "log.sock")
		ln, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ct := newContainer(t, sh("echo one; echo two"), syslogConfig("unix", path, "rfc3164"))
		ct.start()
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(testTimeout))
		sc := bufio.NewScanner(c)
		for _, want := range []string{"]: one", "]: two"} {
			if !sc.Scan() || !strings.HasSuffix(sc.Text(), want) {
				t.Fatalf("got %q, %v; want ...%q", sc.Text(), sc.Err(), want)
			}
		}
	})
	t.Run("tcp-redial", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ct := newContainer(t, sh("i=0; while [ $i -lt 250 ]; do i=$((i+1)); echo l$i; sleep 0.01; done"),
			syslogConfig("tcp", ln.Addr().String(), ""))
		ct.start()
		first := acceptLine(t, ln)
		second := acceptLine(t, ln) // after the first connection was closed
		if first >= second {
			t.Errorf("line %d on the first connection, %d on the second", first, second)
		}
		if ex := ct.wait(); ex.LogDropped == 0 {
			t.Errorf("exit %+v: want the lines sent while redialling counted as dropped", ex)
		}
	})
}

// acceptLine accepts a connection, reads one "...]: lN" line, closes it
// and returns N.
func acceptLine(t *testing.T, ln net.Listener) int {
	t.Helper()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(testTimeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	n := 0
	if i := strings.LastIndex(line, "]: l"); err != nil || i < 0 {
		t.Fatalf("read %q: %v", line, err)
	} else {
		fmt.Sscanf(line[i+4:], "%d", &n)
	}
	return n
}

// TestSyslogNeverBlocks: with a receiver that reads nothing, and with
// none at all, the container writes everything and exits at once; the
// messages that did not fit are dropped and counted, not queued.
func TestSyslogNeverBlocks(t *testing.T) {
	const lines = 50000
	script := fmt.Sprintf("seq 1 %d", lines)
	t.Run("full", func(t *testing.T) {
		_, path := gramReceiver(t)
		ct := newContainer(t, sh(script), syslogConfig("unixgram", path, ""))
		ct.start()
		ex := ct.wait()
		if ex.ExitCode != 0 || ex.LogDropped == 0 || ex.LogDropped >= lines {
			t.Errorf("exit %+v: want some of %d messages dropped", ex, lines)
		}
	})
	t.Run("absent", func(t *testing.T) {
		ct := newContainer(t, sh(script), syslogConfig("unix", filepath.Join(t.TempDir(), "none.sock"), ""))
		ct.start()
		if ex := ct.wait(); ex.ExitCode != 0 || ex.LogDropped != lines {
			t.Errorf("exit %+v: want all %d messages dropped", ex, lines)
		}
	})
	t.Run("tcp-stalled", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		// Accepted by the kernel, never read: the socket and then the
		// monitor's bounded queue fill up.
		ct := newContainer(t, sh("seq 1 500000"), syslogConfig("tcp", ln.Addr().String(), ""))
		ct.start()
		if ex := ct.wait(); ex.ExitCode != 0 || ex.LogDropped == 0 {
			t.Errorf("exit %+v: want messages dropped", ex)
		}
	})
}
