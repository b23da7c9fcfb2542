package sigctx

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestSignalEnds: SIGTERM ends the context with the signal as its cause,
// exit code 143; the release ends it without one.
func TestSignalEnds(t *testing.T) {
	ctx, release := New()
	defer release()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM did not end the context")
	}
	var e Error
	if !errors.As(context.Cause(ctx), &e) || e.Signal != syscall.SIGTERM || e.ExitCode() != 143 {
		t.Errorf("cause %v", context.Cause(ctx))
	}
	ctx2, release2 := New()
	release2()
	if context.Cause(ctx2) != context.Canceled {
		t.Errorf("released: cause %v", context.Cause(ctx2))
	}
}
