package engine_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/testutil"
)

// TestHealth drives health checks through the real docker CLI and
// corral's against one daemon, each scenario in parallel with the others.
// Checks run every 100 ms, so the states come within a second.
func TestHealth(t *testing.T) {
	e := newEngine(t)
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *engine)
	}{
		{"Passing", testHealthPassing},
		{"Failing", testHealthFailing},
		{"Output", testHealthOutput},
		{"Flip", testHealthFlip},
		{"StartPeriod", testHealthStartPeriod},
		{"Timeout", testHealthTimeout},
		{"Image", testHealthImage},
		{"StopStart", testHealthStopStart},
		{"Pause", testHealthPause},
		{"OnFailureRestart", testHealthOnFailureRestart},
		{"OnFailureKillStop", testHealthOnFailureKillStop},
		{"CorralCLI", testHealthCorralCLI},
		{"BadInput", testHealthBadInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, e)
		})
	}
}

// fast are the health flags of a check every 100 ms.
var fast = []string{"--health-interval", "100ms", "--health-timeout", "5s"}

// runHealth runs a detached busybox sleeping with the check cmd and the
// extra flags.
func (e *engine) runHealth(t *testing.T, cmd string, flags ...string) string {
	t.Helper()
	args := append(append([]string{"--health-cmd", cmd}, fast...), flags...)
	return e.runD(t, append(args, "busybox", "sleep", "1000")...)
}

// waitHealth waits until name's health status is want and returns its
// inspect.
func (e *engine) waitHealth(t *testing.T, name string, want container.HealthStatus) container.InspectResponse {
	t.Helper()
	return e.waitState(t, name, "health "+string(want), func(c container.InspectResponse) bool {
		return c.State.Health != nil && c.State.Health.Status == want
	})
}

// healthEvents are the container events of name since since, as
// "action" lines, those of the checks' execs as "exec_create: CMD" and
// so on.
func (e *engine) healthEvents(t *testing.T, name, since string) []string {
	t.Helper()
	out := e.ok(t, "events", "--since", since, "--until", strconv.FormatInt(time.Now().Unix()+1, 10),
		"--filter", "container="+name, "--format", "{{.Action}}")
	return strings.Split(strings.TrimSpace(out), "\n")
}

// psStatus is the STATUS column of ps for name.
func (e *engine) psStatus(t *testing.T, name string) string {
	t.Helper()
	return strings.TrimSpace(e.ok(t, "ps", "-a", "--filter", "name=^"+name+"$", "--format", "{{.Status}}"))
}

// testHealthPassing: a passing check makes the container healthy, seen in
// inspect (Log with exit code, output and times), docker inspect --format,
// ps STATUS and ps --filter health, and the events (the check's exec
// events and health_status: healthy).
func testHealthPassing(t *testing.T, e *engine) {
	since := strconv.FormatInt(time.Now().Unix(), 10)
	n := e.runHealth(t, "echo ok-$((6*7))")
	c := e.waitHealth(t, n, container.Healthy)
	h := c.State.Health
	if h.FailingStreak != 0 || len(h.Log) == 0 {
		t.Fatalf("health %+v", h)
	}
	r := h.Log[len(h.Log)-1]
	t.Logf("a check took %v", r.End.Sub(r.Start))
	if r.ExitCode != 0 || r.Output != "ok-42\n" || r.Start.IsZero() || r.End.Before(r.Start) || r.Start.Before(startedAt(t, c)) {
		t.Errorf("log entry %+v", r)
	}
	if out := e.ok(t, "inspect", "--format", "{{.State.Health.Status}}", n); out != "healthy\n" {
		t.Errorf("docker inspect --format: %q", out)
	}
	if st := e.psStatus(t, n); !regexp.MustCompile(`^Up .* \(healthy\)$`).MatchString(st) {
		t.Errorf("ps STATUS %q", st)
	}
	if out := e.ok(t, "ps", "--filter", "health=healthy", "--filter", "name=^"+n+"$", "--format", "{{.Names}}"); out != n+"\n" {
		t.Errorf("ps --filter health=healthy: %q", out)
	}
	if out := e.ok(t, "ps", "--filter", "health=unhealthy", "--filter", "name=^"+n+"$", "-q"); out != "" {
		t.Errorf("ps --filter health=unhealthy: %q", out)
	}
	ev := e.healthEvents(t, n, since)
	want := []string{"create", "start", "exec_create: /bin/sh -c echo ok-$((6*7))",
		"exec_start: /bin/sh -c echo ok-$((6*7))", "exec_die", "health_status: healthy"}
	if len(ev) < len(want) || strings.Join(ev[:len(want)], "|") != strings.Join(want, "|") {
		t.Errorf("events:\n got %q\nwant %q...", ev, want)
	}
}

