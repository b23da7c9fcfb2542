// Package health is the container health check without containers: the
// settings a HealthConfig resolves to (Docker's defaults, CMD and
// CMD-SHELL forms, NONE), their validation, the state machine of
// container.Health (starting, healthy, unhealthy; failing streak, start
// period, a log of the last five results), the delay before the next
// check, one check run under its timeout (Run) and the loop that runs
// checks while a container runs (Loop). What a check does in a container
// (an exec through the container's monitor) and what the daemon does with
// a result belong to the daemon; they reach this package through the
// small Checker and Probe interfaces.
//
// It follows dockerd's health checks: the first check runs one interval
// after the start; a check that exits 0 makes the container healthy at
// once and resets the streak; any other exit (a timeout counts as exit
// -1) adds to the streak, and Retries failures in a row make it
// unhealthy; failures while the container is starting and within the
// start period do not count.
package health

import (
	"errors"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/container"
)

// Docker's defaults for a HealthConfig's zero fields.
const (
	DefaultInterval      = 30 * time.Second
	DefaultTimeout       = 30 * time.Second
	DefaultStartPeriod   = 0
	DefaultStartInterval = 5 * time.Second
	DefaultRetries       = 3
)

// MinimumDuration is the shortest non-zero duration a HealthConfig may
// set, as dockerd's.
const MinimumDuration = time.Millisecond

// MaxLogEntries is how many results Health.Log keeps; MaxOutputLen how
// many bytes of a check's output a result keeps.
const (
	MaxLogEntries = 5
	MaxOutputLen  = 4096
)

// Settings are a health check with Docker's defaults applied.
type Settings struct {
	// Argv is the command a check runs in the container.
	Argv                                          []string
	Interval, Timeout, StartPeriod, StartInterval time.Duration
	Retries                                       int
}

// FromConfig resolves cfg: CMD runs its arguments, CMD-SHELL runs them
// with shell (the container's SHELL, /bin/sh -c without one). It reports
// false when there is no check to run: no config, an empty test (which
// means "inherit" and was resolved at create) or NONE.
func FromConfig(cfg *container.HealthConfig, shell []string) (Settings, bool) {
	if cfg == nil || len(cfg.Test) < 2 {
		return Settings{}, false
	}
	var argv []string
	switch cfg.Test[0] {
	case "CMD":
		argv = append(argv, cfg.Test[1:]...)
	case "CMD-SHELL":
		if len(shell) == 0 {
			shell = []string{"/bin/sh", "-c"}
		}
		argv = append(append(argv, shell...), cfg.Test[1:]...)
	default:
		return Settings{}, false
	}
	s := Settings{Argv: argv, Interval: orDefault(cfg.Interval, DefaultInterval),
		Timeout: orDefault(cfg.Timeout, DefaultTimeout), StartPeriod: orDefault(cfg.StartPeriod, DefaultStartPeriod),
		StartInterval: orDefault(cfg.StartInterval, DefaultStartInterval), Retries: cfg.Retries}
	if s.Retries <= 0 {
		s.Retries = DefaultRetries
	}
	return s, true
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Validate checks a HealthConfig as dockerd does at create (durations of
// at least MinimumDuration when set, retries not negative), and also
// refuses a test whose form is not NONE, CMD or CMD-SHELL, or CMD and
// CMD-SHELL without a command, which dockerd would silently never run.
func Validate(cfg *container.HealthConfig) error {
	if cfg == nil {
		return nil
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Interval", cfg.Interval}, {"Timeout", cfg.Timeout}, {"StartPeriod", cfg.StartPeriod},
		{"StartInterval", cfg.StartInterval}} {
		if d.v != 0 && d.v < MinimumDuration {
			return fmt.Errorf("%s in Healthcheck cannot be less than %s (got %s)", d.name, MinimumDuration, d.v)
		}
	}
	if cfg.Retries < 0 {
		//lint:ignore ST1005 dockerd's wording.
		return fmt.Errorf("Retries in Healthcheck cannot be negative (got %d)", cfg.Retries)
	}
	if len(cfg.Test) == 0 {
		return nil
	}
	switch cfg.Test[0] {
	case "NONE":
		return nil
	case "CMD", "CMD-SHELL":
		if len(cfg.Test) < 2 || cfg.Test[1] == "" {
			//lint:ignore ST1005 as dockerd's messages above.
			return fmt.Errorf("Healthcheck test %s has no command", cfg.Test[0])
		}
		return nil
	}
	//lint:ignore ST1005 as dockerd's messages above.
	return fmt.Errorf("Healthcheck test type %q is not one of NONE, CMD, CMD-SHELL", cfg.Test[0])
}

// Begin returns h reset for a new start of its container: starting, no
// failing streak, the log of earlier results kept (as dockerd keeps it
// across restarts). h may be nil.
func Begin(h *container.Health) *container.Health {
	if h == nil {
		h = &container.Health{}
	}
	h.Status, h.FailingStreak = container.Starting, 0
	return h
}

// Record applies result r to h, the health of a container that started
// at startedAt, and reports whether the status changed.
func Record(h *container.Health, s Settings, startedAt time.Time, r container.HealthcheckResult) bool {
	old := h.Status
	h.Log = append(h.Log, &r)
	if n := len(h.Log); n > MaxLogEntries {
		h.Log = append([]*container.HealthcheckResult(nil), h.Log[n-MaxLogEntries:]...)
	}
	switch {
	case r.ExitCode == 0:
		h.FailingStreak = 0
		h.Status = container.Healthy
	case h.Status == container.Starting && r.Start.Sub(startedAt) < s.StartPeriod:
		// Still starting: the failure does not count.
	default:
		h.FailingStreak++
		if h.FailingStreak >= s.Retries {
			h.Status = container.Unhealthy
		}
	}
	return h.Status != old
}

// Delay is how long to wait for the next check, sinceStart after the
// container started, its status being status: the start interval while
// it is starting within the start period (at most what is left of it, so
// the first check after the period is not late), the interval otherwise.
func Delay(s Settings, status container.HealthStatus, sinceStart time.Duration) time.Duration {
	if sinceStart >= s.StartPeriod {
		return s.Interval
	}
	d := s.Interval
	if status == container.Starting {
		d = s.StartInterval
	}
	return min(d, s.StartPeriod-sinceStart)
}

// ErrSkip, from a Checker, means no check ran this time (the container is
// paused): nothing is recorded.
var ErrSkip = errors.New("health check skipped")
