package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
)

// Checker runs a check's command once in a container.
type Checker interface {
	// Check runs argv, writes its output (stdout and stderr) to out and
	// returns its exit code. When ctx ends first, Check kills the process
	// and returns ctx's error. ErrSkip means nothing ran.
	Check(ctx context.Context, argv []string, out io.Writer) (int, error)
}

// Run runs one check of s with its timeout and returns its result: the
// exit code and output of the command; exit code -1 with "Health check
// exceeded timeout (5s)" when the timeout killed it, or with the error
// when it could not run. ok is false when nothing ran (ErrSkip, or ctx
// ended).
func Run(ctx context.Context, c Checker, s Settings) (r container.HealthcheckResult, ok bool) {
	r.Start = time.Now()
	var out Output
	cctx, cancel := context.WithTimeout(ctx, s.Timeout)
	code, err := c.Check(cctx, s.Argv, &out)
	timedOut := errors.Is(cctx.Err(), context.DeadlineExceeded)
	cancel()
	r.End, r.ExitCode, r.Output = time.Now(), code, out.String()
	switch {
	case errors.Is(err, ErrSkip), ctx.Err() != nil:
		return r, false
	case timedOut:
		r.ExitCode = -1
		r.Output = fmt.Sprintf("Health check exceeded timeout (%v)", s.Timeout)
		if o := out.String(); o != "" {
			r.Output += ": " + o
		}
	case err != nil:
		r.ExitCode, r.Output = -1, err.Error()
	}
	return r, true
}

// Probe is what Loop needs of the container it checks.
type Probe interface {
	Checker
	// Record applies a result to the container's health and returns its
	// status after it; false ends the loop (the container is gone, or
	// started again under another loop).
	Record(r container.HealthcheckResult) (container.HealthStatus, bool)
}

// Loop runs the checks of s for a container that started at startedAt
// with health status, each after its Delay, until ctx ends or Record
// says to stop. Checks never overlap.
func Loop(ctx context.Context, s Settings, startedAt time.Time, status container.HealthStatus, p Probe) {
	t := time.NewTimer(Delay(s, status, time.Since(startedAt)))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if r, ok := Run(ctx, p, s); ok {
			var more bool
			if status, more = p.Record(r); !more {
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		t.Reset(Delay(s, status, time.Since(startedAt)))
	}
}

// Output keeps the first MaxOutputLen bytes written to it; String adds
// "..." when more was written, as dockerd's check output.
type Output struct {
	// mu guards the fields below (stdout and stderr may be written from
	// two goroutines).
	mu        sync.Mutex
	buf       bytes.Buffer
	truncated bool
}

// Write keeps what fits and never fails.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	keep := min(len(p), MaxOutputLen-o.buf.Len())
	o.buf.Write(p[:keep])
	if keep < len(p) {
		o.truncated = true
	}
	return len(p), nil
}

// String is what was kept, with "..." if something was not.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.truncated {
		return o.buf.String() + "..."
	}
	return o.buf.String()
}
