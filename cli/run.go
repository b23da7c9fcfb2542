package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"syscall"

	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/client"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
)

// ContainerRunAPI is the engine's calls that create containers, run
// processes and carry their streams, named as the docker client names them;
// client.Client implements it. ContainerAttach and ExecStart answer a
// hijacked connection: output read from its Reader (multiplexed without a
// TTY, client.StdCopy), input written to its Conn, CloseWrite at the end
// of input. ContainerWait returns once the daemon has answered (so a start
// sent after it cannot be missed); the result comes later.
type ContainerRunAPI interface {
	ContainerCreate(ctx context.Context, opts api.ContainerCreateOptions) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, name string) error
	ContainerAttach(ctx context.Context, name string, opts api.ContainerAttachOptions) (client.HijackedResponse, error)
	ContainerResize(ctx context.Context, name string, height, width int) error
	ContainerWait(ctx context.Context, name string, condition container.WaitCondition) (<-chan container.WaitResponse, <-chan error)
	ContainerLogs(ctx context.Context, name string, opts api.ContainerLogsOptions) (io.ReadCloser, error)
	ContainerInspect(ctx context.Context, name string) (container.InspectResponse, error)
	// ContainerKill forwards a signal (a name without SIG: "TERM").
	ContainerKill(ctx context.Context, name, signal string) error
	ExecCreate(ctx context.Context, name string, req container.ExecCreateRequest) (container.ExecCreateResponse, error)
	// ExecStart without Detach hijacks the connection.
	ExecStart(ctx context.Context, id string, req container.ExecStartRequest) (client.HijackedResponse, error)
	ExecResize(ctx context.Context, id string, height, width int) error
	ExecInspect(ctx context.Context, id string) (container.ExecInspectResponse, error)
}

// runAPI is the engine's client as a ContainerRunAPI.
func (c *cli) runAPI(ctx context.Context) (ContainerRunAPI, error) {
	cl, err := c.client(ctx)
	if err != nil {
		return nil, err
	}
	ra, ok := cl.(ContainerRunAPI)
	if !ok {
		return nil, fmt.Errorf("the engine's client (%T) cannot run containers", cl)
	}
	return ra, nil
}

// runCommands are the commands that run processes and carry their streams
// (create, run, start, attach, exec, logs, wait).
func (c *cli) runCommands() []named {
	return []named{{"create", c.createCommand}, {"run", c.runCommand}, {"start", c.startCommand},
		{"attach", c.attachCommand}, {"exec", c.execCommand}, {"logs", c.logsCommand}, {"wait", c.waitCommand}}
}

// The values of --pull.
const (
	pullAlways  = "always"
	pullMissing = "missing"
	pullNever   = "never"
)

// createOptions are create's own flags (run has them too).
type createOptions struct {
	name     string
	platform string
	pull     string
	quiet    bool
	trust    bool
	cidFile  string
}

func addCreateFlags(fs *pflag.FlagSet, o *createOptions, pullUsage string) {
	fs.StringVar(&o.name, "name", "", "Assign a name to the container")
	fs.StringVar(&o.pull, "pull", pullMissing, pullUsage)
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress the pull output")
	fs.StringVar(&o.platform, "platform", "", "Set platform if server is multi-platform capable")
	fs.BoolVar(&o.trust, "disable-content-trust", true, "Skip image verification")
	fs.StringVar(&o.cidFile, "cidfile", "", "Write the container ID to the file")
}

func (c *cli) createCommand() *cobra.Command {
	var o createOptions
	var f *containerFlags
	cmd := &cobra.Command{
		Use:         "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short:       "Create a new container",
		Args:        minArgs(1),
		Annotations: map[string]string{"aliases": "corral container create, corral create"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.create(cmd.Context(), cmd.Flags(), f, args, o)
		},
	}
	fs := cmd.Flags()
	fs.SetInterspersed(false)
	addCreateFlags(fs, &o, `Pull image before creating ("always", "|missing", "never")`)
	f = addContainerFlags(fs)
	return cmd
}

// create is `corral create`: it prints the new container's ID.
func (c *cli) create(ctx context.Context, fs *pflag.FlagSet, f *containerFlags, args []string, o createOptions) error {
	opts, err := c.parseCreate(fs, f, args, o, "create")
	if err != nil {
		return err
	}
	ra, err := c.runAPI(ctx)
	if err != nil {
		return err
	}
	id, err := c.createContainer(ctx, ra, opts, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.out, id)
	return nil
}

// parseCreate checks --pull and parses the container's flags; its errors
// exit 125 with docker's hint.
func (c *cli) parseCreate(fs *pflag.FlagSet, f *containerFlags, args []string, o createOptions, command string) (api.ContainerCreateOptions, error) {
	switch o.pull {
	case pullAlways, pullMissing, pullNever, "":
	default:
		err := fmt.Errorf("invalid pull option: '%s': must be one of %q, %q or %q", o.pull, pullAlways, pullMissing, pullNever)
		return api.ContainerCreateOptions{}, c.withHelp(err, command, 125)
	}
	opts, err := parseContainer(fs, f, args[0], args[1:])
	if err != nil {
		return opts, c.withHelp(err, command, 125)
	}
	opts.Name = o.name
	return opts, nil
}

