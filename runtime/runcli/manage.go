package runcli

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/corral-dev/corral/runtime"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

func stateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "state <container-id>",
		Short: "print a container's state as JSON",
		Args:  oneID,
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			st, err := rt.State(args[0])
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(st, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
			return nil
		},
	}
}

func killCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "kill [flags] <container-id> [signal]",
		Short: "send a signal (default SIGTERM) to a container",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig := unix.SIGTERM
			if len(args) == 2 {
				var err error
				if sig, err = parseSignal(args[1]); err != nil {
					return err
				}
			}
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			return rt.Kill(args[0], sig, all)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "signal every process in the container")
	return cmd
}

// parseSignal accepts "9", "KILL" and "SIGKILL".
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

func deleteCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete [flags] <container-id>...",
		Short: "delete a stopped container (or any, with --force)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			for _, id := range args {
				if err := rt.Delete(cmd.Context(), id, force); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill the container first if it runs")
	return cmd
}

func listCmd(g *globals) *cobra.Command {
	var format string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "list containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			list, err := rt.List()
			if err != nil {
				return err
			}
			return printList(list, format, quiet)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only ids")
	return cmd
}

func printList(list []*runtime.State, format string, quiet bool) error {
	if quiet {
		for _, s := range list {
			fmt.Println(s.ID)
		}
		return nil
	}
	switch format {
	case "json":
		if list == nil {
			list = []*runtime.State{}
		}
		return json.NewEncoder(os.Stdout).Encode(list)
	case "table":
		w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
		fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
		for _, s := range list {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle,
				s.Created.Format(time.RFC3339Nano), s.Owner)
		}
		return w.Flush()
	}
	return fmt.Errorf("--format %q: want table or json", format)
}
