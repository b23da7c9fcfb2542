package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

func TestFromConfig(t *testing.T) {
	tests := []struct {
		cfg   *container.HealthConfig
		shell []string
		ok    bool
		want  Settings
	}{
		{nil, nil, false, Settings{}},
		{&container.HealthConfig{}, nil, false, Settings{}},
		{&container.HealthConfig{Test: []string{"NONE"}}, nil, false, Settings{}},
		{&container.HealthConfig{Test: []string{"CMD"}}, nil, false, Settings{}},
		{&container.HealthConfig{Test: []string{"BOGUS", "x"}}, nil, false, Settings{}},
		{&container.HealthConfig{Test: []string{"CMD", "true", "-x"}}, nil, true,
			Settings{Argv: []string{"true", "-x"}, Interval: 30 * time.Second, Timeout: 30 * time.Second,
				StartInterval: 5 * time.Second, Retries: 3}},
		{&container.HealthConfig{Test: []string{"CMD-SHELL", "test -f /x"}, Interval: time.Second,
			Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, StartInterval: 4 * time.Second, Retries: 7}, nil, true,
			Settings{Argv: []string{"/bin/sh", "-c", "test -f /x"}, Interval: time.Second, Timeout: 2 * time.Second,
				StartPeriod: 3 * time.Second, StartInterval: 4 * time.Second, Retries: 7}},
		{&container.HealthConfig{Test: []string{"CMD-SHELL", "echo"}}, []string{"/bin/bash", "-ec"}, true,
			Settings{Argv: []string{"/bin/bash", "-ec", "echo"}, Interval: 30 * time.Second, Timeout: 30 * time.Second,
				StartInterval: 5 * time.Second, Retries: 3}},
	}
	for i, tt := range tests {
		got, ok := FromConfig(tt.cfg, tt.shell)
		if ok != tt.ok || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%d: FromConfig = %+v, %v; want %+v, %v", i, got, ok, tt.want, tt.ok)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg  *container.HealthConfig
		want string // "" for valid
	}{
		{nil, ""},
		{&container.HealthConfig{}, ""},
		{&container.HealthConfig{Test: []string{"NONE"}}, ""},
		{&container.HealthConfig{Test: []string{"CMD-SHELL", "true"}, Interval: time.Millisecond}, ""},
		{&container.HealthConfig{Interval: -time.Second}, "Interval in Healthcheck cannot be less than 1ms (got -1s)"},
		{&container.HealthConfig{Timeout: time.Microsecond}, "Timeout in Healthcheck cannot be less than 1ms"},
		{&container.HealthConfig{StartPeriod: -1}, "StartPeriod in Healthcheck cannot be less than 1ms"},
		{&container.HealthConfig{StartInterval: -1}, "StartInterval in Healthcheck cannot be less than 1ms"},
		{&container.HealthConfig{Retries: -1}, "Retries in Healthcheck cannot be negative"},
		{&container.HealthConfig{Test: []string{"CMD"}}, "Healthcheck test CMD has no command"},
		{&container.HealthConfig{Test: []string{"CMD-SHELL", ""}}, "Healthcheck test CMD-SHELL has no command"},
		{&container.HealthConfig{Test: []string{"SHELL", "x"}}, `Healthcheck test type "SHELL" is not one of`},
	}
	for i, tt := range tests {
		err := Validate(tt.cfg)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%d: Validate: %v", i, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%d: Validate = %v, want %q", i, err, tt.want)
		}
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// result is a check of exit code that started at t0 plus at.
func result(code int, at time.Duration) container.HealthcheckResult {
	return container.HealthcheckResult{Start: t0.Add(at), End: t0.Add(at + time.Millisecond), ExitCode: code,
		Output: fmt.Sprint(code, "@", at)}
}

