// Package cli is corral's docker-compatible command line for the engine:
// the container commands (run, create, start, stop, ps, exec, logs, cp, ...),
// the image commands (pull, push, images, tag, rmi, load, save, import,
// login, logout), info, version, events and the `container`, `image` and
// `system` groups. Commands, flags, output, error messages and exit codes
// follow the docker CLI (28.x). Every command turns its flags into API
// types, calls the engine through a small interface (ImageAPI,
// ContainerRunAPI, ContainerAPI, EngineAPI, ...) and writes to the injected
// streams; it
// knows nothing of how the engine is reached (the caller's Connect gives a
// client of the Docker Engine API).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Options are what Main needs from its caller.
type Options struct {
	// Connect opens the engine. It is called at most once, by the first
	// command that needs the engine, after flags parsed. If the ImageAPI
	// is also an io.Closer, Main closes it before returning.
	Connect func(ctx context.Context, g Globals) (ImageAPI, error)
	// Credentials opens the user's registry credentials file.
	Credentials func() (Credentials, error)
	// In, Out and Err are the standard streams; an *os.File that is a
	// terminal gets progress bars and prompts.
	In       io.Reader
	Out, Err io.Writer
	// Context is the commands' context (nil: Background). When it ends
	// with a cause that has an ExitCode() int method (a signal), a command
	// it interrupted exits with that code and prints nothing, as docker
	// does (130 for SIGINT).
	Context context.Context
}

// Globals are the flags given before the command.
type Globals struct {
	// Host is the daemon's address (-H, --host); "" means the caller's
	// default ($CORRAL_HOST, $DOCKER_HOST, the default socket).
	Host string
	// DataRoot (--data-root) asks for the engine on that state directory
	// rather than the default one; "" means the default.
	DataRoot string
}

// statusError is a failure with its own exit code; an empty message prints
// nothing.
type statusError struct {
	code int
	msg  string
}

func (e statusError) Error() string { return e.msg }

// Main runs the command line args (without the program name) and returns
// the exit code: 0, 1 for a failed command, 125 for a bad flag.
func Main(args []string, opts Options) int {
	c := newCLI(opts)
	root := c.rootFor(args)
	root.SetArgs(args)
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	err := root.ExecuteContext(ctx)
	if cerr := c.close(); err == nil {
		err = cerr
	}
	if err == nil {
		return 0
	}
	var se statusError
	if errors.As(err, &se) && se.msg == "" {
		return se.code // a container's own exit code, even after a signal
	}
	var ec interface{ ExitCode() int }
	if ctx.Err() != nil && errors.As(context.Cause(ctx), &ec) {
		return ec.ExitCode()
	}
	if errors.As(err, &se) {
		if se.msg != "" {
			fmt.Fprintln(c.err, se.msg)
		}
		return se.code
	}
	if strings.HasPrefix(err.Error(), "unknown command ") {
		fmt.Fprintf(c.err, "corral: %s\n\nRun 'corral --help' for more information\n", unknownCommand(err))
		return 1
	}
	fmt.Fprintln(c.err, err)
	return 1
}

// unknownCommand rewrites cobra's `unknown command "x" for "corral"`.
func unknownCommand(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "\nRun '"); i >= 0 {
		msg = msg[:i]
	}
	var name, parent string
	if _, e := fmt.Sscanf(msg, "unknown command %q for %q", &name, &parent); e == nil {
		return "unknown command: " + parent + " " + name
	}
	return msg
}

// cli is one run of the command line.
type cli struct {
	opts    Options
	in      io.Reader
	out     io.Writer
	err     io.Writer
	globals Globals

	mu     sync.Mutex
	api    ImageAPI
	apiErr error
	opened bool
}

func newCLI(opts Options) *cli {
	c := &cli{opts: opts, in: opts.In, out: opts.Out, err: opts.Err}
	if c.in == nil {
		c.in = strings.NewReader("")
	}
	if c.out == nil {
		c.out = io.Discard
	}
	if c.err == nil {
		c.err = io.Discard
	}
	return c
}

// client opens the engine once.
func (c *cli) client(ctx context.Context) (ImageAPI, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.opened {
		c.opened = true
		if c.opts.Connect == nil {
			c.apiErr = errors.New("no engine to connect to")
		} else {
			c.api, c.apiErr = c.opts.Connect(ctx, c.globals)
		}
	}
	return c.api, c.apiErr
}

