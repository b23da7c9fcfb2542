// Package runcli is the runc-compatible command line of corral's OCI
// runtime: `corral runtime <command>`, or `corral-runc <command>` when the
// binary is called through a link of that name. Command names, flags, output
// and exit codes follow runc, so anything that drives runc can drive corral.
package runcli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/corral-dev/corral/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
)

// Version is corral's version, set at build time by cmd/corral.
var Version = "dev"

// globals are runc's global flags.
type globals struct {
	root      string
	log       string
	logFormat string
	debug     bool
	systemd   bool
	rootless  string
	logFile   *os.File
}

// exitError carries a process exit code out of a command.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// codeError is a failure reported with its own exit code (exec uses 255,
// as runc does, to tell it from the process's codes).
type codeError struct {
	code int
	err  error
}

func (e codeError) Error() string { return e.err.Error() }
func (e codeError) Unwrap() error { return e.err }

// Main runs the runtime command line with args (without the program name)
// and returns the process exit code.
func Main(args []string) int {
	if code, ok := fastPath(args); ok {
		return code
	}
	g := &globals{}
	root := newRoot(g)
	root.SetArgs(args)
	return g.finish(root.ExecuteContext(context.Background()), args)
}

// finish turns a command's outcome into the exit code, reporting a failure
// as runc does.
func (g *globals) finish(err error, args []string) int {
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err == nil {
		return 0
	}
	if helpTopicError(err, args, os.Stderr) {
		return 3
	}
	if g.logFile == nil {
		g.openLogForError(args)
	}
	g.report(err)
	var ce codeError
	if errors.As(err, &ce) {
		return ce.code
	}
	return 1
}

// openLogForError finds --log and --log-format by hand when the command line
// failed to parse before setup ran, so that the error still reaches the log
// file that callers like containerd read.
func (g *globals) openLogForError(args []string) {
	for i := 0; i < len(args); i++ {
		name, val, hasVal := strings.Cut(args[i], "=")
		if name != "--log" && name != "--log-format" {
			continue
		}
		if !hasVal && i+1 < len(args) {
			i++
			val = args[i]
		}
		if name == "--log" {
			g.log = val
		} else {
			g.logFormat = val
		}
	}
	if g.log == "" {
		return
	}
	if f, err := os.OpenFile(g.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
		g.logFile = f
	}
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "corral-runc",
		Short:         "Open Container Initiative runtime (corral, runc-compatible)",
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.setup()
		},
	}
	f := root.PersistentFlags()
	f.StringVar(&g.root, "root", runtime.DefaultRoot, "directory for container state")
	f.StringVar(&g.log, "log", "", "append log messages to this file")
	f.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	f.BoolVar(&g.debug, "debug", false, "log debug messages")
	f.BoolVar(&g.systemd, "systemd-cgroup", false, "use systemd cgroups (not supported)")
	f.StringVar(&g.rootless, "rootless", "auto", "ignored; accepted for runc compatibility")
	root.AddCommand(specCmd(), createCmd(g), startCmd(g), runCmd(g), stateCmd(g),
		killCmd(g), deleteCmd(g), listCmd(g), execCmd(g), pauseCmd(g), resumeCmd(g), psCmd(g),
		updateCmd(g), eventsCmd(g),
		unsupportedCmd("checkpoint", "checkpoint a running container", "CRIU cannot checkpoint on this kernel"),
		unsupportedCmd("restore", "restore a container from a previous checkpoint", "CRIU cannot checkpoint on this kernel"))
	root.SetHelpTemplate(helpTemplate)
	root.Version = Version
	root.SetVersionTemplate(fmt.Sprintf("corral-runc version %s\ncommit: %s\nspec: %s\ngo: %s\n",
		Version, commit(), specs.Version, goruntime.Version()))
	return root
}

// setup opens the log and checks unsupported global settings.
func (g *globals) setup() error {
	level := slog.LevelInfo
	if g.debug {
		level = slog.LevelDebug
	}
	var w io.Writer = os.Stderr
	if g.log != "" {
		f, err := os.OpenFile(g.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("open log file: %w", err)
		}
		g.logFile, w = f, f
	}
	var h slog.Handler
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: lowerLevel}
	switch g.logFormat {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return fmt.Errorf("--log-format %q: want text or json", g.logFormat)
	}
	slog.SetDefault(slog.New(h))
	if g.systemd {
		return errors.New("--systemd-cgroup: the systemd cgroup driver is not supported; use cgroupfs paths")
	}
	return nil
}

// report prints a failure as runc does: to stderr, and into the log file in
// its format so that callers like containerd can read it.
func (g *globals) report(err error) {
	fmt.Fprintln(os.Stderr, "corral:", err)
	if g.logFile == nil {
		return
	}
	if g.logFormat == "json" {
		b, _ := json.Marshal(map[string]string{"level": "error", "msg": err.Error(), "time": time.Now().Format(time.RFC3339Nano)})
		fmt.Fprintf(g.logFile, "%s\n", b)
		return
	}
	fmt.Fprintf(g.logFile, "time=%q level=error msg=%q\n", time.Now().Format(time.RFC3339Nano), err.Error())
}

func (g *globals) runtime() (*runtime.Runtime, error) {
	return runtime.New(g.root)
}

// oneID checks that a command got exactly one container id.
func oneID(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%s: expects exactly one container id, got %d arguments", cmd.Name(), len(args))
	}
	return nil
}

// lowerLevel writes levels as runc (logrus) does: "debug", not "DEBUG".
func lowerLevel(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.LevelKey {
		a.Value = slog.StringValue(strings.ToLower(a.Value.String()))
	}
	return a
}

// commit is the VCS revision the binary was built from, if Go recorded it.
func commit() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