// TestRecord walks the state machine through a sequence of results:
// the start period, retries, the streak reset by a success.
func TestRecord(t *testing.T) {
	s := Settings{Retries: 3, StartPeriod: 10 * time.Second}
	steps := []struct {
		code    int
		at      time.Duration
		status  container.HealthStatus
		streak  int
		changed bool
	}{
		{1, 1 * time.Second, container.Starting, 0, false}, // in the start period: does not count
		{1, 9 * time.Second, container.Starting, 0, false},
		{1, 10 * time.Second, container.Starting, 1, false}, // the period is over
		{1, 11 * time.Second, container.Starting, 2, false},
		{-1, 12 * time.Second, container.Unhealthy, 3, true}, // a timeout is a failure
		{2, 13 * time.Second, container.Unhealthy, 4, false},
		{0, 14 * time.Second, container.Healthy, 0, true},
		{1, 15 * time.Second, container.Healthy, 1, false},
		{0, 16 * time.Second, container.Healthy, 0, false}, // the streak resets
		{1, 17 * time.Second, container.Healthy, 1, false},
		{1, 18 * time.Second, container.Healthy, 2, false},
		{1, 19 * time.Second, container.Unhealthy, 3, true},
	}
	h := Begin(nil)
	for i, st := range steps {
		changed := Record(h, s, t0, result(st.code, st.at))
		if h.Status != st.status || h.FailingStreak != st.streak || changed != st.changed {
			t.Fatalf("step %d (exit %d at %v): %s streak %d changed %v; want %s %d %v", i, st.code, st.at,
				h.Status, h.FailingStreak, changed, st.status, st.streak, st.changed)
		}
		if want := min(i+1, MaxLogEntries); len(h.Log) != want {
			t.Fatalf("step %d: %d log entries, want %d", i, len(h.Log), want)
		}
		if last := h.Log[len(h.Log)-1]; last.ExitCode != st.code || !last.Start.Equal(t0.Add(st.at)) {
			t.Fatalf("step %d: last log entry %+v", i, last)
		}
	}
	// The log holds the last five results, oldest first.
	var got []string
	for _, r := range h.Log {
		got = append(got, r.Output)
	}
	if want := "1@15s 0@16s 1@17s 1@18s 1@19s"; strings.Join(got, " ") != want {
		t.Errorf("log %q, want %q", strings.Join(got, " "), want)
	}
	// A start begins again from starting, keeping the log.
	if h = Begin(h); h.Status != container.Starting || h.FailingStreak != 0 || len(h.Log) != MaxLogEntries {
		t.Errorf("Begin: %+v", h)
	}
}

// TestRecordStartPeriodSuccess: a success within the start period makes
// the container healthy at once, and failures count from then on.
func TestRecordStartPeriodSuccess(t *testing.T) {
	s := Settings{Retries: 1, StartPeriod: time.Minute}
	h := Begin(nil)
	if Record(h, s, t0, result(1, time.Second)) || h.Status != container.Starting {
		t.Fatalf("failure in the start period: %+v", h)
	}
	if !Record(h, s, t0, result(0, 2*time.Second)) || h.Status != container.Healthy {
		t.Fatalf("success in the start period: %+v", h)
	}
	if !Record(h, s, t0, result(1, 3*time.Second)) || h.Status != container.Unhealthy || h.FailingStreak != 1 {
		t.Fatalf("failure in the start period once healthy: %+v", h)
	}
}

func TestDelay(t *testing.T) {
	s := Settings{Interval: 30 * time.Second, StartInterval: 5 * time.Second, StartPeriod: time.Minute}
	tests := []struct {
		status container.HealthStatus
		since  time.Duration
		want   time.Duration
	}{
		{container.Starting, 0, 5 * time.Second},
		{container.Starting, 58 * time.Second, 2 * time.Second}, // no later than the period's end
		{container.Starting, time.Minute, 30 * time.Second},
		{container.Healthy, 0, 30 * time.Second},
		{container.Healthy, 50 * time.Second, 10 * time.Second},
		{container.Unhealthy, 2 * time.Minute, 30 * time.Second},
	}
	for _, tt := range tests {
		if got := Delay(s, tt.status, tt.since); got != tt.want {
			t.Errorf("Delay(%s, %v) = %v, want %v", tt.status, tt.since, got, tt.want)
		}
	}
	// Without a start period the interval applies from the start.
	if got := Delay(Settings{Interval: time.Second, StartInterval: time.Hour}, container.Starting, 0); got != time.Second {
		t.Errorf("no start period: %v", got)
	}
}

