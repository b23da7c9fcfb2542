package engine_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/testutil"
)

// Logs end to end: rotation bounded on disk under a busy writer while
// logs -f gets every line once, the daemon's log defaults, the syslog
// driver, and bad log options, through the real docker CLI (and corral's).

// TestLogsRotationFollow: a container writes 20 MB of numbered lines as
// fast as it can with --log-opt max-size=1m --log-opt max-file=3. Its log
// files never hold more than 3 x 1 MB plus one entry, and a logs -f
// started before the writing gets every line exactly once, in order, even
// though the daemon is stopped for the first second, while the log
// rotates past max-file many times (the monitor hands the daemon each file
// as it makes it; the inotify follower it replaced lost lines there, and
// now and then on a loaded machine). Once
// the container exited, logs, --tail and --since read what the rotated
// files still hold, until rm.
func TestLogsRotationFollow(t *testing.T) {
	e := newEngine(t)
	const lines = 200000 // of 100 bytes: 20 MB
	script := `echo ready; while [ ! -e /tmp/go ]; do sleep 0.02; done; ` +
		fmt.Sprintf(`awk 'BEGIN { p = sprintf("%%090d", 0); for (i = 1; i <= %d; i++) printf "%%08d %%s\n", i, p }'`, lines)
	n := e.runD(t, "--log-opt", "max-size=1m", "--log-opt", "max-file=3", "busybox", "sh", "-c", script)
	c := e.inspect(t, n)
	if lc := c.HostConfig.LogConfig; lc.Type != "json-file" || lc.Config["max-size"] != "1m" || lc.Config["max-file"] != "3" {
		t.Errorf("LogConfig %+v", lc)
	}
	e.waitLog(t, n, "ready")

	follow := exec.Command("docker", "logs", "-f", n)
	follow.Env = append(append(os.Environ(), "CORRAL_HOST=", "DOCKER_HOST="), e.env...)
	out, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = follow.Process.Kill(); _ = follow.Wait() })
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "ready" {
		t.Fatalf("logs -f began with %q, %v", sc.Text(), sc.Err())
	}

	var maxDisk atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan int)
	go func() { sampled <- sampleDisk(c.LogPath, &maxDisk, stop) }()
	start := time.Now()
	e.ok(t, "exec", n, "touch", "/tmp/go")
	// The daemon is not scheduled for a second, as on a loaded machine,
	// while the log rotates past max-file about 10 times.
	stall(t, e.d.cmd.Process, time.Second)
	got, bad := 0, ""
	for sc.Scan() && bad == "" {
		got++
		if want := fmt.Sprintf("%08d ", got); !strings.HasPrefix(sc.Text(), want) || len(sc.Text()) != 99 {
			bad = fmt.Sprintf("line %d = %.20q", got, sc.Text())
		}
	}
	elapsed := time.Since(start)
	close(stop)
	samples := <-sampled
	if bad != "" || got != lines {
		t.Fatalf("logs -f: %d lines, want %d; %s", got, lines, bad)
	}
	if err := follow.Wait(); err != nil {
		t.Errorf("logs -f: %v", err)
	}
	// An entry is {"log":"<99 bytes>\n","stream":"stdout","time":"<35>"}\n.
	const entry, bound = 160, 3*1000000 + 160
	if m := maxDisk.Load(); m > bound || m < 2*1000000 {
		t.Errorf("log files held up to %d bytes (%d samples), want at most %d", m, samples, bound)
	}
	t.Logf("%d lines (20 MB) followed in %v; log files at most %d bytes (%d samples)", got, elapsed, maxDisk.Load(), samples)

	c = e.waitState(t, n, "to exit", func(c container.InspectResponse) bool { return !c.State.Running })
	files, _ := filepath.Glob(c.LogPath + "*")
	if len(files) != 3 {
		t.Errorf("log files %v, want 3", files)
	}
	all := strings.Split(strings.TrimSuffix(e.logs(t, n), "\n"), "\n")
	last := all[len(all)-1]
	if !strings.HasPrefix(last, fmt.Sprintf("%08d ", lines)) || len(all) < 2*1000000/entry || len(all) > 3*1000000/entry+1 {
		t.Errorf("logs after exit: %d lines, last %.20q", len(all), last)
	}
	first, _ := strconv.Atoi(strings.Fields(all[0])[0])
	for i, l := range all {
		if !strings.HasPrefix(l, fmt.Sprintf("%08d ", first+i)) {
			t.Fatalf("logs after exit: line %d = %.20q, want %08d", i, l, first+i)
		}
	}
	if tail := e.logs(t, n, "--tail", "2"); tail != all[len(all)-2]+"\n"+last+"\n" {
		t.Errorf("logs --tail 2: %q", tail)
	}
	if r := run(t, nil, "", testutil.EngineBinary(t), "-H", e.d.host, "logs", "--tail", "2", n); r.code != 0 ||
		r.stdout != all[len(all)-2]+"\n"+last+"\n" {
		t.Errorf("corral logs --tail 2: %v", r)
	}
	if since := e.logs(t, n, "--since", time.Now().Add(time.Hour).Format(time.RFC3339)); since != "" {
		t.Errorf("logs --since in an hour: %d bytes", len(since))
	}
	e.ok(t, "rm", n)
	if msg := e.fails(t, 1, "logs", n); !strings.Contains(msg, "No such container") {
		t.Errorf("logs after rm: %q", msg)
	}
	if left, _ := filepath.Glob(c.LogPath + "*"); len(left) > 0 {
		t.Errorf("rm left %v", left)
	}
}

