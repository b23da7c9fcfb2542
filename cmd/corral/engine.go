package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/corral-dev/corral/cli"
	"github.com/corral-dev/corral/daemon"
	"github.com/corral-dev/corral/image"
	"github.com/corral-dev/corral/registry"
)

// engineMain runs the engine's command line (pull, images, ...) against
// the image service in process, on the state directory given by
// --data-root, $CORRAL_ROOT, data-root of /etc/corral/daemon.json or
// /var/lib/corral, with the insecure registries of that file and
// $CORRAL_INSECURE_REGISTRIES, and the user's registry credentials file. The engine issue replaces Connect with a client of the
// daemon's socket.
func engineMain(args []string) int {
	ctx, stop := signalContext()
	defer stop()
	return cli.Main(args, cli.Options{
		Context: ctx,
		Connect: func(ctx context.Context, g cli.Globals) (cli.ImageAPI, error) {
			cfg, err := daemon.LoadConfig(daemon.DefaultConfigPath)
			if err != nil {
				return nil, err
			}
			cfg = cfg.WithEnv(os.Getenv)
			root := g.DataRoot
			if root == "" {
				root = cfg.DataRoot
			}
			if root == "" {
				root = image.DefaultRoot
			}
			imgs, err := daemon.NewImages(ctx, daemon.ImagesOptions{Root: root, Insecure: cfg.InsecureRegistries})
			if err != nil {
				return nil, err
			}
			return daemon.Local{Images: imgs}, nil
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
// load stops cleanly (its temporary lease released) before the exit.
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
	return ctx, func() {
		signal.Stop(ch)
		cancel(nil)
	}
}
