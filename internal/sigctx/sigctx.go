// Package sigctx is the context corral's programs end on SIGINT or
// SIGTERM, with the signal as its cause: the command line stops a pull or
// load cleanly before it exits, and the daemon shuts down.
package sigctx

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Error is the cause of a context a signal ended: exit 128+signal.
type Error struct{ Signal syscall.Signal }

func (e Error) Error() string { return "terminated by " + e.Signal.String() }

// ExitCode is a shell's code for a process the signal ended.
func (e Error) ExitCode() int { return 128 + int(e.Signal) }

// New returns a context that ends on SIGINT or SIGTERM, and its release.
// The release does not let the signals go: the programs exit right after,
// and signal.Stop would cost a handshake with the Go runtime's signal
// thread.
func New() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			cancel(Error{s.(syscall.Signal)})
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(nil) }
}