// withHelp is docker's "docker: <err>\n\nRun 'docker run --help' for more
// information" with an exit code.
func (c *cli) withHelp(err error, command string, code int) error {
	return statusError{code: code, msg: fmt.Sprintf("corral: %v\n\nRun 'corral %s --help' for more information", err, command)}
}

// createContainer creates the container as docker's CLI does: pull first
// with --pull=always; on "No such image" with --pull=missing, say so, pull
// and create again. Warnings go to stderr.
func (c *cli) createContainer(ctx context.Context, ra ContainerRunAPI, opts api.ContainerCreateOptions, o createOptions) (string, error) {
	cid, err := openCIDFile(o.cidFile)
	if err != nil {
		return "", err
	}
	opts.HostConfig.ContainerIDFile = o.cidFile
	id, err := c.createImageContainer(ctx, ra, opts, o)
	if err == nil {
		err = cid.write(id)
	}
	if cerr := cid.close(); err == nil {
		err = cerr
	}
	return id, err
}

// createImageContainer creates the container, pulling its image first
// with --pull=always or when it is missing.
func (c *cli) createImageContainer(ctx context.Context, ra ContainerRunAPI, opts api.ContainerCreateOptions, o createOptions) (string, error) {
	ref, err := reference.ParseAnyReference(opts.Config.Image)
	if err != nil {
		return "", err
	}
	named, _ := ref.(reference.Named)
	if named != nil {
		named = reference.TagNameOnly(named)
	}
	if o.platform != "" {
		p, err := parsePlatform(o.platform)
		if err != nil {
			return "", errdefs.InvalidArgument(fmt.Errorf("error parsing specified platform: %w", err))
		}
		opts.Platform = formatPlatform(p.OS, p.Architecture, p.Variant)
	}
	if o.pull == pullAlways {
		if err := c.pullForRun(ctx, opts.Config.Image, named, o); err != nil {
			return "", err
		}
	}
	opts.HostConfig.ConsoleSize[0], opts.HostConfig.ConsoleSize[1] = c.ttySize()
	resp, err := ra.ContainerCreate(ctx, opts)
	if err != nil && errors.Is(err, errdefs.ErrNotFound) && named != nil && o.pull == pullMissing {
		if !o.quiet {
			fmt.Fprintf(c.err, "Unable to find image '%s' locally\n", reference.FamiliarString(named))
		}
		if err := c.pullForRun(ctx, opts.Config.Image, named, o); err != nil {
			return "", err
		}
		resp, err = ra.ContainerCreate(ctx, opts)
	}
	if err != nil {
		return "", err
	}
	for _, w := range append(resp.Warnings, localhostDNSWarning(opts.HostConfig.DNS)...) {
		fmt.Fprintln(c.err, "WARNING:", w)
	}
	return resp.ID, nil
}

func formatPlatform(os, arch, variant string) string {
	return strings.Join(nonEmpty(os, arch, variant), "/")
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, x := range s {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}

// pullForRun pulls the image of a run or create, its progress on stderr
// (nowhere with -q), as docker's CLI does.
func (c *cli) pullForRun(ctx context.Context, image string, named reference.Named, o createOptions) error {
	auth := ""
	if named != nil {
		var err error
		if auth, err = c.encodedAuth(named); err != nil {
			return err
		}
	}
	cl, err := c.client(ctx)
	if err != nil {
		return err
	}
	body, err := cl.ImagePull(ctx, image, api.ImagePullOptions{RegistryAuth: auth, Platform: o.platform})
	if err != nil {
		return err
	}
	defer body.Close()
	out := c.err
	if o.quiet {
		out = io.Discard
	}
	return c.display(out).run(ctx, body)
}

// localhostDNSWarning warns of a loopback DNS server, as docker's CLI does.
func localhostDNSWarning(dns []netip.Addr) []string {
	for _, a := range dns {
		if a.IsLoopback() {
			return []string{fmt.Sprintf("Localhost DNS (%s) may fail in containers.", a)}
		}
	}
	return nil
}

// runStatusError is docker's exit code for a failed run: 127 when the
// command was not found, 126 when it could not be executed, 125 for the
// rest; the message has docker's hint. The error of a call ctx
// interrupted stays as it is (Main exits silently with the signal's code).
func (c *cli) runStatusError(ctx context.Context, err error) error {
	var se statusError
	if errors.As(err, &se) || ctx.Err() != nil {
		return err
	}
	msg := err.Error()
	code := 125
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"),
		strings.Contains(msg, "system cannot find the file specified"):
		code = 127
	case strings.Contains(msg, syscall.EACCES.Error()), strings.Contains(msg, syscall.EISDIR.Error()):
		code = 126
	}
	return c.withHelp(err, "run", code)
}

// runOptions are run's own flags.
type runOptions struct {
	createOptions
	detach     bool
	sigProxy   bool
	detachKeys string
}

