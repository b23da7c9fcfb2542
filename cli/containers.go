package cli

import "github.com/spf13/cobra"

// containerCommands are the container commands: each is added at the top
// level ("corral run") and again under "corral container", as docker's are.
// A cobra command has one parent, so the constructors are called once per
// place.
func (c *cli) containerCommands() []named {
	cmds := append(c.runCommands(), c.manageCommands()...)
	return append(cmds, c.filesCommands()...)
}

// containerCommand is "corral container": the same commands, plus ls as
// the name of ps.
func (c *cli) containerCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "container",
		Short: "Manage containers",
		Args:  noArgs,
		RunE:  showHelp,
	}
	cmd.AddCommand(buildAll(c.containerCommands())...)
	cmd.AddCommand(c.containerGroupCommands()...)
	return cmd
}