func TestParseAction(t *testing.T) {
	for in, want := range map[string]Action{"": ActionNone, "none": ActionNone, "kill": ActionKill,
		"stop": ActionStop, "restart": ActionRestart} {
		if got, err := ParseAction(in); err != nil || got != want {
			t.Errorf("ParseAction(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"Restart", "reboot", " kill"} {
		if _, err := ParseAction(in); err == nil || !strings.Contains(err.Error(), "want none, kill, restart or stop") {
			t.Errorf("ParseAction(%q): %v", in, err)
		}
	}
	_, err := ActionOf(map[string]string{ActionLabel: "explode"})
	if err == nil || !strings.Contains(err.Error(), `label io.corral.health-on-failure: invalid health-on-failure action "explode"`) {
		t.Errorf("ActionOf: %v", err)
	}
	if a, err := ActionOf(nil); err != nil || a != ActionNone {
		t.Errorf("ActionOf(nil) = %q, %v", a, err)
	}
}

func TestOutput(t *testing.T) {
	var o Output
	_, _ = io.WriteString(&o, strings.Repeat("a", MaxOutputLen-1))
	if o.String() != strings.Repeat("a", MaxOutputLen-1) {
		t.Fatal("short output changed")
	}
	n, err := io.WriteString(&o, "bcd")
	if n != 3 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if want := strings.Repeat("a", MaxOutputLen-1) + "b..."; o.String() != want {
		t.Errorf("truncated output ends %q", o.String()[MaxOutputLen-4:])
	}
}

// checkFunc is a Checker.
type checkFunc func(ctx context.Context, argv []string, out io.Writer) (int, error)

func (f checkFunc) Check(ctx context.Context, argv []string, out io.Writer) (int, error) {
	return f(ctx, argv, out)
}

// hang is a check that prints and then runs until it is killed.
var hang = checkFunc(func(ctx context.Context, _ []string, out io.Writer) (int, error) {
	_, _ = io.WriteString(out, "waiting")
	<-ctx.Done()
	return 137, ctx.Err()
})

func TestRun(t *testing.T) {
	s := Settings{Argv: []string{"check", "-v"}, Timeout: 50 * time.Millisecond}
	r, ok := Run(context.Background(), checkFunc(func(_ context.Context, argv []string, out io.Writer) (int, error) {
		_, _ = io.WriteString(out, strings.Join(argv, " "))
		return 3, nil
	}), s)
	if !ok || r.ExitCode != 3 || r.Output != "check -v" || r.End.Before(r.Start) {
		t.Errorf("exit 3: %+v %v", r, ok)
	}

	start := time.Now()
	r, ok = Run(context.Background(), hang, s)
	if !ok || r.ExitCode != -1 || r.Output != "Health check exceeded timeout (50ms): waiting" {
		t.Errorf("timeout: %+v %v", r, ok)
	}
	if d := time.Since(start); d < s.Timeout || d > 10*time.Second {
		t.Errorf("timeout after %v", d)
	}

	r, ok = Run(context.Background(), checkFunc(func(context.Context, []string, io.Writer) (int, error) {
		return 0, errors.New("exec failed: no such file")
	}), s)
	if !ok || r.ExitCode != -1 || r.Output != "exec failed: no such file" {
		t.Errorf("error: %+v %v", r, ok)
	}

	if _, ok = Run(context.Background(), checkFunc(func(context.Context, []string, io.Writer) (int, error) {
		return 0, ErrSkip
	}), s); ok {
		t.Error("a skipped check gave a result")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, ok = Run(ctx, hang, Settings{Timeout: time.Hour}); ok {
		t.Error("a check of an ended loop gave a result")
	}
}

// probe is a Probe whose checks exit with codes in turn.
type probe struct {
	mu    sync.Mutex
	codes []int
	runs  int
	h     *container.Health
	s     Settings
	stop  int // Record says stop after this many results
	// busy is set while a check runs, to catch overlapping checks.
	busy, overlap bool
}

func (p *probe) Check(context.Context, []string, io.Writer) (int, error) {
	p.mu.Lock()
	if p.busy {
		p.overlap = true
	}
	p.busy = true
	code := p.codes[p.runs%len(p.codes)]
	p.runs++
	p.mu.Unlock()
	time.Sleep(time.Millisecond) // a check takes time
	p.mu.Lock()
	p.busy = false
	p.mu.Unlock()
	return code, nil
}

func (p *probe) Record(r container.HealthcheckResult) (container.HealthStatus, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	Record(p.h, p.s, t0, r)
	return p.h.Status, len(p.h.Log) < p.stop
}

func TestLoop(t *testing.T) {
	s := Settings{Interval: time.Millisecond, StartInterval: time.Hour, Timeout: time.Second, Retries: 2}
	p := &probe{codes: []int{0, 1, 1}, h: Begin(nil), s: s, stop: 3}
	done := make(chan struct{})
	go func() { Loop(context.Background(), s, time.Now(), container.Starting, p); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Loop did not end when Record said so")
	}
	if p.runs != 3 || p.h.Status != container.Unhealthy || p.h.FailingStreak != 2 || p.overlap {
		t.Errorf("after 3 checks: runs %d, %+v, overlap %v", p.runs, p.h, p.overlap)
	}
}

func TestLoopEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := Settings{Interval: time.Millisecond, Timeout: time.Hour, Retries: 1}
	started := make(chan struct{})
	var once sync.Once
	check := checkFunc(func(ctx context.Context, argv []string, out io.Writer) (int, error) {
		once.Do(func() { close(started) })
		return hang(ctx, argv, out)
	})
	recorded := false
	done := make(chan struct{})
	go func() {
		Loop(ctx, s, time.Now(), container.Starting, struct {
			Checker
			recorder
		}{check, func(container.HealthcheckResult) (container.HealthStatus, bool) {
			recorded = true
			return container.Healthy, true
		}})
		close(done)
	}()
	<-started
	cancel() // while a check runs: it is killed, and not recorded
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Loop did not end with its context")
	}
	if recorded {
		t.Error("the killed check was recorded")
	}
}

// recorder is a Record method as a function.
type recorder func(container.HealthcheckResult) (container.HealthStatus, bool)

func (f recorder) Record(r container.HealthcheckResult) (container.HealthStatus, bool) { return f(r) }