// startedAt is a container's State.StartedAt.
func startedAt(t *testing.T, c container.InspectResponse) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, c.State.StartedAt)
	if err != nil {
		t.Fatalf("StartedAt %q: %v", c.State.StartedAt, err)
	}
	return at
}

// testHealthFailing: a failing check makes the container unhealthy after
// --health-retries failures in a row, not before; a check that never ran
// leaves it starting.
func testHealthFailing(t *testing.T, e *engine) {
	since := strconv.FormatInt(time.Now().Unix(), 10)
	n := e.runHealth(t, "echo nope >&2; exit 3", "--health-retries", "4")
	slow := e.runD(t, "--health-cmd", "true", "--health-interval", "1h", "busybox", "sleep", "1000")
	c := e.waitHealth(t, n, container.Unhealthy)
	h := c.State.Health
	if h.FailingStreak < 4 || len(h.Log) < 4 {
		t.Fatalf("health %+v", h)
	}
	for _, r := range h.Log {
		if r.ExitCode != 3 || r.Output != "nope\n" {
			t.Errorf("log entry %+v", r)
		}
	}
	ev := e.healthEvents(t, n, since)
	var dies, first int
	for i, a := range ev {
		if a == "exec_die" {
			dies++
		}
		if a == "health_status: unhealthy" && first == 0 {
			first = i
			if dies != 4 {
				t.Errorf("unhealthy after %d checks, want 4: %q", dies, ev)
			}
		}
	}
	if first == 0 {
		t.Errorf("no health_status: unhealthy event: %q", ev)
	}
	if st := e.psStatus(t, n); !strings.HasSuffix(st, " (unhealthy)") {
		t.Errorf("ps STATUS %q", st)
	}
	if c := e.inspect(t, slow); c.State.Health == nil || c.State.Health.Status != container.Starting || len(c.State.Health.Log) != 0 {
		t.Errorf("a check every hour: %+v", c.State.Health)
	}
	if st := e.psStatus(t, slow); !strings.HasSuffix(st, " (health: starting)") {
		t.Errorf("ps STATUS while starting %q", st)
	}
}

// testHealthOutput: a check's output is kept up to 4096 bytes, then
// "..."; a CMD check whose program does not exist fails.
func testHealthOutput(t *testing.T, e *engine) {
	n := e.runHealth(t, "head -c 5000 /dev/zero | tr '\\0' a")
	c := e.waitHealth(t, n, container.Healthy)
	if out := c.State.Health.Log[0].Output; out != strings.Repeat("a", 4096)+"..." {
		t.Errorf("output of %d bytes: %.20q...%q", len(out), out, out[max(0, len(out)-20):])
	}
	m := e.name(t)
	body := `{"Image":"busybox","Cmd":["sleep","1000"],"Healthcheck":{"Test":["CMD","/no/such/check"],"Interval":100000000,"Retries":1}}`
	if st := e.api(t, "POST", "/containers/create?name="+m, strings.NewReader(body), nil); st != http.StatusCreated {
		t.Fatalf("create: %d", st)
	}
	e.ok(t, "start", m)
	c = e.waitHealth(t, m, container.Unhealthy)
	if r := c.State.Health.Log[0]; r.ExitCode == 0 || !strings.Contains(r.Output, "/no/such/check") {
		t.Errorf("a check that cannot run: %+v", r)
	}
}

