package container

import (
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/errdefs"
)

// exitAfter is the state of a process that ran for d and exited with code.
func exitAfter(code int, d time.Duration) State {
	var s State
	s.SetRunning(1, t0)
	s.SetStopped(Exit{Code: code, At: t0.Add(d)})
	return s
}

func policy(name container.RestartPolicyMode, max int) container.RestartPolicy {
	return container.RestartPolicy{Name: name, MaximumRetryCount: max}
}

func TestShouldRestartPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		policy container.RestartPolicy
		code   int
		manual bool
		count  int
		want   bool
	}{
		{"no", policy(container.RestartPolicyDisabled, 0), 1, false, 0, false},
		{"empty is no", policy("", 0), 1, false, 0, false},
		{"always on success", policy(container.RestartPolicyAlways, 0), 0, false, 0, true},
		{"always on failure", policy(container.RestartPolicyAlways, 0), 1, false, 7, true},
		{"always after a manual stop", policy(container.RestartPolicyAlways, 0), 137, true, 0, false},
		{"unless-stopped", policy(container.RestartPolicyUnlessStopped, 0), 0, false, 0, true},
		{"unless-stopped after a manual stop", policy(container.RestartPolicyUnlessStopped, 0), 143, true, 0, false},
		{"on-failure on success", policy(container.RestartPolicyOnFailure, 0), 0, false, 0, false},
		{"on-failure on failure", policy(container.RestartPolicyOnFailure, 0), 1, false, 0, true},
		{"on-failure without a limit", policy(container.RestartPolicyOnFailure, 0), 1, false, 1000, true},
		{"on-failure:3 after 2", policy(container.RestartPolicyOnFailure, 3), 1, false, 2, true},
		{"on-failure:3 after 3", policy(container.RestartPolicyOnFailure, 3), 1, false, 3, false},
		{"on-failure after a manual stop", policy(container.RestartPolicyOnFailure, 0), 137, true, 0, false},
	}
	for _, tt := range tests {
		got, next := ShouldRestart(exitAfter(tt.code, time.Second), tt.policy, tt.manual, Backoff{Count: tt.count})
		if got != tt.want {
			t.Errorf("%s: ShouldRestart = %v, want %v", tt.name, got, tt.want)
		}
		wantCount := tt.count
		if tt.want {
			wantCount++
		}
		if next.Count != wantCount {
			t.Errorf("%s: count %d, want %d", tt.name, next.Count, wantCount)
		}
	}
}

func TestShouldRestartBackoff(t *testing.T) {
	t.Parallel()
	always := policy(container.RestartPolicyAlways, 0)
	want := []time.Duration{
		100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
		800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond,
		6400 * time.Millisecond, 12800 * time.Millisecond, 25600 * time.Millisecond,
		51200 * time.Millisecond, time.Minute, time.Minute, time.Minute,
	}
	var b Backoff
	for i, w := range want {
		var ok bool
		ok, b = ShouldRestart(exitAfter(1, 50*time.Millisecond), always, false, b)
		if !ok || b.Delay != w || b.Count != i+1 {
			t.Fatalf("restart %d: %v, %+v; want delay %v", i+1, ok, b, w)
		}
	}
	// Ten seconds of running start the series over; 9.9 do not.
	if _, next := ShouldRestart(exitAfter(1, 9900*time.Millisecond), always, false, Backoff{Delay: 3200 * time.Millisecond}); next.Delay != 6400*time.Millisecond {
		t.Errorf("after 9.9s of running: delay %v, want 6.4s", next.Delay)
	}
	if _, next := ShouldRestart(exitAfter(1, 10*time.Second), always, false, Backoff{Delay: time.Minute}); next.Delay != 100*time.Millisecond {
		t.Errorf("after 10s of running: delay %v, want 100ms", next.Delay)
	}
	// A refusal leaves the bookkeeping as it was.
	prev := Backoff{Count: 3, Delay: 400 * time.Millisecond}
	if ok, next := ShouldRestart(exitAfter(0, time.Second), policy(container.RestartPolicyOnFailure, 0), false, prev); ok || next != prev {
		t.Errorf("no restart: %v, %+v; want false, %+v", ok, next, prev)
	}
}

func TestRestartOnDaemonStart(t *testing.T) {
	t.Parallel()
	mk := func(p container.RestartPolicy, started, manual bool, code, count int) *Container {
		c := &Container{
			HostConfig: &container.HostConfig{RestartPolicy: p}, HasBeenStartedBefore: started,
			HasBeenManuallyStopped: manual, RestartCount: count, State: exitAfter(code, time.Minute),
		}
		if !started {
			c.State = State{}
		}
		return c
	}
	tests := []struct {
		name string
		c    *Container
		want bool
	}{
		{"always", mk(policy(container.RestartPolicyAlways, 0), true, false, 0, 0), true},
		{"always, stopped by the user", mk(policy(container.RestartPolicyAlways, 0), true, true, 0, 0), true},
		{"always, never started", mk(policy(container.RestartPolicyAlways, 0), false, false, 0, 0), false},
		{"unless-stopped", mk(policy(container.RestartPolicyUnlessStopped, 0), true, false, 0, 0), true},
		{"unless-stopped, stopped by the user", mk(policy(container.RestartPolicyUnlessStopped, 0), true, true, 0, 0), false},
		{"on-failure, failed", mk(policy(container.RestartPolicyOnFailure, 2), true, false, 1, 1), true},
		{"on-failure, no retries left", mk(policy(container.RestartPolicyOnFailure, 2), true, false, 1, 2), false},
		{"on-failure, succeeded", mk(policy(container.RestartPolicyOnFailure, 0), true, false, 0, 0), false},
		{"no", mk(policy(container.RestartPolicyDisabled, 0), true, false, 1, 0), false},
		{"no host config", &Container{HasBeenStartedBefore: true, State: exitAfter(1, time.Second)}, false},
	}
	for _, tt := range tests {
		if got := RestartOnDaemonStart(tt.c); got != tt.want {
			t.Errorf("%s: RestartOnDaemonStart = %v, want %v", tt.name, got, tt.want)
		}
	}
	dead := mk(policy(container.RestartPolicyAlways, 0), true, false, 0, 0)
	dead.State.SetDead()
	if RestartOnDaemonStart(dead) {
		t.Error("a dead container comes back")
	}
}

func TestUserStarted(t *testing.T) {
	t.Parallel()
	c := &Container{RestartCount: 4, RestartDelay: time.Second, HasBeenManuallyStopped: true}
	c.UserStarted()
	if c.Backoff() != (Backoff{}) || c.HasBeenManuallyStopped || !c.HasBeenStartedBefore {
		t.Errorf("after a user's start: %+v", c)
	}
	c.SetBackoff(Backoff{Count: 2, Delay: 200 * time.Millisecond})
	if c.RestartCount != 2 || c.RestartDelay != 200*time.Millisecond {
		t.Errorf("SetBackoff: %+v", c)
	}
}

func TestValidateRestartPolicy(t *testing.T) {
	t.Parallel()
	for _, p := range []container.RestartPolicy{
		policy("sometimes", 0), policy(container.RestartPolicyAlways, 2), policy(container.RestartPolicyOnFailure, -1),
	} {
		if err := ValidateRestartPolicy(p); !errdefs.IsInvalidArgument(err) {
			t.Errorf("ValidateRestartPolicy(%+v) = %v, want InvalidArgument", p, err)
		}
	}
	if err := ValidateRestartPolicy(policy(container.RestartPolicyOnFailure, 5)); err != nil {
		t.Error(err)
	}
}
