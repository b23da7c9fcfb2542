package cli

import "github.com/spf13/cobra"

// filesCommands are the commands on a container's filesystem (cp, diff,
// export, commit).
func (c *cli) filesCommands() []*cobra.Command { return nil }