// testHealthFlip: a check controlled by a file turns the container
// unhealthy, healthy, unhealthy and healthy again, with an event each time.
func testHealthFlip(t *testing.T, e *engine) {
	since := strconv.FormatInt(time.Now().Unix(), 10)
	n := e.runHealth(t, "test -e /tmp/ok", "--health-retries", "1")
	e.waitHealth(t, n, container.Unhealthy)
	e.ok(t, "exec", n, "touch", "/tmp/ok")
	if c := e.waitHealth(t, n, container.Healthy); c.State.Health.FailingStreak != 0 {
		t.Errorf("streak after a success: %+v", c.State.Health)
	}
	e.ok(t, "exec", n, "rm", "/tmp/ok")
	e.waitHealth(t, n, container.Unhealthy)
	e.ok(t, "exec", n, "touch", "/tmp/ok")
	e.waitHealth(t, n, container.Healthy)
	var got []string
	for _, a := range e.healthEvents(t, n, since) {
		if strings.HasPrefix(a, "health_status") {
			got = append(got, strings.TrimPrefix(a, "health_status: "))
		}
	}
	if strings.Join(got, " ") != "unhealthy healthy unhealthy healthy" {
		t.Errorf("health_status events: %q", got)
	}
	// docker events --filter event=health_status keeps those (dockerd's
	// filter matches the action before its colon).
	out := e.ok(t, "events", "--since", since, "--until", strconv.FormatInt(time.Now().Unix()+1, 10),
		"--filter", "container="+n, "--filter", "event=health_status", "--format", "{{.Action}}")
	want := "health_status: unhealthy\nhealth_status: healthy\nhealth_status: unhealthy\nhealth_status: healthy\n"
	if out != want {
		t.Errorf("events --filter event=health_status:\n%s", out)
	}
}

// testHealthStartPeriod: within --health-start-period, checks run every
// --health-start-interval and their failures do not count; a success
// makes the container healthy at once.
func testHealthStartPeriod(t *testing.T, e *engine) {
	n := e.runD(t, "--health-cmd", "test -e /tmp/ok", "--health-interval", "1h", "--health-retries", "1",
		"--health-start-period", "1h", "--health-start-interval", "100ms", "busybox", "sleep", "1000")
	c := e.waitState(t, n, "three checks", func(c container.InspectResponse) bool {
		return c.State.Health != nil && len(c.State.Health.Log) >= 3
	})
	if h := c.State.Health; h.Status != container.Starting || h.FailingStreak != 0 || h.Log[0].ExitCode != 1 {
		t.Errorf("failures in the start period: %+v", h)
	}
	e.ok(t, "exec", n, "touch", "/tmp/ok")
	e.waitHealth(t, n, container.Healthy)
}

// testHealthTimeout: a check that outlives --health-timeout is killed and
// counts as a failure (exit -1, dockerd's message).
func testHealthTimeout(t *testing.T, e *engine) {
	n := e.runD(t, "--health-cmd", "echo started; sleep 30", "--health-interval", "100ms",
		"--health-timeout", "300ms", "--health-retries", "2", "busybox", "sleep", "1000")
	c := e.waitHealth(t, n, container.Unhealthy)
	r := c.State.Health.Log[0]
	if r.ExitCode != -1 || r.Output != "Health check exceeded timeout (300ms): started\n" {
		t.Errorf("log entry %+v", r)
	}
	if d := r.End.Sub(r.Start); d < 300*time.Millisecond || d > 5*time.Second {
		t.Errorf("a check of 300 ms timeout took %v", d)
	}
	// The killed checks are gone: only the check under way may sleep.
	out := e.ok(t, "top", n)
	if k := strings.Count(out, "sleep 30"); k > 1 {
		t.Errorf("%d checks still run:\n%s", k, out)
	}
}