// sampleDisk records the largest total size of the log's files until stop
// is closed, polling; it returns the number of samples.
func sampleDisk(path string, max *atomic.Int64, stop <-chan struct{}) int {
	n := 0
	for {
		select {
		case <-stop:
			return n
		default:
		}
		files, _ := filepath.Glob(path + "*")
		var total int64
		for _, f := range files {
			if st, err := os.Stat(f); err == nil {
				total += st.Size()
			}
		}
		if total > max.Load() {
			max.Store(total)
		}
		n++
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLogsDaemonDefaults: the daemon's log-opts (flags, or daemon.json)
// apply to containers that give none, under the container's own; a
// daemon whose defaults are bad does not start.
func TestLogsDaemonDefaults(t *testing.T) {
	e := newEngine(t)
	if err := e.d.stop(t); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(e.dir, "daemon.json")
	if err := os.WriteFile(conf, []byte(`{"log-driver": "json-file", "log-opts": {"max-size": "20k"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	e.args = append(e.args, "--config-file", conf, "--log-opt", "max-file=2")
	e.start(t)

	script := "i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done"
	n := e.name(t)
	e.ok(t, "run", "--name", n, "busybox", "sh", "-c", script)
	c := e.inspect(t, n)
	if lc := c.HostConfig.LogConfig; lc.Type != "json-file" || lc.Config["max-size"] != "20k" || lc.Config["max-file"] != "2" {
		t.Errorf("LogConfig with the daemon's defaults: %+v", lc)
	}
	files, _ := filepath.Glob(c.LogPath + "*")
	if len(files) != 2 {
		t.Errorf("log files %v, want 2", files)
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Size() > 20000 {
			t.Errorf("%s: %v bytes, %v; want at most 20000", f, st.Size(), err)
		}
	}
	if out := e.logs(t, n, "--tail", "1"); out != "line-1999\n" {
		t.Errorf("logs --tail 1: %q", out)
	}
	own := e.name(t)
	e.ok(t, "create", "--name", own, "--log-opt", "max-file=4", "busybox", "true")
	if lc := e.inspect(t, own).HostConfig.LogConfig; lc.Config["max-size"] != "20k" || lc.Config["max-file"] != "4" {
		t.Errorf("LogConfig with its own max-file: %+v", lc)
	}
	other := e.name(t)
	e.ok(t, "create", "--name", other, "--log-driver", "none", "busybox", "true")
	if lc := e.inspect(t, other).HostConfig.LogConfig; lc.Type != "none" || len(lc.Config) != 0 {
		t.Errorf("LogConfig of another driver: %+v", lc)
	}
	if msg := e.fails(t, 1, "logs", other); !strings.Contains(msg, "configured logging driver does not support reading") {
		t.Errorf("logs of a none container: %q", msg)
	}

	if out := e.ok(t, "info", "-f", "{{.LoggingDriver}}"); out != "json-file\n" {
		t.Errorf("docker info: logging driver %q", out)
	}
	if err := e.d.stop(t); err != nil {
		t.Fatal(err)
	}
	e.args = append(e.args, "--log-driver", "none")
	e.start(t)
	if out := e.ok(t, "info", "-f", "{{.LoggingDriver}}"); out != "none\n" {
		t.Errorf("docker info with --log-driver none: %q", out)
	}
	quiet := e.name(t)
	e.ok(t, "create", "--name", quiet, "busybox", "true")
	if lc := e.inspect(t, quiet).HostConfig.LogConfig; lc.Type != "none" {
		t.Errorf("LogConfig under a daemon with --log-driver none: %+v", lc)
	}

	dir := t.TempDir()
	cmd := exec.Command(testutil.EngineBinary(t), "daemon", "--host", "unix://"+filepath.Join(dir, "s.sock"),
		"--data-root", filepath.Join(dir, "root"), "--pidfile", filepath.Join(dir, "pid"), "--log-opt", "max-size=0")
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "max-size must be a positive number") {
		t.Errorf("a daemon with max-size=0: %v: %s", err, b)
	}
}

// TestLogsFollowDaemonRestart: a container logging numbered lines through
// a small rotating log (10k x 2) lives through a daemon killed with
// SIGKILL (a logs -f open then ends with an error: it was the daemon's
// connection) and one stopped with SIGTERM; a logs -f started after each
// restart follows on across rotations, every line once and in order, and
// ends well when the container stops.
func TestLogsFollowDaemonRestart(t *testing.T) {
	e := newEngine(t)
	n := e.runD(t, "--log-opt", "max-size=10k", "--log-opt", "max-file=2", "busybox", "sh", "-c",
		"i=0; while :; do i=$((i+1)); echo line-$i; sleep 0.002; done")
	before := e.dockerBG(t, "logs", "-f", n)
	before.waitOutput(t, "line-5\n")
	e.kill9(t)
	if code := before.wait(t); code == 0 {
		t.Errorf("logs -f ended well when the daemon died: %.200q", before.output())
	}
	e.restart(t)
	followFrom(t, e, n, false)
	if err := e.d.stop(t); err != nil {
		t.Fatal(err)
	}
	e.restart(t)
	followFrom(t, e, n, true)
}

// followFrom follows n's log from its last line until the log has
// rotated a few times, checking that the numbers run on by one; with stop,
// it then stops the container and the follower must end well.
func followFrom(t *testing.T, e *engine, n string, stop bool) {
	t.Helper()
	f := e.dockerBG(t, "logs", "-f", "--tail", "1", n)
	f.waitOutput(t, "\n")
	first := 0
	fmt.Sscanf(f.output(), "line-%d", &first)
	// 10k x 2 files hold ~700 lines: 3000 more rotate the log several times.
	eventually(t, 60*time.Second, "3000 lines followed", func() bool { return strings.Count(f.output(), "\n") > 3000 })
	if stop {
		e.ok(t, "stop", "-t", "1", n)
		if code := f.wait(t); code != 0 {
			t.Errorf("logs -f did not end well with the container: exit %d", code)
		}
	}
	got := strings.Split(f.output(), "\n")
	got = got[:len(got)-1] // the line being written, if any
	for i, l := range got {
		if want := fmt.Sprintf("line-%d", first+i); l != want {
			t.Fatalf("followed line %d = %q, want %q", i, l, want)
		}
	}
}

// TestLogsBadOptions: a log option out of range or unknown, or a driver
// this engine lacks, is refused at create with dockerd's message (exit
// 125), and nothing is created. Without options, json-file rotates.
func TestLogsBadOptions(t *testing.T) {
	e := newEngine(t)
	clean := e.state(t)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--log-opt", "max-size=0"}, "max-size must be a positive number"},
		{[]string{"--log-opt", "max-size=garbage"}, "invalid size: 'garbage'"},
		{[]string{"--log-opt", "max-file=0"}, "max-file cannot be less than 1"},
		{[]string{"--log-opt", "max-file=many"}, `max-file: invalid number "many"`},
		{[]string{"--log-opt", "colour=blue"}, "unknown log opt 'colour' for json-file log driver"},
		{[]string{"--log-opt", "compress=true"}, "compress=true of the json-file log driver is not supported"},
		{[]string{"--log-driver", "fluentd"}, "logger: no log driver named 'fluentd' is registered"},
		{[]string{"--log-driver", "journald"}, "logger: no log driver named 'journald' is registered"},
		{[]string{"--log-driver", "syslog", "--log-opt", "syslog-address=unix:///nonexistent.sock"}, "stat /nonexistent.sock: no such file or directory"},
		{[]string{"--log-driver", "syslog", "--log-opt", "syslog-address=ftp://x"}, "unsupported scheme: 'ftp'"},
		{[]string{"--log-driver", "syslog", "--log-opt", "syslog-facility=local9"}, "invalid syslog facility"},
		{[]string{"--log-driver", "syslog", "--log-opt", "syslog-format=rfc1"}, "invalid syslog format"},
		{[]string{"--log-driver", "syslog", "--log-opt", "max-size=1m"}, "unknown log opt 'max-size' for syslog log driver"},
	} {
		n := testutil.UniqueName(t)
		code := 125
		if strings.Contains(tc.msg, "no such file") {
			code = 127 // docker run's exit for any error that says so
		}
		msg := e.fails(t, code, append(append([]string{"run", "--name", n}, tc.args...), "busybox", "true")...)
		if !strings.Contains(msg, "Error response from daemon: ") || !strings.Contains(msg, tc.msg) {
			t.Errorf("run %v: %q, want %q", tc.args, msg, tc.msg)
		}
	}
	r := run(t, nil, "", testutil.EngineBinary(t), "-H", e.d.host, "run", "--log-opt", "max-file=0", "busybox", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "max-file cannot be less than 1") {
		t.Errorf("corral run with max-file=0: %v", r)
	}
	if out := e.ok(t, "ps", "-aq"); out != "" {
		t.Errorf("bad log options left containers: %q", out)
	}
	if now := e.state(t); now != clean {
		t.Errorf("bad log options left:\n%s\nwas:\n%s", now, clean)
	}
	// Unset, json-file rotates at 10m x 3, and inspect says so.
	n := e.name(t)
	e.ok(t, "create", "--name", n, "busybox", "true")
	if lc := e.inspect(t, n).HostConfig.LogConfig; lc.Type != "json-file" || lc.Config["max-size"] != "10m" ||
		lc.Config["max-file"] != "3" || len(lc.Config) != 2 {
		t.Errorf("default LogConfig %+v", lc)
	}
}

// TestLogsSyslog: --log-driver syslog sends each line to the receiver
// (a unix datagram socket and udp on the loopback, both the test's) in the
// format, facility and tag asked for; logs then gives dockerd's error, and
// what was sent outlives rm.
func TestLogsSyslog(t *testing.T) {
	e := newEngine(t)
	path := filepath.Join(t.TempDir(), "log.sock")
	gram, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer gram.Close()
	n := e.name(t)
	e.ok(t, "run", "--name", n, "--log-driver", "syslog", "--log-opt", "syslog-address=unixgram://"+path,
		"--log-opt", "syslog-facility=local4", "--log-opt", "syslog-format=rfc5424", "--log-opt", "tag={{.Name}}",
		"busybox", "sh", "-c", "echo hello; echo oops >&2")
	host, _ := os.Hostname()
	got := readDatagrams(t, gram, 2)
	for i, want := range []string{`<166>1 \S+ ` + regexp.QuoteMeta(host) + ` ` + n + ` \d+ ` + n + ` - hello\n`,
		`<163>1 \S+ ` + regexp.QuoteMeta(host) + ` ` + n + ` \d+ ` + n + ` - oops\n`} {
		if !regexp.MustCompile("^" + want + "$").MatchString(got[i]) {
			t.Errorf("message %d = %q, want /%s/", i, got[i], want)
		}
	}
	if msg := e.fails(t, 1, "logs", n); !strings.Contains(msg, "configured logging driver does not support reading") {
		t.Errorf("logs of a syslog container: %q", msg)
	}
	e.ok(t, "rm", n)

	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	id := strings.TrimSpace(e.ok(t, "run", "-d", "--log-driver", "syslog", "--log-opt", "syslog-address=udp://"+udp.LocalAddr().String(),
		"busybox", "echo", "over udp"))
	t.Cleanup(func() { e.docker(t, "", "rm", "-f", id) })
	got = readDatagrams(t, udp, 1)
	if want := `^<30>[A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d ` + id[:12] + `\[\d+\]: over udp\n$`; !regexp.MustCompile(want).MatchString(got[0]) {
		t.Errorf("udp message %q, want /%s/", got[0], want)
	}
}

// readDatagrams reads n datagrams.
func readDatagrams(t *testing.T, conn net.PacketConn, n int) []string {
	t.Helper()
	var out []string
	buf := make([]byte, 64<<10)
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for len(out) < n {
		k, _, err := conn.ReadFrom(buf)
		if err != nil {
			t.Fatalf("after %q: %v", out, err)
		}
		out = append(out, string(buf[:k]))
	}
	return out
}

// stall stops p for d (SIGSTOP, then SIGCONT): a process that is not
// scheduled.
func stall(t *testing.T, p *os.Process, d time.Duration) {
	t.Helper()
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("stop the daemon: %v", err)
	}
	defer func() {
		if err := p.Signal(syscall.SIGCONT); err != nil {
			t.Errorf("continue the daemon: %v", err)
		}
	}()
	time.Sleep(d) // the simulated stall
}
