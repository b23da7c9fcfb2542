package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/api"
)

type commitOptions struct {
	author, message string
	changes         []string
	pause           bool
}

func (c *cli) commitCommand() *cobra.Command {
	var o commitOptions
	cmd := &cobra.Command{
		Use:         "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short:       "Create a new image from a container's changes",
		Args:        rangeArgs(1, 2),
		Annotations: map[string]string{"aliases": "corral container commit, corral commit"},
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := ""
			if len(args) > 1 {
				ref = args[1]
			}
			return c.commit(cmd.Context(), args[0], ref, o)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.StringVarP(&o.author, "author", "a", "", `Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	f.VarP((*listFlag)(&o.changes), "change", "c", "Apply Dockerfile instruction to the created image")
	f.StringVarP(&o.message, "message", "m", "", "Commit message")
	f.BoolVarP(&o.pause, "pause", "p", true, "Pause container during commit")
	return cmd
}

// commit makes an image of the container and prints its ID.
func (c *cli) commit(ctx context.Context, name, ref string, o commitOptions) error {
	fa, err := c.filesAPI(ctx)
	if err != nil {
		return err
	}
	resp, err := fa.ContainerCommit(ctx, name, api.ContainerCommitOptions{Container: name, Repo: ref,
		Author: o.author, Comment: o.message, Changes: o.changes, Pause: o.pause})
	if err != nil {
		return err
	}
	fmt.Fprintln(c.out, resp.ID)
	return nil
}
