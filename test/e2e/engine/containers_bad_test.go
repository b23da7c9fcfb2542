package engine_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// state lists what the engine holds for containers: records, writable
// snapshots, bundles and monitors.
func (e *engine) state(t *testing.T) string {
	t.Helper()
	var all []string
	for _, pattern := range []string{filepath.Join(e.root(), "containers", "*"), filepath.Join(e.root(), "snapshots", "overlay", "snapshots", "*"),
		"/run/corral/roots/*/bundles/*", "/run/corral/roots/*/monitors/*"} {
		m, _ := filepath.Glob(pattern)
		all = append(all, m...)
	}
	sort.Strings(all)
	return strings.Join(all, "\n")
}

// TestContainersBadInput: refused requests, through docker and the raw
// API, with the messages and exit codes of docker 28 where they are the
// same, and nothing half-created left behind by any of them.
func TestContainersBadInput(t *testing.T) {
	e := newEngine(t)
	clean := e.state(t)
	nothingLeft := func(what string) {
		t.Helper()
		if out := e.ok(t, "ps", "-aq"); out != "" {
			t.Errorf("%s left containers: %q", what, out)
		}
		if now := e.state(t); now != clean {
			t.Errorf("%s left:\n%s\nwas:\n%s", what, now, clean)
		}
	}
	msg := e.fails(t, 125, "run", "--rm", "nosuchimage", "true")
	if !strings.Contains(msg, "Unable to find image 'nosuchimage:latest' locally") {
		t.Errorf("run of an unknown image: %q", msg)
	}
	nothingLeft("an unknown image")

	n := e.name(t)
	id := strings.TrimSpace(e.ok(t, "create", "--name", n, "busybox", "true"))
	msg = e.fails(t, 125, "run", "--name", n, "busybox", "true")
	if want := `Conflict. The container name "/` + n + `" is already in use by container "` + id +
		`". You have to remove (or rename) that container to be able to reuse that name.`; !strings.Contains(msg, want) {
		t.Errorf("a name in use: %q, want %q", msg, want)
	}
	e.ok(t, "rm", n)
	nothingLeft("a name in use")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-m", "abc"}, `invalid argument "abc" for "-m, --memory" flag`},
		{[]string{"--restart", "sometimes"}, "invalid restart policy"},
		{[]string{"--restart", "always:3"}, "maximum retry count can only be used with 'on-failure'"},
		{[]string{"--cpus", "-1"}, "--cpus"},
		{[]string{"--cpus", "1000"}, "Range of CPUs is from 0.01 to"},
		{[]string{"--cpuset-cpus", "1000"}, "Requested CPUs are not available - requested 1000"},
		{[]string{"-m", "1k"}, "6MB"},
		{[]string{"-m", "64m", "--memory-swap", "32m"}, "memory"},
		{[]string{"--stop-signal", "BOGUS"}, "Invalid signal: BOGUS"},
		{[]string{"--ulimit", "nofile=2048:1024"}, "ulimit soft limit must be less than or equal to hard limit"},
		{[]string{"--network", "nosuchnet"}, "network nosuchnet not found"},
		{[]string{"-w", "relative"}, "the working directory 'relative' is invalid, it needs to be an absolute path"},
	} {
		// Without --rm: each must fail at create, before any container exists.
		args := append(append([]string{"run"}, tc.args...), "busybox", "true")
		if msg := e.fails(t, 125, args...); !strings.Contains(msg, tc.want) {
			t.Errorf("%v: %q, want %q", tc.args, msg, tc.want)
		}
		nothingLeft(strings.Join(tc.args, " "))
	}

	for code, cmd := range map[int]string{127: "nosuchcmd", 126: "/etc/passwd"} {
		if msg := e.fails(t, code, "run", "--rm", "busybox", cmd); !strings.Contains(msg, cmd) {
			t.Errorf("run of %s: %q", cmd, msg)
		}
		nothingLeft("run --rm " + cmd)
	}
	kept := e.name(t)
	e.fails(t, 127, "run", "--name", kept, "busybox", "nosuchcmd")
	if c := e.inspect(t, kept); c.State.Running || c.State.ExitCode != 127 || !strings.Contains(c.State.Error, "nosuchcmd") {
		t.Errorf("a container whose start failed: %+v", c.State)
	}
	e.ok(t, "rm", kept)
	nothingLeft("a failed start")

	badAPI(t, e)
	nothingLeft("the bad API requests")
}

// badAPI: malformed, mistyped, empty, mislabelled and oversized bodies of
// POST /containers/create, sent with curl over the socket, each a 4xx with
// a message.
func badAPI(t *testing.T, e *engine) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	big := filepath.Join(t.TempDir(), "big.json")
	body := bytes.Repeat([]byte("a"), 11<<20)
	if err := os.WriteFile(big, append(append([]byte(`{"Image":"busybox","Cmd":["true"],"Env":["A=`), body...), `"]}`...), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, ctype, body string
		status            string
		want              string
	}{
		{"truncated", "application/json", `{"Image": "busybox", "Cmd": `, "400", "invalid JSON"},
		{"mistyped", "application/json", `{"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Memory": "x"}}`, "400", "Memory"},
		{"an array", "application/json", `[]`, "400", "invalid JSON"},
		{"empty", "application/json", ``, "400", "config cannot be empty in order to create a container"},
		{"no image", "application/json", `{"Cmd": ["true"]}`, "400", "no image specified"},
		{"text", "text/plain", `{"Image": "busybox", "Cmd": ["true"]}`, "400", "application/json"},
		{"oversized", "application/json", "@" + big, "413", "request body larger than 10485760 bytes"},
	} {
		data := "@-"
		if strings.HasPrefix(tc.body, "@") {
			data = tc.body
		}
		r := run(t, nil, tc.body, "curl", "-sS", "--unix-socket", strings.TrimPrefix(e.d.host, "unix://"), "-X", "POST",
			"-H", "Content-Type: "+tc.ctype, "--data-binary", data, "-w", "\n%{http_code}", "http://corral/v1.47/containers/create")
		i := strings.LastIndexByte(r.stdout, '\n')
		if i < 0 {
			t.Fatalf("curl: %v", r)
		}
		body, status := r.stdout[:i], r.stdout[i+1:]
		var msg apiError
		if err := json.Unmarshal([]byte(body), &msg); err != nil || status != tc.status || !strings.Contains(msg.Message, tc.want) {
			t.Errorf("create with a %s body: %v\nwant %s %q", tc.name, r, tc.status, tc.want)
		}
	}
}
