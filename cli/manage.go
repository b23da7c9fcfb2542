package cli

import "github.com/spf13/cobra"

// manageCommands are the commands that list, inspect, change and remove
// containers.
func (c *cli) manageCommands() []*cobra.Command { return nil }
