package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/api"
)

// SecretAPI is the engine's secret calls; client.Client implements it.
// The real docker CLI refuses its secret commands unless the daemon is a
// swarm manager, which corral is not: these commands are the interface.
type SecretAPI interface {
	SecretCreate(ctx context.Context, spec swarm.SecretSpec) (swarm.SecretCreateResponse, error)
	SecretList(ctx context.Context, filters api.Filters) ([]swarm.Secret, error)
	SecretInspect(ctx context.Context, ref string) (swarm.Secret, error)
	SecretRemove(ctx context.Context, ref string) error
}

// maxSecretRead bounds what secret create reads: one byte more than the
// engine takes, so the engine names the problem.
const maxSecretRead = 500*1024 + 1

func (c *cli) secretAPI(ctx context.Context) (SecretAPI, error) {
	client, err := c.client(ctx)
	if err != nil {
		return nil, err
	}
	sa, ok := client.(SecretAPI)
	if !ok {
		return nil, fmt.Errorf("the engine's client (%T) has no secret calls", client)
	}
	return sa, nil
}

func (c *cli) secretCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Manage secrets",
		Args:  noArgs,
		RunE:  showHelp,
	}
	cmd.AddCommand(c.secretCreateCommand(), c.secretLsCommand(), c.secretInspectCommand(), c.secretRmCommand())
	return cmd
}

func (c *cli) secretCreateCommand() *cobra.Command {
	var labels listValue
	labels.validate = validateLabel
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] SECRET file|-",
		Short: "Create a secret from a file or STDIN as content",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.secretCreate(cmd.Context(), args[0], args[1], kvMap(labels.values))
		},
	}
	cmd.Flags().VarP(&labels, "label", "l", "Secret labels")
	return cmd
}

func (c *cli) secretCreate(ctx context.Context, name, file string, labels map[string]string) error {
	var in io.Reader = c.in
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("error reading content from %q: %w", file, err)
		}
		defer f.Close()
		in = f
	}
	data, err := io.ReadAll(io.LimitReader(in, maxSecretRead))
	if err != nil {
		return fmt.Errorf("error reading content from %q: %w", file, err)
	}
	sa, err := c.secretAPI(ctx)
	if err != nil {
		return err
	}
	resp, err := sa.SecretCreate(ctx, swarm.SecretSpec{Annotations: swarm.Annotations{Name: name, Labels: labels}, Data: data})
	if err != nil {
		return err
	}
	fmt.Fprintln(c.out, resp.ID)
	return nil
}

type secretLsOptions struct {
	quiet  bool
	format string
	filter filterFlag
}

const secretTable = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.CreatedAt}}\t{{.UpdatedAt}}"

var secretHeader = map[string]string{"ID": "ID", "Name": "NAME", "Driver": "DRIVER",
	"CreatedAt": "CREATED", "UpdatedAt": "UPDATED", "Labels": "LABELS"}

func (c *cli) secretLsCommand() *cobra.Command {
	var o secretLsOptions
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List secrets",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.secretLs(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display IDs")
	f.StringVar(&o.format, "format", "", formatHelp)
	f.VarP(&o.filter, "filter", "f", "Filter output based on conditions provided")
	return cmd
}

func (c *cli) secretLs(ctx context.Context, o secretLsOptions) error {
	sa, err := c.secretAPI(ctx)
	if err != nil {
		return err
	}
	list, err := sa.SecretList(ctx, o.filter.f)
	if err != nil {
		return err
	}
	format := o.format
	switch {
	case o.quiet:
		format = quietFormat
	case format == "" || format == tableFormat:
		format = secretTable
	}
	rows := make([]any, len(list))
	for i, s := range list {
		rows[i] = &secretRow{s: s}
	}
	return listFormat{format: format, header: secretHeader}.write(c.out, rows)
}

// secretRow is one row of `secret ls`.
type secretRow struct{ s swarm.Secret }

func (r *secretRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }
func (r *secretRow) ID() string                   { return r.s.ID }
func (r *secretRow) Name() string                 { return r.s.Spec.Name }
func (r *secretRow) Driver() string               { return "" }
func (r *secretRow) CreatedAt() string            { return ago(r.s.CreatedAt) }
func (r *secretRow) UpdatedAt() string            { return ago(r.s.UpdatedAt) }
func (r *secretRow) Labels() string {
	return (&psRow{c: container.Summary{Labels: r.s.Spec.Labels}}).Labels()
}

func ago(t time.Time) string { return humanSince(t.Unix()) }

func (c *cli) secretInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] SECRET [SECRET...]",
		Short: "Display detailed information on one or more secrets",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.secretInspect(cmd.Context(), args, format)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", inspectFormatHelp)
	return cmd
}

func (c *cli) secretInspect(ctx context.Context, refs []string, format string) error {
	sa, err := c.secretAPI(ctx)
	if err != nil {
		return err
	}
	return c.inspectObjects(ctx, refs, format, func(ctx context.Context, ref string) (any, []byte, error) {
		s, err := sa.SecretInspect(ctx, ref)
		if err != nil {
			return nil, nil, err
		}
		raw, err := marshalRaw(s)
		return s, raw, err
	})
}

func (c *cli) secretRmCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "rm SECRET [SECRET...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more secrets",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.secretRm(cmd.Context(), args)
		},
	}
}

// secretRm removes each secret, printing the names of those removed; the
// failures are reported at the end, exit code 1.
func (c *cli) secretRm(ctx context.Context, refs []string) error {
	sa, err := c.secretAPI(ctx)
	if err != nil {
		return err
	}
	return c.removeEach(refs, func(ref string) error { return sa.SecretRemove(ctx, ref) }, nil)
}