// testHealthImage: an image's HEALTHCHECK (from commit of a container with
// one) runs in containers of the image; --no-healthcheck turns it off.
func testHealthImage(t *testing.T, e *engine) {
	src := e.name(t)
	e.ok(t, "create", "--name", src, "--health-cmd", "echo from-image", "--health-interval", "100ms",
		"--health-retries", "7", "busybox", "true")
	img := strings.ToLower(e.name(t)) + ":hc"
	e.ok(t, "commit", src, img)
	t.Cleanup(func() { e.docker(t, "", "rmi", "-f", img) })
	if out := e.ok(t, "image", "inspect", "--format", "{{json .Config.Healthcheck.Test}}", img); out != `["CMD-SHELL","echo from-image"]`+"\n" {
		t.Fatalf("image healthcheck: %q", out)
	}
	since := strconv.FormatInt(time.Now().Unix(), 10)
	off := e.runD(t, "--no-healthcheck", img, "sleep", "1000")
	on := e.runD(t, img, "sleep", "1000")
	c := e.waitHealth(t, on, container.Healthy)
	if out := c.State.Health.Log[0].Output; out != "from-image\n" {
		t.Errorf("check output %q", out)
	}
	// A --health-* flag changes only its own field of the image's check.
	part := e.name(t)
	e.ok(t, "create", "--name", part, "--health-timeout", "3s", img, "sleep", "1000")
	if h := e.inspect(t, part).Config.Healthcheck; h == nil || strings.Join(h.Test, " ") != "CMD-SHELL echo from-image" ||
		h.Interval != 100*time.Millisecond || h.Timeout != 3*time.Second || h.Retries != 7 {
		t.Errorf("--health-timeout over the image's check: %+v", h)
	}
	// By now off's checks would have run too (it started first).
	c = e.inspect(t, off)
	if c.State.Health != nil || c.Config.Healthcheck == nil || c.Config.Healthcheck.Test[0] != "NONE" {
		t.Errorf("--no-healthcheck: health %+v, config %+v", c.State.Health, c.Config.Healthcheck)
	}
	for _, a := range e.healthEvents(t, off, since) {
		if strings.HasPrefix(a, "exec_") || strings.HasPrefix(a, "health_status") {
			t.Errorf("--no-healthcheck container had event %q", a)
		}
	}
	if st := e.psStatus(t, off); strings.Contains(st, "(") {
		t.Errorf("ps STATUS without a check %q", st)
	}
}

// testHealthStopStart: stop ends the checks (the status and log stay),
// start begins again from starting and the checks resume.
func testHealthStopStart(t *testing.T, e *engine) {
	n := e.runHealth(t, "test -e /tmp/ok", "--health-retries", "1")
	e.waitHealth(t, n, container.Unhealthy)
	e.ok(t, "stop", "-t", "0", n)
	stoppedAt := time.Now()
	if h := e.inspect(t, n).State.Health; h == nil || h.Status != container.Unhealthy {
		t.Fatalf("health after stop %+v", h)
	}
	// A stopped container is not checked while another container has
	// five checks.
	e.fiveChecks(t)
	if h := e.inspect(t, n).State.Health; checkedAfter(h, stoppedAt) {
		t.Errorf("checks of a container stopped at %v: %+v", stoppedAt, h)
	}
	e.ok(t, "start", n)
	c := e.inspect(t, n)
	if h := c.State.Health; h == nil || (h.Status != container.Starting && h.Status != container.Unhealthy) {
		t.Errorf("health after start %+v", h)
	}
	e.ok(t, "exec", n, "touch", "/tmp/ok")
	e.waitHealth(t, n, container.Healthy)
}

// checkedAfter reports whether h has the result of a check that started
// after at.
func checkedAfter(h *container.Health, at time.Time) bool {
	for _, r := range h.Log {
		if r.Start.After(at) {
			return true
		}
	}
	return false
}

// fiveChecks returns once a new container with checks every 100 ms had
// five: the time in which a container that is checked would have been
// checked a few times.
func (e *engine) fiveChecks(t *testing.T) {
	t.Helper()
	clock := e.runHealth(t, "true")
	eventually(t, 20*time.Second, "five checks", func() bool {
		h := e.inspect(t, clock).State.Health
		return h != nil && len(h.Log) == 5
	})
	e.ok(t, "rm", "-f", clock)
}

