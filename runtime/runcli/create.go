package runcli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/corral-dev/corral/runtime"
	"github.com/spf13/cobra"
)

func specCmd() *cobra.Command {
	var bundle string
	cmd := &cobra.Command{
		Use:   "spec",
		Short: "write a default config.json into the bundle",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := filepath.Join(bundle, "config.json")
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("file %s exists; remove it first", path)
			}
			b, err := json.MarshalIndent(runtime.ExampleSpec(), "", "\t")
			if err != nil {
				return err
			}
			return os.WriteFile(path, append(b, '\n'), 0o666)
		},
	}
	cmd.Flags().StringVarP(&bundle, "bundle", "b", ".", "bundle directory")
	cmd.Flags().Bool("rootless", false, "ignored; rootless specs are not generated yet")
	return cmd
}

// createFlags are shared by create and run.
type createFlags struct {
	bundle, consoleSocket, pidFile string
	noPivot, noNewKeyring          bool
	preserveFDs                    int
}

func (f *createFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.bundle, "bundle", "b", ".", "bundle directory")
	fl.StringVar(&f.consoleSocket, "console-socket", "", "unix socket that receives the pty master")
	fl.StringVar(&f.pidFile, "pid-file", "", "write the container's pid to this file")
	fl.BoolVar(&f.noPivot, "no-pivot", false, "use chroot instead of pivot_root")
	fl.BoolVar(&f.noNewKeyring, "no-new-keyring", false, "accepted for runc compatibility")
	fl.IntVar(&f.preserveFDs, "preserve-fds", 0, "pass this many extra descriptors (from 3 up) to the container")
}

func (f *createFlags) opts() (runtime.CreateOpts, error) {
	if f.preserveFDs < 0 {
		return runtime.CreateOpts{}, errors.New("--preserve-fds must not be negative")
	}
	return runtime.CreateOpts{Bundle: f.bundle, ConsoleSocket: f.consoleSocket, PidFile: f.pidFile,
		NoPivot: f.noPivot, PreserveFDs: f.preserveFDs,
		Stdio: runtime.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}}, nil
}

// prepare checks the flags and opens the runtime, for create and run.
func (f *createFlags) prepare(g *globals) (*runtime.Runtime, runtime.CreateOpts, error) {
	o, err := f.opts()
	if err != nil {
		return nil, o, err
	}
	rt, err := g.runtime()
	return rt, o, err
}

func createCmd(g *globals) *cobra.Command {
	var f createFlags
	cmd := &cobra.Command{
		Use:   "create [flags] <container-id>",
		Short: "create a container that waits for start",
		Args:  oneID,
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, o, err := f.prepare(g)
			if err != nil {
				return err
			}
			return rt.Create(cmd.Context(), args[0], o)
		},
	}
	f.register(cmd)
	return cmd
}

func runCmd(g *globals) *cobra.Command {
	var f createFlags
	var detach, keep bool
	cmd := &cobra.Command{
		Use:   "run [flags] <container-id>",
		Short: "create and start a container, and wait for it unless detached",
		Args:  oneID,
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, o, err := f.prepare(g)
			if err != nil {
				return err
			}
			code, err := rt.Run(cmd.Context(), args[0], runtime.RunOpts{CreateOpts: o, Detach: detach, Keep: keep})
			if err != nil {
				return err
			}
			if code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "do not wait for the container")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the container after it exits")
	return cmd
}

func startCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "start <container-id>",
		Short: "start a created container",
		Args:  oneID,
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			return rt.Start(cmd.Context(), args[0])
		},
	}
}
