package cli

import (
	"context"
	"errors"

	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/client"
)

type execOptions struct {
	detachKeys  string
	interactive bool
	tty         bool
	detach      bool
	user        string
	privileged  bool
	env         listValue
	envFile     listValue
	workdir     string
}

func (c *cli) execCommand() *cobra.Command {
	o := execOptions{env: listValue{validate: validateEnv}}
	cmd := &cobra.Command{
		Use:         "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short:       "Execute a command in a running container",
		Args:        minArgs(2),
		Annotations: map[string]string{"aliases": "corral container exec, corral exec"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.exec(cmd.Context(), args[0], args[1:], &o)
		},
	}
	fs := cmd.Flags()
	fs.SetInterspersed(false)
	fs.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	fs.BoolVarP(&o.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fs.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fs.BoolVarP(&o.detach, "detach", "d", false, "Detached mode: run command in the background")
	fs.StringVarP(&o.user, "user", "u", "", `Username or UID (format: "<name|uid>[:<group|gid>]")`)
	fs.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to the command")
	fs.VarP(&o.env, "env", "e", "Set environment variables")
	fs.Var(&o.envFile, "env-file", "Read in a file of environment variables")
	fs.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	return cmd
}

// request is the exec's create request.
func (o *execOptions) request(cmd []string) (container.ExecCreateRequest, error) {
	env, err := readKVStrings(o.envFile.values, o.env.values, lookupEnv)
	if err != nil {
		return container.ExecCreateRequest{}, err
	}
	req := container.ExecCreateRequest{User: o.user, Privileged: o.privileged, Tty: o.tty, Cmd: cmd,
		WorkingDir: o.workdir, Env: env, DetachKeys: o.detachKeys}
	if !o.detach {
		req.AttachStdout, req.AttachStderr, req.AttachStdin = true, true, o.interactive
	}
	return req, nil
}

// exec is `corral exec`: the container is inspected first (so that a
// missing one does not cost an exec), then the exec is created and
// started; the command's exit code is the process's.
func (c *cli) exec(ctx context.Context, name string, cmd []string, o *execOptions) error {
	req, err := o.request(cmd)
	if err != nil {
		return err
	}
	ra, err := c.runAPI(ctx)
	if err != nil {
		return err
	}
	if _, err := ra.ContainerInspect(ctx, name); err != nil {
		return err
	}
	if !o.detach {
		if err := c.checkTTY(req.AttachStdin, req.Tty); err != nil {
			return err
		}
	}
	if req.Tty {
		h, w := c.ttySize()
		req.ConsoleSize = &[2]uint{h, w}
	}
	resp, err := ra.ExecCreate(ctx, name, req)
	if err != nil {
		return err
	}
	if resp.ID == "" {
		return errors.New("exec ID empty")
	}
	start := container.ExecStartRequest{Detach: o.detach, Tty: req.Tty, ConsoleSize: req.ConsoleSize}
	if o.detach {
		_, err := ra.ExecStart(ctx, resp.ID, start)
		return err
	}
	return c.execAttached(ctx, ra, resp.ID, req, start)
}

// execAttached streams the exec until its output ends, then reads its
// exit code.
func (c *cli) execAttached(ctx context.Context, ra ContainerRunAPI, id string, req container.ExecCreateRequest, start container.ExecStartRequest) error {
	out, errOut := c.syncStreams()
	s := streamer{tty: req.Tty, detachKeys: req.DetachKeys}
	if req.AttachStdin {
		s.in = c.in
	}
	if req.AttachStdout {
		s.out = out
	}
	if req.AttachStderr {
		s.errOut = errOut
		if req.Tty {
			s.errOut = out
		}
	}
	resp, err := ra.ExecStart(ctx, id, start)
	if err != nil {
		return err
	}
	defer resp.Close()
	s.resp = resp
	done := make(chan error, 1)
	go func() { done <- c.stream(ctx, s) }()
	if req.Tty && isTerminal(c.in) {
		stop := c.monitorTTYSize(ctx, func(ctx context.Context, h, w int) error {
			return ra.ExecResize(ctx, id, h, w)
		}, errOut)
		defer stop()
	}
	if err := <-done; err != nil {
		return err
	}
	return execExitStatus(ctx, ra, id)
}

// execExitStatus is the exec's exit code as the command's; -1 when the
// daemon cannot be reached.
func execExitStatus(ctx context.Context, ra ContainerRunAPI, id string) error {
	resp, err := ra.ExecInspect(ctx, id)
	if err != nil {
		var ce *client.ConnectError
		if errors.As(err, &ce) {
			return statusError{code: -1}
		}
		return err
	}
	if resp.ExitCode != nil && *resp.ExitCode != 0 {
		return statusError{code: *resp.ExitCode}
	}
	return nil
}
