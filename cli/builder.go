package cli

import (
	"context"
	"fmt"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/build"
	"github.com/spf13/cobra"
)

// BuildCacheAPI is POST /build/prune.
type BuildCacheAPI interface {
	BuildCachePrune(ctx context.Context, all bool) (build.CachePruneReport, error)
}

// builderCommand is `builder prune`, as the docker CLI without buildx has
// it.
func (c *cli) builderCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "builder", Short: "Manage builds", Args: noArgs}
	var all, force bool
	prune := &cobra.Command{
		Use:   "prune",
		Short: "Remove build cache",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.builderPrune(cmd.Context(), all, force)
		},
	}
	prune.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused build cache, not just dangling ones")
	prune.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.AddCommand(prune)
	return cmd
}

const (
	builderPruneWarning    = "WARNING! This will remove all dangling build cache. Are you sure you want to continue?"
	builderPruneAllWarning = "WARNING! This will remove all build cache. Are you sure you want to continue?"
)

func (c *cli) builderPrune(ctx context.Context, all, force bool) error {
	warning := builderPruneWarning
	if all {
		warning = builderPruneAllWarning
	}
	if !force && !c.confirm(warning) {
		return statusError{code: 0}
	}
	client, err := c.client(ctx)
	if err != nil {
		return err
	}
	bc, ok := client.(BuildCacheAPI)
	if !ok {
		return fmt.Errorf("the engine's client (%T) cannot prune the build cache", client)
	}
	rep, err := bc.BuildCachePrune(ctx, all)
	if err != nil {
		return err
	}
	if len(rep.CachesDeleted) > 0 {
		fmt.Fprintln(c.out, "Deleted build cache objects:")
		for _, id := range rep.CachesDeleted {
			fmt.Fprintln(c.out, id)
		}
		fmt.Fprintln(c.out)
	}
	fmt.Fprintf(c.out, "Total reclaimed space: %s\n", units.HumanSize(float64(rep.SpaceReclaimed)))
	return nil
}
