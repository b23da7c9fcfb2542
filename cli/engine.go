package cli

import "github.com/spf13/cobra"

// engineCommands are the engine-wide commands at the top level (info,
// version, events); systemCommands are the same under "corral system".
func (c *cli) engineCommands() []*cobra.Command { return nil }

func (c *cli) systemCommands() []*cobra.Command { return nil }