// testHealthPause: a paused container is not checked (nor judged by a
// check it froze); unpaused, its checks go on.
func testHealthPause(t *testing.T, e *engine) {
	n := e.runHealth(t, "test -e /tmp/ok", "--health-retries", "1")
	e.ok(t, "exec", n, "touch", "/tmp/ok")
	e.waitHealth(t, n, container.Healthy)
	e.ok(t, "pause", n)
	pausedAt := time.Now()
	e.fiveChecks(t)
	h := e.inspect(t, n).State.Health
	if h.Status != container.Healthy || checkedAfter(h, pausedAt) {
		t.Errorf("checks of a container paused at %v: %+v", pausedAt, h)
	}
	e.ok(t, "unpause", n)
	e.ok(t, "exec", n, "rm", "/tmp/ok")
	e.waitHealth(t, n, container.Unhealthy)
}

// testHealthOnFailureRestart: --health-on-failure=restart (a label, so it
// works from docker run too) stops an unhealthy container and starts it
// again, counted in RestartCount; the check passes after the restart.
func testHealthOnFailureRestart(t *testing.T, e *engine) {
	since := strconv.FormatInt(time.Now().Unix(), 10)
	n := e.runHealth(t, "test -e /tmp/ran || { touch /tmp/ran; exit 1; }", "--health-retries", "1",
		"--stop-timeout", "1", "--label", "io.corral.health-on-failure=restart")
	pid := e.inspect(t, n).State.Pid
	c := e.waitState(t, n, "restarted and healthy", func(c container.InspectResponse) bool {
		return c.RestartCount == 1 && c.State.Running && c.State.Health != nil && c.State.Health.Status == container.Healthy
	})
	if c.State.Pid == pid {
		t.Errorf("same pid %d after the restart", pid)
	}
	var got []string
	for _, a := range e.healthEvents(t, n, since) {
		if !strings.HasPrefix(a, "exec_") {
			got = append(got, a)
		}
	}
	want := "create start health_status: unhealthy kill kill die stop start restart health_status: healthy"
	if strings.Join(got, " ") != want {
		t.Errorf("events:\n got %q\nwant %q", strings.Join(got, " "), want)
	}
}

// testHealthOnFailureKillStop: kill sends SIGKILL (137), stop stops the
// container with its stop signal and timeout; neither starts it again.
func testHealthOnFailureKillStop(t *testing.T, e *engine) {
	kill := e.runHealth(t, "exit 1", "--health-retries", "1", "--label", "io.corral.health-on-failure=kill")
	stop := e.runD(t, "--health-cmd", "exit 1", "--health-interval", "100ms", "--health-retries", "1",
		"--label", "io.corral.health-on-failure=stop", "--stop-signal", "USR1", "busybox",
		"sh", "-c", "trap 'exit 42' USR1; while :; do sleep 0.05; done")
	// After a kill the restart policy applies: once here.
	policy := e.runHealth(t, "exit 1", "--health-retries", "1", "--label", "io.corral.health-on-failure=kill",
		"--restart", "on-failure:1")
	for _, tc := range []struct {
		name           string
		code, restarts int
	}{{kill, 137, 0}, {stop, 42, 0}, {policy, 137, 1}} {
		c := e.waitState(t, tc.name, "exited", func(c container.InspectResponse) bool {
			return !c.State.Running && c.RestartCount == tc.restarts
		})
		if c.State.ExitCode != tc.code || c.State.Health.Status != container.Unhealthy {
			t.Errorf("%s: exit %d, restarts %d, health %+v", tc.name, c.State.ExitCode, c.RestartCount, c.State.Health)
		}
	}
}

