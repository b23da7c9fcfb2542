package cli

import "github.com/spf13/cobra"

// runCommands are the commands that run processes and carry their streams
// (create, run, start, attach, exec, logs, wait).
func (c *cli) runCommands() []*cobra.Command { return nil }