func (c *cli) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if closer, ok := c.api.(io.Closer); ok {
		return closer.Close()
	}
	return nil
}

// credentials opens the credentials file.
func (c *cli) credentials() (Credentials, error) {
	if c.opts.Credentials == nil {
		return nil, errors.New("no credentials store configured")
	}
	return c.opts.Credentials()
}

// fd returns the file descriptor of a stream that has one.
func fd(s any) (int, bool) {
	f, ok := s.(interface{ Fd() uintptr })
	if !ok {
		return 0, false
	}
	return int(f.Fd()), true
}

// isTerminal reports whether the stream is a terminal.
func isTerminal(s any) bool {
	n, ok := fd(s)
	return ok && term.IsTerminal(n)
}

// termWidth is the width of the terminal s is, or 200 as docker assumes
// for progress bars.
func termWidth(s any) int {
	if n, ok := fd(s); ok {
		if w, _, err := term.GetSize(n); err == nil && w > 0 {
			return w
		}
	}
	return 200
}

// helpWidth is the width help is wrapped to: stdin's terminal's, or 80,
// as docker does.
func helpWidth(in any) int {
	if n, ok := fd(in); ok {
		if w, _, err := term.GetSize(n); err == nil && w > 0 {
			return w
		}
	}
	return 80
}

// stdinFile is os.Stdin when In is it (prompts without echo need it).
func (c *cli) stdinFile() (*os.File, bool) {
	f, ok := c.in.(*os.File)
	return f, ok && term.IsTerminal(int(f.Fd()))
}

func (c *cli) rootCommand() *cobra.Command { return c.rootFor(nil) }

// rootFor is the command tree for args: when they name a command of the
// root, by its name or an alias, only that command is built; otherwise
// (no command, help, an unknown one) the whole tree. One invocation runs
// one command, and building the flags of all of them was a millisecond
// or more of every CLI start.
func (c *cli) rootFor(args []string) *cobra.Command {
	root := &cobra.Command{
		Use:           "corral [OPTIONS] COMMAND",
		Short:         "A container engine",
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          noArgs,
		RunE:          showHelp,
	}
	// -H is the root's own flag, given before the command as docker's is
	// (history has a -H of its own): TraverseChildren parses it there.
	root.TraverseChildren = true
	root.Flags().StringVarP(&c.globals.Host, "host", "H", "",
		"Daemon socket to connect to (default $CORRAL_HOST, $DOCKER_HOST or unix:///run/corral/corral.sock)")
	root.PersistentFlags().StringVar(&c.globals.DataRoot, "data-root", "",
		"Use the engine on this state directory (default $CORRAL_ROOT; its daemon listens on DIR/corral.sock, started if absent)")
	top := c.topCommands()
	if n, ok := lookup(top, commandWord(args)); ok {
		root.AddCommand(n.build())
	} else {
		root.AddCommand(buildAll(top)...)
	}
	setup(root, c)
	return root
}

// topCommands are the root's commands.
func (c *cli) topCommands() []named {
	top := []named{{"image", c.imageCommand}, {"system", c.systemCommand}, {"container", c.containerCommand},
		{"volume", c.volumeCommand}, {"network", c.networkCommand}, {"pull", c.pullCommand},
		{"push", c.pushCommand}, {"images", c.imagesCommand}, {"tag", c.tagCommand}, {"rmi", c.rmiCommand},
		{"load", c.loadCommand}, {"save", c.saveCommand}, {"import", c.importCommand},
		{"history", c.historyCommand}, {"login", c.loginCommand}, {"logout", c.logoutCommand},
		{"secret", c.secretCommand}, {"build", c.buildCommand}, {"builder", c.builderCommand}}
	top = append(top, c.containerCommands()...)
	return append(top, c.engineCommands()...)
}

// named is a command's constructor with the command's name and aliases
// ("rm remove"), known without building it. TestNamedCommands holds the
// names to what the constructors build.
type named struct {
	names string
	build func() *cobra.Command
}

func buildAll(ns []named) []*cobra.Command {
	cmds := make([]*cobra.Command, len(ns))
	for i, n := range ns {
		cmds[i] = n.build()
	}
	return cmds
}

