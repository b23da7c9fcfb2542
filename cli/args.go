package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// Positional argument checks with docker's messages.

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if !cmd.HasParent() {
		return fmt.Errorf("%s: unknown command: %s %s\n\nRun '%s --help' for more information",
			cmd.Name(), cmd.Name(), args[0], cmd.Name())
	}
	if cmd.HasSubCommands() {
		return fmt.Errorf("%s: unknown command: %s %s\n\nUsage:  %s\n\nRun '%s --help' for more information",
			cmd.Root().Name(), cmd.CommandPath(), args[0], cmd.UseLine(), cmd.CommandPath())
	}
	return fmt.Errorf("%s: '%s' accepts no arguments\n\nUsage:  %s\n\nRun '%s --help' for more information",
		cmd.Root().Name(), cmd.CommandPath(), cmd.UseLine(), cmd.CommandPath())
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return argsError(cmd, fmt.Sprintf("requires %d %s", n, plural("argument", n)))
	}
}

func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= n {
			return nil
		}
		// docker says "See" here, "Run" elsewhere.
		return fmt.Errorf("%s: '%s' requires at least %d %s\n\nUsage:  %s\n\nSee '%s --help' for more information",
			cmd.Root().Name(), cmd.CommandPath(), n, plural("argument", n), cmd.UseLine(), cmd.CommandPath())
	}
}

func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) <= n {
			return nil
		}
		return argsError(cmd, fmt.Sprintf("requires at most %d %s", n, plural("argument", n)))
	}
}

func argsError(cmd *cobra.Command, what string) error {
	return fmt.Errorf("%s: '%s' %s\n\nUsage:  %s\n\nRun '%s --help' for more information",
		cmd.Root().Name(), cmd.CommandPath(), what, cmd.UseLine(), cmd.CommandPath())
}

func plural(word string, n int) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
