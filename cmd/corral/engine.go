package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/corral-dev/corral/cli"
	"github.com/corral-dev/corral/client"
	"github.com/corral-dev/corral/registry"
)

// The API client is what the command line talks to.
var _ cli.ImageAPI = (*client.Client)(nil)

// engineMain runs the engine's command line (pull, images, ...) as a
// client of the daemon's API, found as docker finds it (--host,
// $CORRAL_HOST, $DOCKER_HOST, the default socket) and started on first use
// when the default socket has no daemon (connect.go), with the user's
// registry credentials file.
func engineMain(args []string) int {
	ctx, stop := signalContext()
	defer stop()
	return cli.Main(args, cli.Options{
		Context: ctx,
		Connect: func(ctx context.Context, g cli.Globals) (cli.ImageAPI, error) {
			c, err := connect(ctx, g)
			if err != nil {
				return nil, err // not a nil *Client in the interface
			}
			return c, nil
		},
		Credentials: func() (cli.Credentials, error) {
			path, err := registry.DefaultAuthFilePath()
			if err != nil {
				return nil, err
			}
			return registry.LoadAuthFile(path)
		},
		In:  os.Stdin,
		Out: os.Stdout,
		Err: os.Stderr,
	})
}

// signalError is the cause of a context a signal ended: exit 128+signal.
type signalError struct{ sig syscall.Signal }

func (e signalError) Error() string { return "terminated by " + e.sig.String() }
func (e signalError) ExitCode() int { return 128 + int(e.sig) }

// signalContext ends on SIGINT or SIGTERM, so that an interrupted pull or
// load stops cleanly (its temporary lease released) before the exit. Its
// release does not let the signals go: the command exits right after, and
// signal.Stop would cost a handshake with the runtime's signal thread.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			cancel(signalError{s.(syscall.Signal)})
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(nil) }
}