// lookup finds the command called word in ns.
func lookup(ns []named, word string) (named, bool) {
	for _, n := range ns {
		if word != "" && slices.Contains(strings.Fields(n.names), word) {
			return n, true
		}
	}
	return named{}, false
}

// commandWord is the command args name: their first word after the
// root's flags (-H/--host and --data-root, with their values). It is ""
// when there is none or a root flag it does not know comes first (such
// as --help): then the whole tree answers.
func commandWord(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-H" || a == "--host" || a == "--data-root":
			i++
		case strings.HasPrefix(a, "--host=") || strings.HasPrefix(a, "--data-root=") ||
			(strings.HasPrefix(a, "-H") && !strings.HasPrefix(a, "--")):
		case strings.HasPrefix(a, "-"):
			return ""
		default:
			return a
		}
	}
	return ""
}

func (c *cli) imageCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage images",
		Args:  noArgs,
		RunE:  showHelp,
	}
	ls := c.imagesCommand()
	ls.Use = "ls [OPTIONS] [REPOSITORY[:TAG]]"
	ls.Aliases = []string{"list"}
	rm := c.rmiCommand()
	rm.Use = "rm [OPTIONS] IMAGE [IMAGE...]"
	rm.Aliases = []string{"rmi", "remove"}
	cmd.AddCommand(ls, rm, c.pullCommand(), c.pushCommand(), c.tagCommand(), c.inspectCommand(),
		c.historyCommand(), c.pruneCommand(), c.loadCommand(), c.saveCommand(), c.importCommand())
	return cmd
}

func (c *cli) systemCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "system",
		Short: "Manage corral",
		Args:  noArgs,
		RunE:  showHelp,
	}
	cmd.AddCommand(c.dfCommand())
	cmd.AddCommand(c.systemCommands()...)
	return cmd
}

// showHelp answers a command group given no command: its help, on
// stderr, as docker's.
func showHelp(cmd *cobra.Command, _ []string) error {
	cmd.SetOut(cmd.ErrOrStderr())
	return cmd.Help()
}

// setup gives every command docker's usage layout and error handling.
func setup(root *cobra.Command, c *cli) {
	root.SetOut(c.out)
	root.SetErr(c.err)
	root.SetIn(c.in)
	cobra.AddTemplateFunc("wrappedFlagUsages", func(cmd *cobra.Command) string {
		return cmd.LocalFlags().FlagUsagesWrapped(helpWidth(c.in) - 1)
	})
	root.SetUsageTemplate(usageTemplate)
	root.SetHelpTemplate(`{{if or .Runnable .HasSubCommands}}{{.UsageString}}{{end}}`)
	root.SetFlagErrorFunc(flagError)
	root.CompletionOptions.DisableDefaultCmd = true
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		cmd.DisableFlagsInUseLine = true
		if cmd.Flags().ShorthandLookup("h") == nil {
			cmd.Flags().BoolP("help", "h", false, "Print usage")
		} else { // run and create: -h is --hostname, as docker's
			cmd.Flags().Bool("help", false, "Print usage")
		}
		_ = cmd.Flags().MarkHidden("help")
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// flagError is docker's answer to a bad flag: exit code 125.
func flagError(cmd *cobra.Command, err error) error {
	return statusError{code: 125, msg: fmt.Sprintf("%s\n\nUsage:  %s\n\nRun '%s --help' for more information",
		err, cmd.UseLine(), cmd.CommandPath())}
}

const usageTemplate = `Usage:
{{- if not .HasSubCommands}}  {{.UseLine}}{{end}}
{{- if .HasSubCommands}}  {{ .CommandPath}}{{- if .HasAvailableLocalFlags}} [OPTIONS]{{end}} COMMAND{{end}}

{{if ne .Long ""}}{{ .Long | trim }}{{ else }}{{ .Short | trim }}{{end}}
{{- if index .Annotations "aliases"}}

Aliases:
  {{ index .Annotations "aliases" }}
{{- end}}
{{- if .HasAvailableLocalFlags}}

Options:
{{ wrappedFlagUsages . | trimTrailingWhitespaces}}
{{- end}}
{{- if .HasAvailableSubCommands}}

Commands:
{{- range .Commands}}{{if .IsAvailableCommand}}
  {{rpad .Name .NamePadding }} {{.Short}}
{{- end}}{{end}}

Run '{{.CommandPath}} COMMAND --help' for more information on a command.
{{- end}}
`
