package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"
)

type attachOptions struct {
	noStdin    bool
	proxy      bool
	detachKeys string
}

func (c *cli) attachCommand() *cobra.Command {
	var o attachOptions
	cmd := &cobra.Command{
		Use:         "attach [OPTIONS] CONTAINER",
		Short:       "Attach local standard input, output, and error streams to a running container",
		Args:        exactArgs(1),
		Annotations: map[string]string{"aliases": "corral container attach, corral attach"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.attach(cmd.Context(), args[0], o)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&o.noStdin, "no-stdin", false, "Do not attach STDIN")
	fs.BoolVar(&o.proxy, "sig-proxy", true, "Proxy all received signals to the process")
	fs.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

// attach is `corral attach`: it streams until the process exits (its exit
// code is the command's) or the user detaches ("read escape sequence",
// exit 1, as docker's).
func (c *cli) attach(ctx context.Context, name string, o attachOptions) error {
	ra, err := c.runAPI(ctx)
	if err != nil {
		return err
	}
	results, errs := ra.ContainerWait(context.WithoutCancel(ctx), name, "")
	info, err := inspectRunning(ctx, ra, name)
	if err != nil {
		return err
	}
	tty := info.Config != nil && info.Config.Tty
	if err := c.checkTTY(!o.noStdin, tty); err != nil {
		return err
	}
	out, errOut := c.syncStreams()
	to := attachTo{stdin: !o.noStdin && info.Config != nil && info.Config.OpenStdin, stdout: true, stderr: true,
		detachKeys: o.detachKeys, out: out, err: errOut}
	if o.proxy && !tty {
		stop := catchSignals().forward(context.WithoutCancel(ctx), ra, name)
		defer stop()
	}
	resp, err := ra.ContainerAttach(ctx, name, to.options())
	if err != nil {
		return err
	}
	defer resp.Close()
	if _, err := inspectRunning(ctx, ra, name); err != nil {
		return err
	}
	if tty && isTerminal(c.out) {
		// One more row and column first, so that the process redraws
		// when the real size follows.
		if h, w := c.ttySize(); h > 0 || w > 0 {
			_ = ra.ContainerResize(ctx, name, int(h)+1, int(w)+1)
		}
		stop := c.monitorTTYSize(ctx, containerResize(ra, name), errOut)
		defer stop()
	}
	s := streamer{resp: resp, tty: tty, detachKeys: o.detachKeys, out: out, errOut: errOut}
	if to.stdin {
		s.in = c.in
	}
	if err := c.stream(ctx, s); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return exitStatus(results, errs)
}

// inspectRunning inspects a container that an attach needs running.
func inspectRunning(ctx context.Context, ra ContainerRunAPI, name string) (container.InspectResponse, error) {
	info, err := ra.ContainerInspect(ctx, name)
	if err != nil {
		return info, err
	}
	st := info.State
	switch {
	case st == nil || !st.Running:
		//lint:ignore ST1005 docker's wording.
		return info, errors.New("You cannot attach to a stopped container, start it first")
	case st.Paused:
		//lint:ignore ST1005 docker's wording.
		return info, errors.New("You cannot attach to a paused container, unpause it first")
	case st.Restarting:
		//lint:ignore ST1005 docker's wording.
		return info, errors.New("You cannot attach to a restarting container, wait until it is running")
	}
	return info, nil
}

// exitStatus is a wait's result as the command's: its code, or its error.
func exitStatus(results <-chan container.WaitResponse, errs <-chan error) error {
	select {
	case r := <-results:
		if r.Error != nil {
			return errors.New(r.Error.Message)
		}
		if r.StatusCode != 0 {
			return statusError{code: int(r.StatusCode)}
		}
		return nil
	case err := <-errs:
		return err
	}
}

type startOptions struct {
	attach     bool
	stdin      bool
	detachKeys string
}

func (c *cli) startCommand() *cobra.Command {
	var o startOptions
	cmd := &cobra.Command{
		Use:         "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short:       "Start one or more stopped containers",
		Args:        minArgs(1),
		Annotations: map[string]string{"aliases": "corral container start, corral start"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.start(cmd.Context(), args, o)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&o.attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	fs.BoolVarP(&o.stdin, "interactive", "i", false, "Attach container's STDIN")
	fs.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

// start is `corral start`: each container started and its name printed;
// with -a or -i one container, attached as run attaches.
func (c *cli) start(ctx context.Context, names []string, o startOptions) error {
	ra, err := c.runAPI(ctx)
	if err != nil {
		return err
	}
	if !o.attach && !o.stdin {
		return c.startEach(ctx, ra, names)
	}
	if len(names) > 1 {
		return errors.New("you cannot start and attach multiple containers at once")
	}
	info, err := ra.ContainerInspect(ctx, names[0])
	if err != nil {
		return err
	}
	cfg := info.Config
	if cfg == nil {
		cfg = &container.Config{}
	}
	if !cfg.Tty {
		stop := catchSignals().forward(context.WithoutCancel(ctx), ra, info.ID)
		defer stop()
	}
	autoRemove := info.HostConfig != nil && info.HostConfig.AutoRemove
	return c.startAttached(ctx, ra, info.ID, cfg, autoRemove, o)
}

// startEach starts containers one after the other.
func (c *cli) startEach(ctx context.Context, ra ContainerRunAPI, names []string) error {
	var failed []string
	for _, name := range names {
		if err := ra.ContainerStart(ctx, name); err != nil {
			fmt.Fprintln(c.err, err)
			failed = append(failed, name)
			continue
		}
		fmt.Fprintln(c.out, name)
	}
	if len(failed) > 0 {
		return fmt.Errorf("Error: failed to start containers: %s", strings.Join(failed, ", "))
	}
	return nil
}

// startAttached is start -a/-i: attach, wait, start, stream. The streams
// and the wait outlive ctx, as run's do.
func (c *cli) startAttached(ctx context.Context, ra ContainerRunAPI, id string, cfg *container.Config, autoRemove bool, o startOptions) error {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	out, errOut := c.syncStreams()
	to := attachTo{stdin: o.stdin && cfg.OpenStdin, stdout: true, stderr: true, detachKeys: o.detachKeys,
		out: out, err: errOut}
	streamDone, closeConn, err := c.attachStreams(ctx, ra, id, cfg.Tty, to)
	if err != nil {
		return err
	}
	defer closeConn()
	status := waitExitOrRemoved(ctx, ra, id, autoRemove, errOut)
	if err := ra.ContainerStart(ctx, id); err != nil {
		cancel()
		<-streamDone
		if autoRemove {
			<-status
		}
		return err
	}
	if cfg.Tty && isTerminal(c.out) {
		stop := c.monitorTTYSize(ctx, containerResize(ra, id), errOut)
		defer stop()
	}
	if err := <-streamDone; err != nil {
		if errors.Is(err, errDetached) {
			return nil
		}
		return err
	}
	if code := <-status; code != 0 {
		return statusError{code: code}
	}
	return nil
}
