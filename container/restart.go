package container

import (
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/errdefs"
)

// Restart backoff, as dockerd's restart manager: the first restart waits
// 100ms, each next one twice as long, at most a minute; a process that ran
// for 10 seconds or more starts the series again.
const (
	firstRestartDelay = 100 * time.Millisecond
	maxRestartDelay   = time.Minute
	resetAfterRunning = 10 * time.Second
)

// Backoff is a container's restart bookkeeping: how many times its policy
// restarted it, and the delay before the last of those restarts (0 before
// the first).
type Backoff struct {
	Count int
	Delay time.Duration
}

// ShouldRestart decides, when a container's process has exited (st holds
// the exit: ExitCode, StartedAt, FinishedAt), whether its restart policy
// starts it again, and returns the bookkeeping for that restart: next.Delay
// is how long to wait first, next.Count the new RestartCount. A container
// the user stopped or killed (manuallyStopped) is never restarted by its
// exit, whatever the policy: dockerd cancels the restart on a user's stop.
//
//	no              never
//	always          always
//	unless-stopped  always (a manual stop was handled above)
//	on-failure[:N]  on a non-zero exit code, at most N times (0: no limit)
func ShouldRestart(st State, p container.RestartPolicy, manuallyStopped bool, b Backoff) (bool, Backoff) {
	if manuallyStopped || !policyRestarts(st, p, b.Count) {
		return false, b
	}
	return true, Backoff{Count: b.Count + 1, Delay: nextDelay(st, b.Delay)}
}

// RestartOnDaemonStart reports whether the daemon, starting, should start
// again a container it finds stopped, as dockerd does for its restart
// policies: always does so even after a manual stop (that is what tells it
// from unless-stopped), unless-stopped only if the user did not stop it,
// on-failure if the last exit failed and retries are left. A container that
// was never started stays created.
func RestartOnDaemonStart(c *Container) bool {
	if !c.HasBeenStartedBefore || c.State.Dead || c.State.Removing {
		return false
	}
	p := c.RestartPolicy()
	if p.Name == container.RestartPolicyUnlessStopped && c.HasBeenManuallyStopped {
		return false
	}
	return policyRestarts(c.State, p, c.RestartCount)
}

func policyRestarts(st State, p container.RestartPolicy, count int) bool {
	switch p.Name {
	case container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		return true
	case container.RestartPolicyOnFailure:
		if p.MaximumRetryCount > 0 && count >= p.MaximumRetryCount {
			return false
		}
		return st.ExitCode != 0
	}
	return false
}

// nextDelay doubles the last delay, from 100ms up to a minute, or starts
// over when the process ran for 10 seconds or more.
func nextDelay(st State, last time.Duration) time.Duration {
	ran := st.FinishedAt.Sub(st.StartedAt)
	if last <= 0 || ran >= resetAfterRunning {
		return firstRestartDelay
	}
	return min(2*last, maxRestartDelay)
}

// ValidateRestartPolicy checks a policy from a create or update request,
// with dockerd's messages.
func ValidateRestartPolicy(p container.RestartPolicy) error {
	if err := container.ValidateRestartPolicy(p); err != nil {
		return errdefs.InvalidArgument(err)
	}
	return nil
}
