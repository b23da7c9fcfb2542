package monitor_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corral-dev/corral/monitor"
	"github.com/corral-dev/corral/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Black-box tests of the monitor process (cmd/corral-monitor, in C) for
// what the Go unit tests cover only inside the Go implementation: the
// json-file log's bytes, bad requests, back-pressure, clients that go away,
// the control files, start with and without poststart hooks.

// TestLogFormat: every entry is what Docker's json-file (and Go's
// encoding/json) writes: escapes, invalid UTF-8, U+2028, long lines split
// into partial entries, a last line without newline; ReadLogs reads it.
func TestLogFormat(t *testing.T) {
	script := `printf 'a<b>&c\001\t\342\200\250 \377x\n'; head -c 20000 /dev/zero | tr '\0' a; echo; ` +
		`printf 'e"\\\r\n' >&2; printf tail`
	ct := newContainer(t, sh(script), nil)
	ct.start()
	if ex := ct.wait(); ex.ExitCode != 0 {
		t.Fatalf("exit %+v", ex)
	}
	long := strings.Repeat("a", 20000) + "\n"
	want := map[string][]string{
		"stdout": {"a<b>&c\x01\t\u2028 \xffx\n", long[:16<<10], long[16<<10:], "tail"},
		"stderr": {"e\"\\\r\n"},
	}
	got := map[string][]string{}
	for _, line := range rawLogLines(t, ct.cfg.LogPath()) {
		var e struct {
			Log    string    `json:"log"`
			Stream string    `json:"stream"`
			Time   time.Time `json:"time"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q: %v", short(line), err)
		}
		got[e.Stream] = append(got[e.Stream], line)
	}
	for stream, msgs := range want {
		if len(got[stream]) != len(msgs) {
			t.Fatalf("%s: %d entries, want %d: %q", stream, len(got[stream]), len(msgs), got[stream])
		}
		for i, msg := range msgs {
			checkEntry(t, got[stream][i], msg, stream)
		}
	}
	// Stdout and stderr are read apart: their entries may interleave.
	for _, tc := range []struct {
		o    monitor.LogOptions
		want string
	}{
		{monitor.LogOptions{Stdout: true}, "a<b>&c\x01\t\u2028 \ufffdx\n" + long + "tail"},
		{monitor.LogOptions{Stderr: true}, "e\"\\\r\n"},
	} {
		var buf bytes.Buffer
		tc.o.Tail, tc.o.Raw = monitor.TailAll, true
		if err := monitor.ReadLogs(ctx(t), ct.cfg.LogPath(), tc.o, &buf); err != nil {
			t.Fatal(err)
		}
		if buf.String() != tc.want {
			t.Errorf("ReadLogs %+v = %q, want %q", tc.o, short(buf.String()), short(tc.want))
		}
	}
}

// checkEntry compares a raw log line with the one Go's encoding/json
// makes of msg at the line's own time.
func checkEntry(t *testing.T, line, msg, stream string) {
	t.Helper()
	var e struct {
		Time time.Time `json:"time"`
	}
	json.Unmarshal([]byte(line), &e)
	enc, _ := json.Marshal(msg)
	want := fmt.Sprintf(`{"log":%s,"stream":%q,"time":"%s"}`, enc, stream, e.Time.UTC().Format(time.RFC3339Nano))
	if line != want {
		t.Errorf("log line\n got %q\nwant %q", short(line), short(want))
	}
}

func short(s string) string {
	if len(s) > 200 {
		return s[:100] + "..." + s[len(s)-100:]
	}
	return s
}

// rawLogLines reads the current log file's lines.
func rawLogLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// TestLogRotationOneFile: MaxFiles 1 keeps only the current file, never
// past MaxSize, and its lines are the last ones, in order.
func TestLogRotationOneFile(t *testing.T) {
	const lines, maxSize = 3000, 8 << 10
	ct := newContainer(t, sh(fmt.Sprintf("i=0; while [ $i -lt %d ]; do echo line-$i; i=$((i+1)); done", lines)),
		func(_ *specs.Spec, c *monitor.Config) { c.Log.MaxSize, c.Log.MaxFiles = maxSize, 1 })
	ct.start()
	ct.wait()
	path := ct.cfg.LogPath()
	if st, err := os.Stat(path); err != nil || st.Size() > maxSize {
		t.Fatalf("log file: %v, %v", st, err)
	}
	if _, err := os.Stat(path + ".1"); err == nil {
		t.Error("a rotated file was kept with MaxFiles 1")
	}
	got := strings.Split(strings.TrimSuffix(logLines(t, ct.cfg), "\n"), "\n")
	for i, l := range got {
		if want := fmt.Sprintf("line-%d", lines-len(got)+i); l != want {
			t.Fatalf("log line %d = %q, want %q", i, l, want)
		}
	}
}

// TestBackPressure: a client that reads nothing holds the container's
// output up (the container cannot finish, the monitor does not queue it
// all), and then gets every byte.
func TestBackPressure(t *testing.T) {
	const size = 8 << 20
	ct := newContainer(t, sh(fmt.Sprintf("yes 0123456789abcdef | head -c %d; echo done", size)),
		func(_ *specs.Spec, c *monitor.Config) { c.AttachBuffer = 64 << 10 })
	s := ct.attach(false)
	ct.start()
	logSize := func() int64 {
		st, err := os.Stat(ct.cfg.LogPath())
		if err != nil {
			return 0
		}
		return st.Size()
	}
	for deadline := time.Now().Add(testTimeout); logSize() < 512<<10; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the output never reached the log")
		}
	}
	st, err := ct.c.Status(ctx(t))
	if err != nil || st.State != monitor.StateRunning {
		t.Fatalf("status while the client reads nothing = %+v, %v; want running", st, err)
	}
	if anon := smapsRollup(t, st.MonitorPid)["Anonymous"]; anon > 1024 {
		t.Errorf("monitor holds %d KiB of anonymous memory while held up", anon)
	}
	got := payload(t, readAll(t, s))
	if len(got) != size+len("done\n") {
		t.Errorf("client got %d bytes, want %d", len(got), size+5)
	}
	if ex := ct.wait(); ex.ExitCode != 0 {
		t.Fatalf("exit %+v", ex)
	}
}

// rawCall sends one request line as is and reads the answer.
func rawCall(t *testing.T, ct *container, req []byte) map[string]any {
	t.Helper()
	conn, err := net.Dial("unix", filepath.Join(ct.cfg.Dir(), "monitor.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(testTimeout))
	go conn.Write(req)
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		t.Fatalf("request %q: no answer: %v", short(string(req)), err)
	}
	var resp map[string]any
	if err := json.Unmarshal(line, &resp); err != nil {
		t.Fatalf("answer %q: %v", line, err)
	}
	return resp
}

// TestBadRequests: malformed, oversized, unknown and ill-typed requests
// are answered with an error and its class, and the monitor goes on.
func TestBadRequests(t *testing.T) {
	ct := running(t, nil)
	for _, tc := range []struct {
		name, req, class string
	}{
		{"malformed", "{not json\n", "invalid"},
		{"not an object", "[1,2]\n", "invalid"},
		{"unknown op", `{"op":"frobnicate"}` + "\n", "invalid"},
		{"ill-typed", `{"op":"signal","signal":"x"}` + "\n", "invalid"},
		{"signal 0", `{"op":"signal","signal":0}` + "\n", "invalid"},
		{"signal 65", `{"op":"signal","signal":65}` + "\n", "invalid"},
		{"update without resources", `{"op":"update"}` + "\n", "invalid"},
		{"exec without process", `{"op":"exec"}` + "\n", "invalid"},
		{"exec with bad process", `{"op":"exec","process":{"args":"sh"}}` + "\n", "invalid"},
		{"unknown exec", `{"op":"exec-wait","exec":"nope"}` + "\n", "notfound"},
		{"start twice", `{"op":"start"}` + "\n", "conflict"},
		{"resize without tty", `{"op":"resize","h":1,"w":1}` + "\n", "conflict"},
		{"too long", strings.Repeat("a", 1<<20+1), "invalid"},
	} {
		resp := rawCall(t, ct, []byte(tc.req))
		if resp["error"] == nil || resp["class"] != tc.class {
			t.Errorf("%s: answer %v, want an error of class %s", tc.name, resp, tc.class)
		}
	}
	st, err := ct.c.Status(ctx(t))
	if err != nil || st.State != monitor.StateRunning {
		t.Errorf("status after bad requests = %+v, %v", st, err)
	}
}

// TestClientGoneMidStream: attach and exec clients that close in the
// middle of a flood of output leave the monitor serving.
func TestClientGoneMidStream(t *testing.T) {
	ct := newContainer(t, []string{"yes"}, func(_ *specs.Spec, c *monitor.Config) { c.Log.MaxSize = 1 << 20 })
	s := ct.attach(false)
	ct.start()
	readSome(t, s)
	s.Close()
	s2 := ct.attach(false)
	readSome(t, s2)
	s2.Close()
	e, err := ct.c.Exec(ctx(t), monitor.ExecOptions{ID: "flood", Process: process("yes")})
	if err != nil {
		t.Fatal(err)
	}
	readSome(t, e)
	e.Close()
	if err := ct.c.ExecSignal(ctx(t), "flood", syscall.SIGKILL); err != nil {
		t.Errorf("signal the exec: %v", err)
	}
	if code, err := ct.c.ExecWait(ctx(t), "flood"); err != nil || code != 128+9 {
		t.Errorf("exec wait = %d, %v", code, err)
	}
	if err := ct.c.Signal(ctx(t), syscall.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	if ex := ct.wait(); ex.ExitCode != 128+9 {
		t.Errorf("exit %+v", ex)
	}
}

func readSome(t *testing.T, r io.Reader) {
	t.Helper()
	if _, err := io.ReadFull(r, make([]byte, 64<<10)); err != nil {
		t.Fatalf("read: %v", err)
	}
}

// TestControlFiles: monitor.sock is 0600, monitor.pid names the monitor
// and its start time, exit.json is there once it exited.
func TestControlFiles(t *testing.T) {
	ct := running(t, nil)
	st, err := ct.c.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(ct.cfg.Dir(), "monitor.sock"))
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("monitor.sock: %v, %v", fi, err)
	}
	data, err := os.ReadFile(filepath.Join(ct.cfg.Dir(), "monitor.pid"))
	f := strings.Fields(string(data))
	if err != nil || len(f) != 2 || f[0] != strconv.Itoa(st.MonitorPid) || f[1] != procStart(t, st.MonitorPid) {
		t.Errorf("monitor.pid = %q, %v; monitor %d", data, err, st.MonitorPid)
	}
	ct.c.Signal(ctx(t), syscall.SIGKILL, false)
	ex := ct.wait()
	var rec monitor.ExitStatus
	data, err = os.ReadFile(filepath.Join(ct.cfg.Dir(), "exit.json"))
	if err != nil || json.Unmarshal(data, &rec) != nil || rec.ExitCode != 128+9 || rec.Pid != st.Pid ||
		!rec.ExitedAt.Equal(ex.ExitedAt) || !rec.StartedAt.Equal(st.StartedAt) {
		t.Errorf("exit.json = %s, %v; wait said %+v", data, err, ex)
	}
}

func procStart(t *testing.T, pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[19]
}

// TestStartPaths: without poststart hooks the monitor starts the container
// itself (the runtime's exec.fifo is gone); with one, through the runtime,
// which runs the hook.
func TestStartPaths(t *testing.T) {
	ct := newContainer(t, []string{"echo", "fast"}, nil)
	s := ct.attach(false)
	ct.start()
	if stdout, _ := demux(t, s); stdout != "fast\n" {
		t.Errorf("output %q", stdout)
	}
	if _, err := os.Stat(filepath.Join(runtimeRoot, ct.cfg.ID, "exec.fifo")); err == nil {
		t.Error("exec.fifo is still there after start")
	}
	ct.wait()

	mark := filepath.Join(t.TempDir(), "poststart")
	hooked := newContainer(t, []string{"sleep", "1000"}, func(s *specs.Spec, _ *monitor.Config) {
		s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo ran > " + mark}}}}
	})
	hooked.start()
	if data, err := os.ReadFile(mark); err != nil || string(data) != "ran\n" {
		t.Errorf("poststart hook: %q, %v", data, err)
	}
	if err := hooked.c.Start(ctx(t)); err == nil {
		t.Error("a second start succeeded")
	}
}

// TestWaitersAndExit: several waiters all get the exit; a wait after the
// monitor is gone reads exit.json.
func TestWaitersAndExit(t *testing.T) {
	ct := running(t, nil)
	done := make(chan *monitor.ExitStatus, 3)
	wctx := ctx(t)
	for i := 0; i < 3; i++ {
		go func() {
			ex, _ := ct.c.Wait(wctx)
			done <- ex
		}()
	}
	ct.c.Signal(ctx(t), syscall.SIGKILL, true)
	for i := 0; i < 3; i++ {
		if ex := <-done; ex == nil || ex.ExitCode != 137 {
			t.Errorf("waiter %d: %+v", i, ex)
		}
	}
	waitGone(t, filepath.Join(ct.cfg.Dir(), "monitor.sock"))
	if ex := ct.wait(); ex.ExitCode != 137 || !bytes.Contains([]byte(fmt.Sprint(ex.ExitedAt)), []byte("UTC")) {
		t.Errorf("wait after exit: %+v", ex)
	}
}

// TestStartLatency logs how long monitor.Start takes (the monitor's exec,
// its runtime create, its ready report) and then Client.Start, averaged
// over $MONITOR_START_N containers (5 by default): the figures to compare
// monitors by (CORRAL_MONITOR_BINARY), since the runtime's share is the
// same for all.
func TestStartLatency(t *testing.T) {
	testutil.RequireRoot(t)
	n := 5
	if v, err := strconv.Atoi(os.Getenv("MONITOR_START_N")); err == nil && v > 0 {
		n = v
	}
	var create, start time.Duration
	for i := 0; i < n; i++ {
		bundle, spec := testutil.NewBundle(t)
		spec.Process.Args = []string{"sleep", "1000"}
		testutil.WriteSpec(t, bundle, spec)
		cfg := monitor.Config{ID: testutil.UniqueName(t), StateDir: stateDir, Bundle: bundle,
			RuntimeRoot: runtimeRoot, Binary: monitorBinary(t)}
		t0 := time.Now()
		c, err := monitor.Start(ctx(t), cfg)
		if err != nil {
			t.Fatal(err)
		}
		ct := &container{t: t, cfg: cfg, c: c}
		t.Cleanup(ct.cleanup)
		t1 := time.Now()
		ct.start()
		create, start = create+t1.Sub(t0), start+time.Since(t1)
		ct.c.Signal(ctx(t), syscall.SIGKILL, false)
		ct.wait()
	}
	t.Logf("%d containers: monitor.Start %v, Client.Start %v (means)", n, create/time.Duration(n), start/time.Duration(n))
}

// TestMemoryAfterTraffic: what a burst of output to a slow client and a
// large request took is given back once the monitor is quiet.
func TestMemoryAfterTraffic(t *testing.T) {
	const size = 4 << 20
	ct := newContainer(t, sh(fmt.Sprintf("yes 0123456789abcdef | head -c %d; exec sleep 1000", size)), nil)
	s := ct.attach(false)
	ct.start()
	if _, err := io.ReadFull(s, make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	rawCall(t, ct, append(bytes.Repeat([]byte(" "), 1<<20-64), []byte(`{"op":"status"}`+"\n")...))
	st, err := ct.c.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	anon := 0
	for deadline := time.Now().Add(testTimeout); ; time.Sleep(50 * time.Millisecond) {
		if anon = smapsRollup(t, st.MonitorPid)["Anonymous"]; anon <= 256 || time.Now().After(deadline) {
			break
		}
	}
	if anon > 256 {
		t.Errorf("monitor keeps %d KiB of anonymous memory after the traffic", anon)
	}
}

// untrustedEnv makes the test binary a client that sends a status request
// to the socket the variable names and prints what became of it.
const untrustedEnv = "CORRAL_MONITOR_TEST_UNTRUSTED"

func untrustedClient(path string) int {
	conn, err := net.Dial("unix", path)
	if err != nil {
		fmt.Println("dial:", err)
		return 1
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(testTimeout))
	conn.Write([]byte(`{"op":"status"}` + "\n"))
	if line, err := bufio.NewReader(conn).ReadBytes('\n'); err == nil {
		fmt.Printf("answered: %s", line)
		return 0
	}
	fmt.Println("closed")
	return 0
}

// TestUntrustedPeer: a peer of another uid that reaches the socket (here
// made world-writable for the test; it is 0600) gets no answer, and the
// monitor goes on serving.
func TestUntrustedPeer(t *testing.T) {
	ct := running(t, nil)
	sock := filepath.Join(ct.cfg.Dir(), "monitor.sock")
	dir := t.TempDir()
	for _, d := range []string{dir, ct.cfg.Dir()} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.Chmod(ct.cfg.Dir(), 0o700) })
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "client")
	data, err := os.ReadFile(os.Args[0])
	if err != nil || os.WriteFile(bin, data, 0o755) != nil {
		t.Fatalf("copy the test binary: %v", err)
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{untrustedEnv + "=" + sock}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "closed" {
		t.Errorf("untrusted client: %q, %v", out, err)
	}
	if st, err := ct.c.Status(ctx(t)); err != nil || st.State != monitor.StateRunning {
		t.Errorf("status after the untrusted peer = %+v, %v", st, err)
	}
}

// TestEmptyStrings: an empty string in a request decodes to "" (it was an
// unterminated buffer: the monitor read, and echoed, heap bytes past it).
func TestEmptyStrings(t *testing.T) {
	ct := running(t, nil)
	// Requests that leave freed buffers of the same size full of bytes.
	for i := 0; i < 4; i++ {
		rawCall(t, ct, []byte(`{"op":"`+strings.Repeat("A", 40)+`"}`+"\n"))
	}
	for _, tc := range []struct {
		req, class, msg string
	}{
		{`{"op":""}`, "invalid", `unknown operation ""`},
		{`{"op":"resize","exec":"","h":1,"w":1}`, "conflict", "the process has no terminal"},
	} {
		resp := rawCall(t, ct, []byte(tc.req+"\n"))
		if resp["class"] != tc.class || resp["error"] != tc.msg {
			t.Errorf("%s: answer %q, want %s error %q", tc.req, resp, tc.class, tc.msg)
		}
	}
}

// TestIdleClientsDoNotSpin: clients that wait with bytes after their
// request, or whose exec stdin went bad, then close their side, leave the
// monitor idle (the loop used to poll their input forever without
// reading it).
func TestIdleClientsDoNotSpin(t *testing.T) {
	ct := running(t, nil)
	exec := `{"op":"exec","exec":"idle","stdin":true,"process":{"args":["sleep","1000"],"cwd":"/","env":["PATH=/bin"]}}` + "\n"
	for _, tc := range []struct{ name, req, after string }{
		{"wait with trailing bytes", `{"op":"wait"}` + "\nxyz", ""},
		{"exec with a bad stdin frame", exec, "\x01\x00\x00\x00\x00\x00\x00\x01x"},
	} {
		conn, err := net.Dial("unix", filepath.Join(ct.cfg.Dir(), "monitor.sock"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(testTimeout))
		if _, err := conn.Write([]byte(tc.req)); err != nil {
			t.Fatal(err)
		}
		if tc.after != "" {
			if line, err := bufio.NewReader(conn).ReadBytes('\n'); err != nil || !strings.Contains(string(line), `"pid"`) {
				t.Fatalf("%s: answer %q, %v", tc.name, line, err)
			}
			conn.Write([]byte(tc.after))
		}
		conn.(*net.UnixConn).CloseWrite()
		st, err := ct.c.Status(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		before := cpuTicks(t, st.MonitorPid)
		time.Sleep(300 * time.Millisecond) // the window measured, not a synchronisation
		if used := cpuTicks(t, st.MonitorPid) - before; used > 5 {
			t.Errorf("%s: the monitor used %d ticks of CPU in 300 ms idle", tc.name, used)
		}
	}
}

// cpuTicks is the user+system time of pid in clock ticks.
func cpuTicks(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	u, err1 := strconv.Atoi(f[11])
	s, err2 := strconv.Atoi(f[12])
	if err1 != nil || err2 != nil {
		t.Fatalf("parse /proc/%d/stat: %q", pid, data)
	}
	return u + s
}

// TestExecConsoleSocketFails: an exec with a terminal whose console socket
// cannot be made fails and leaves no descriptor or file behind.
func TestExecConsoleSocketFails(t *testing.T) {
	ct := running(t, nil)
	st, err := ct.c.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	// The first exec's console socket is exec-1.sock: a directory in the
	// way makes it fail.
	if err := os.MkdirAll(filepath.Join(ct.cfg.Dir(), "exec-1.sock", "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	before := openFiles(t, st.MonitorPid)
	p := process("true")
	p.Terminal = true
	if _, err := ct.c.Exec(ctx(t), monitor.ExecOptions{ID: "tty", Process: p}); err == nil {
		t.Fatal("exec with no console socket succeeded")
	}
	// The monitor closes the request's connection just after it answered.
	for deadline := time.Now().Add(testTimeout); ; time.Sleep(5 * time.Millisecond) {
		fd, file := newFile(before, openFiles(t, st.MonitorPid))
		if fd == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failed exec left fd %s open on %s", fd, file)
		}
	}
	if _, err := os.Stat(filepath.Join(ct.cfg.Dir(), "exec-1.json")); !os.IsNotExist(err) {
		t.Errorf("exec-1.json left behind: %v", err)
	}
}

// openFiles maps the descriptors of pid to what they are open on.
func openFiles(t *testing.T, pid int) map[string]string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]string, len(ents))
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil {
			m[e.Name()] = l
		}
	}
	return m
}

// newFile is a descriptor of after that before did not have.
func newFile(before, after map[string]string) (fd, file string) {
	for fd, file := range after {
		if before[fd] != file {
			return fd, file
		}
	}
	return "", ""
}
