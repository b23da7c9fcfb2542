package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

func (c *cli) tagCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:         "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short:       "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:        exactArgs(2),
		Annotations: map[string]string{"aliases": "corral image tag, corral tag"},
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := c.client(cmd.Context())
			if err != nil {
				return err
			}
			return client.ImageTag(cmd.Context(), args[0], args[1])
		},
	}
	cmd.Flags().SetInterspersed(false)
	return cmd
}

type rmiOptions struct{ force, noPrune bool }

func (c *cli) rmiCommand() *cobra.Command {
	var o rmiOptions
	cmd := &cobra.Command{
		Use:         "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short:       "Remove one or more images",
		Args:        minArgs(1),
		Annotations: map[string]string{"aliases": "corral image rm, corral image remove, corral rmi"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.rmi(cmd.Context(), args, o)
		},
	}
	cmd.Flags().BoolVarP(&o.force, "force", "f", false, "Force removal of the image")
	cmd.Flags().BoolVar(&o.noPrune, "no-prune", false, "Do not delete untagged parents")
	return cmd
}

// rmi removes each image; with --force, images that do not exist are
// reported on stderr without failing the command, as docker does.
func (c *cli) rmi(ctx context.Context, refs []string, o rmiOptions) error {
	client, err := c.client(ctx)
	if err != nil {
		return err
	}
	opts := api.ImageRemoveOptions{Force: o.force, PruneChildren: !o.noPrune}
	fatal := false
	var errs []error
	for _, ref := range refs {
		dels, err := client.ImageRemove(ctx, ref, opts)
		if err != nil {
			fatal = fatal || !errdefs.IsNotFound(err)
			errs = append(errs, err)
			continue
		}
		for _, d := range dels {
			if d.Deleted != "" {
				fmt.Fprintln(c.out, "Deleted:", d.Deleted)
			} else {
				fmt.Fprintln(c.out, "Untagged:", d.Untagged)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		if !o.force || fatal {
			return err
		}
		fmt.Fprintln(c.err, err)
	}
	return nil
}

type pruneOptions struct {
	force, all bool
	filter     filterFlag
}

func (c *cli) pruneCommand() *cobra.Command {
	var o pruneOptions
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.prune(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Remove all unused images, not just dangling ones")
	f.Var(&o.filter, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	f.BoolVarP(&o.force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}

const (
	pruneAllWarning = `WARNING! This will remove all images without at least one container associated to them.
Are you sure you want to continue?`
	pruneDanglingWarning = `WARNING! This will remove all dangling images.
Are you sure you want to continue?`
)

func (c *cli) prune(ctx context.Context, o pruneOptions) error {
	filters := o.filter.f.Clone()
	filters.Add("dangling", strconv.FormatBool(!o.all))
	warning := pruneDanglingWarning
	if o.all {
		warning = pruneAllWarning
	}
	if !o.force && !c.confirm(warning) {
		return statusError{code: 0} // cancelled: docker says nothing
	}
	client, err := c.client(ctx)
	if err != nil {
		return err
	}
	report, err := client.ImagesPrune(ctx, filters)
	if err != nil {
		return err
	}
	var reclaimed uint64
	if len(report.ImagesDeleted) > 0 {
		var sb strings.Builder
		sb.WriteString("Deleted Images:\n")
		for _, d := range report.ImagesDeleted {
			if d.Untagged != "" {
				fmt.Fprintf(&sb, "untagged: %s\n", d.Untagged)
			} else {
				fmt.Fprintf(&sb, "deleted: %s\n", d.Deleted)
			}
		}
		fmt.Fprintln(c.out, sb.String())
		reclaimed = report.SpaceReclaimed
	}
	fmt.Fprintln(c.out, "Total reclaimed space:", units.HumanSize(float64(reclaimed)))
	return nil
}

// removeEach removes each of names with remove and prints the name of each
// one removed; the failures are reported together after the others, exit
// code 1, as docker does. Errors ignore accepts (nil: none) are neither
// printed nor reported.
func (c *cli) removeEach(names []string, remove func(string) error, ignore func(error) bool) error {
	var errs []error
	for _, name := range names {
		if err := remove(name); err != nil {
			if ignore == nil || !ignore(err) {
				errs = append(errs, err)
			}
			continue
		}
		fmt.Fprintln(c.out, name)
	}
	if err := errors.Join(errs...); err != nil {
		return statusError{code: 1, msg: err.Error()}
	}
	return nil
}

// printDeleted prints what a prune deleted as docker does: the title, one
// name a line and a blank line; nothing when nothing was deleted.
func (c *cli) printDeleted(title string, names []string) {
	if len(names) > 0 {
		fmt.Fprintln(c.out, title+":\n"+strings.Join(names, "\n")+"\n")
	}
}

// confirm asks a yes/no question on the streams; only "y" is yes.
func (c *cli) confirm(question string) bool {
	fmt.Fprint(c.out, question+" [y/N] ")
	sc := bufio.NewScanner(c.in)
	if !sc.Scan() {
		return false
	}
	return strings.EqualFold(strings.TrimSpace(sc.Text()), "y")
}