func (c *cli) runCommand() *cobra.Command {
	var o runOptions
	var f *containerFlags
	cmd := &cobra.Command{
		Use:         "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short:       "Create and run a new container from an image",
		Args:        minArgs(1),
		Annotations: map[string]string{"aliases": "corral container run, corral run"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.run(cmd.Context(), cmd.Flags(), f, args, o)
		},
	}
	fs := cmd.Flags()
	fs.SetInterspersed(false)
	fs.BoolVarP(&o.detach, "detach", "d", false, "Run container in background and print container ID")
	fs.BoolVar(&o.sigProxy, "sig-proxy", true, "Proxy received signals to the process")
	fs.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	addCreateFlags(fs, &o.createOptions, `Pull image before running ("always", "missing", "never")`)
	f = addContainerFlags(fs)
	return cmd
}

// run is `corral run`, in docker's order: create (pulling if need be),
// attach unless detached, wait for the next exit (or the removal with
// --rm), start, then stream until the process ends; the exit code is the
// container's.
func (c *cli) run(ctx context.Context, fs *pflag.FlagSet, f *containerFlags, args []string, o runOptions) error {
	opts, err := c.parseCreate(fs, f, args, o.createOptions, "run")
	if err != nil {
		return err
	}
	cfg := opts.Config
	if !o.detach {
		if err := c.checkTTY(cfg.AttachStdin, cfg.Tty); err != nil {
			return err
		}
	} else {
		if len(f.attach.values) != 0 {
			return errors.New("conflicting options: cannot specify both --attach and --detach")
		}
		cfg.AttachStdin, cfg.AttachStdout, cfg.AttachStderr, cfg.StdinOnce = false, false, false, false
	}
	// A detached run returns once the container started: there is nothing
	// to forward signals to. Otherwise the signals are caught while the
	// container is created.
	var proxy *sigProxy
	if o.sigProxy && !o.detach {
		proxy = catchSignals()
	}
	ra, err := c.runAPI(ctx)
	if err != nil {
		return c.runStatusError(ctx, err)
	}
	id, err := c.createContainer(ctx, ra, opts, o.createOptions)
	if err != nil {
		return c.runStatusError(ctx, err)
	}
	if proxy != nil {
		stop := proxy.forward(context.WithoutCancel(ctx), ra, id)
		defer stop()
	}
	return c.runCreated(ctx, ra, id, cfg, opts.HostConfig.AutoRemove, o.detachKeys)
}

// runCreated attaches, waits, starts and streams. The streams and the wait
// outlive ctx (a signal is forwarded to the container, whose exit ends
// the command).
func (c *cli) runCreated(ctx context.Context, ra ContainerRunAPI, id string, cfg *container.Config, autoRemove bool, keys string) error {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	out, errOut := c.syncStreams()
	attach := cfg.AttachStdin || cfg.AttachStdout || cfg.AttachStderr
	var streamDone <-chan error
	if attach {
		to := attachTo{stdin: cfg.AttachStdin, stdout: cfg.AttachStdout, stderr: cfg.AttachStderr,
			detachKeys: keys, out: out, err: errOut}
		ch, closeConn, err := c.attachStreams(ctx, ra, id, cfg.Tty, to)
		if err != nil {
			return err
		}
		defer closeConn()
		streamDone = ch
	}
	// The wait outlives the end of the streams. A detached run waits only
	// to see an auto-removed container go after a failed start.
	statusCtx, cancelStatus := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelStatus()
	var status <-chan int
	if attach || autoRemove {
		status = waitExitOrRemoved(statusCtx, ra, id, autoRemove, errOut)
	}
	if !attach {
		fmt.Fprintln(out, id)
	}
	if err := ra.ContainerStart(ctx, id); err != nil {
		err = c.runStatusError(ctx, err)
		if attach {
			cancel()
			<-streamDone
		}
		if autoRemove {
			<-status
		}
		return err
	}
	if !attach {
		return nil
	}
	if cfg.Tty && isTerminal(c.out) {
		stop := c.monitorTTYSize(ctx, containerResize(ra, id), errOut)
		defer stop()
	}
	return finishRun(cfg, streamDone, status, cancel)
}

// finishRun waits for the streams and the exit as docker's CLI does: when
// the process exits first, its output is still read to the end (unless
// none is attached); detaching ends the command at once, with 0.
func finishRun(cfg *container.Config, streamDone <-chan error, status <-chan int, cancel func()) error {
	var code int
	select {
	case err := <-streamDone:
		if errors.Is(err, errDetached) {
			return nil
		}
		if err != nil {
			return err
		}
		code = <-status
	case code = <-status:
		if !cfg.AttachStdout && !cfg.AttachStderr {
			cancel()
		}
		<-streamDone
	}
	if code != 0 {
		return statusError{code: code}
	}
	return nil
}

func containerResize(ra ContainerRunAPI, id string) resizeFunc {
	return func(ctx context.Context, h, w int) error { return ra.ContainerResize(ctx, id, h, w) }
}
