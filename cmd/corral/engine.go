package main

import (
	"context"
	"os"

	"github.com/corral-dev/corral/cli"
	"github.com/corral-dev/corral/client"
	"github.com/corral-dev/corral/internal/sigctx"
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
	ctx, stop := sigctx.New()
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