// testHealthCorralCLI: corral's own run takes --health-* and
// --health-on-failure, and its ps shows the health.
func testHealthCorralCLI(t *testing.T, e *engine) {
	n := e.name(t)
	e.corralOK(t, "", "run", "-d", "--name", n, "--health-cmd", "true", "--health-interval", "100ms",
		"--health-on-failure", "stop", "busybox", "sleep", "1000")
	c := e.waitHealth(t, n, container.Healthy)
	if c.Config.Labels["io.corral.health-on-failure"] != "stop" {
		t.Errorf("labels %v", c.Config.Labels)
	}
	out := e.corralOK(t, "", "ps", "--filter", "name=^"+n+"$", "--format", "{{.Status}}")
	if !regexp.MustCompile(`^Up .* \(healthy\)\n$`).MatchString(out) {
		t.Errorf("corral ps: %q", out)
	}
	r := run(t, e.env, "", testutil.EngineBinary(t), "run", "-d", "--health-on-failure", "reboot", "busybox", "true")
	if r.code != 125 || !strings.Contains(r.stderr, `invalid argument "reboot" for --health-on-failure: want none, kill, restart or stop`) {
		t.Errorf("bad --health-on-failure: %v", r)
	}
}

// testHealthBadInput: bad checks and actions are refused at create with a
// message that names the problem, and nothing is created.
func testHealthBadInput(t *testing.T, e *engine) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--health-interval", "-1s"}, "--health-interval cannot be negative"},
		{[]string{"--health-retries", "-2"}, "--health-retries cannot be negative"},
		{[]string{"--label", "io.corral.health-on-failure=explode"},
			`label io.corral.health-on-failure: invalid health-on-failure action "explode": want none, kill, restart or stop`},
	} {
		n := e.name(t)
		out := e.fails(t, 125, append(append([]string{"run", "-d", "--name", n}, tc.args...), "busybox", "true")...)
		if !strings.Contains(out, tc.want) {
			t.Errorf("%q: %q, want %q", tc.args, out, tc.want)
		}
		if e.exists(t, n) {
			t.Errorf("%q created %s", tc.args, n)
		}
	}
	// Through the API, past the CLI's checks.
	for _, tc := range []struct {
		body, want string
	}{
		{`{"Image":"busybox","Cmd":["true"],"Healthcheck":{"Test":["CMD","true"],"Interval":-1000000000}}`,
			"Interval in Healthcheck cannot be less than 1ms (got -1s)"},
		{`{"Image":"busybox","Cmd":["true"],"Healthcheck":{"Test":["CMD","true"],"Timeout":10}}`,
			"Timeout in Healthcheck cannot be less than 1ms (got 10ns)"},
		{`{"Image":"busybox","Cmd":["true"],"Healthcheck":{"Test":["CMD","true"],"Retries":-1}}`,
			"Retries in Healthcheck cannot be negative (got -1)"},
		{`{"Image":"busybox","Cmd":["true"],"Healthcheck":{"Test":["CMD-SHELL"]}}`, "Healthcheck test CMD-SHELL has no command"},
		{`{"Image":"busybox","Cmd":["true"],"Healthcheck":{"Test":["HTTP","/"]}}`,
			`Healthcheck test type "HTTP" is not one of NONE, CMD, CMD-SHELL`},
	} {
		n := e.name(t)
		var msg apiError
		if st := e.api(t, "POST", "/containers/create?name="+n, strings.NewReader(tc.body), &msg); st != http.StatusBadRequest || msg.Message != tc.want {
			t.Errorf("create %s: %d %q, want 400 %q", tc.body, st, msg.Message, tc.want)
		}
		if e.exists(t, n) {
			t.Errorf("create %s made %s", tc.body, n)
		}
	}
}

// TestHealthDaemonRestart: the checks of a running container resume when
// the daemon comes back after a SIGKILL (live restore), with the status
// it had.
func TestHealthDaemonRestart(t *testing.T) {
	e := newEngine(t)
	n := e.runHealth(t, "test -e /tmp/ok", "--health-retries", "1")
	e.ok(t, "exec", n, "touch", "/tmp/ok")
	e.waitHealth(t, n, container.Healthy)
	e.kill9(t)
	e.restart(t)
	if c := e.inspect(t, n); !c.State.Running || c.State.Health == nil || c.State.Health.Status != container.Healthy {
		t.Fatalf("after the daemon's restart: %+v", c.State)
	}
	e.ok(t, "exec", n, "rm", "/tmp/ok")
	e.waitHealth(t, n, container.Unhealthy)
}
