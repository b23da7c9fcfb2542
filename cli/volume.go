package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/volume"
	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/api"
)

// VolumeAPI is the engine's volume calls; client.Client implements it.
type VolumeAPI interface {
	VolumeCreate(ctx context.Context, req volume.CreateRequest) (volume.Volume, error)
	VolumeList(ctx context.Context, filters api.Filters) (volume.ListResponse, error)
	VolumeInspectWithRaw(ctx context.Context, name string) (volume.Volume, []byte, error)
	VolumeRemove(ctx context.Context, name string, force bool) error
	VolumesPrune(ctx context.Context, filters api.Filters) (volume.PruneReport, error)
}

// volumeAPI is the engine's client as a VolumeAPI.
func (c *cli) volumeAPI(ctx context.Context) (VolumeAPI, error) {
	client, err := c.client(ctx)
	if err != nil {
		return nil, err
	}
	va, ok := client.(VolumeAPI)
	if !ok {
		return nil, fmt.Errorf("the engine's client (%T) has no volume calls", client)
	}
	return va, nil
}

// volumeCommand is the `volume` group, as docker's.
func (c *cli) volumeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume COMMAND",
		Short: "Manage volumes",
		Args:  noArgs,
		RunE:  showHelp,
	}
	cmd.AddCommand(c.volumeCreateCommand(), c.volumeLsCommand(), c.volumeInspectCommand(),
		c.volumeRmCommand(), c.volumePruneCommand())
	return cmd
}

type volumeCreateOptions struct {
	name, driver string
	labels       listValue
	opts         mapValue
}

func (c *cli) volumeCreateCommand() *cobra.Command {
	var o volumeCreateOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := o.name
			if len(args) == 1 {
				if name != "" {
					return statusError{code: 1, msg: "conflicting options: cannot specify a volume-name through both --name and as a positional arg"}
				}
				name = args[0]
			}
			return c.volumeCreate(cmd.Context(), name, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.driver, "driver", "d", "local", "Specify volume driver name")
	f.StringVar(&o.name, "name", "", "Specify volume name")
	_ = f.MarkHidden("name")
	f.Var(&o.labels, "label", "Set metadata for a volume")
	f.VarP(&o.opts, "opt", "o", "Set driver specific options")
	return cmd
}

func (c *cli) volumeCreate(ctx context.Context, name string, o volumeCreateOptions) error {
	va, err := c.volumeAPI(ctx)
	if err != nil {
		return err
	}
	req := volume.CreateRequest{Name: name, Driver: o.driver, Labels: map[string]string{}, DriverOpts: o.opts.all()}
	for _, l := range o.labels.values {
		k, v, _ := strings.Cut(l, "=")
		req.Labels[k] = v
	}
	if req.DriverOpts == nil {
		req.DriverOpts = map[string]string{}
	}
	v, err := va.VolumeCreate(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.out, v.Name)
	return nil
}

type volumeLsOptions struct {
	quiet  bool
	format string
	filter filterFlag
}

func (c *cli) volumeLsCommand() *cobra.Command {
	var o volumeLsOptions
	cmd := &cobra.Command{
		Use:         "ls [OPTIONS]",
		Aliases:     []string{"list"},
		Short:       "List volumes",
		Annotations: map[string]string{"aliases": "corral volume ls, corral volume list"},
		Args:        noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.volumeLs(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display volume names")
	f.StringVar(&o.format, "format", "", formatHelp)
	f.VarP(&o.filter, "filter", "f", `Provide filter values (e.g. "dangling=true")`)
	return cmd
}

// volumeHeader names the columns of volume ls.
var volumeHeader = headerLabels{
	"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
	"Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "Group": "GROUP",
	"Availability": "AVAILABILITY", "Status": "STATUS",
}

func (c *cli) volumeLs(ctx context.Context, o volumeLsOptions) error {
	va, err := c.volumeAPI(ctx)
	if err != nil {
		return err
	}
	list, err := va.VolumeList(ctx, o.filter.f)
	if err != nil {
		return err
	}
	sort.Slice(list.Volumes, func(i, j int) bool { return list.Volumes[i].Name < list.Volumes[j].Name })
	format := o.format
	switch {
	case o.quiet:
		format = "{{.Name}}"
	case format == "" || format == tableFormat:
		format = "table {{.Driver}}\t{{.Name}}"
	}
	rows := make([]any, 0, len(list.Volumes))
	for i := range list.Volumes {
		rows = append(rows, &volumeRow{v: list.Volumes[i]})
	}
	return listFormat{format: format, header: volumeHeader}.write(c.out, rows)
}

// volumeRow is one row of volume ls; its methods are the template's
// fields.
type volumeRow struct{ v volume.Volume }

func (r *volumeRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }
func (r *volumeRow) Name() string                 { return r.v.Name }
func (r *volumeRow) Driver() string               { return r.v.Driver }
func (r *volumeRow) Scope() string                { return r.v.Scope }
func (r *volumeRow) Mountpoint() string           { return r.v.Mountpoint }

// Group, Availability and Status are swarm cluster volumes' fields: N/A
// for local volumes, as docker shows them.
func (r *volumeRow) Group() string        { return "N/A" }
func (r *volumeRow) Availability() string { return "N/A" }
func (r *volumeRow) Status() string       { return "N/A" }

// Labels are k=v pairs, comma-separated, sorted.
func (r *volumeRow) Labels() string {
	out := make([]string, 0, len(r.v.Labels))
	for k, v := range r.v.Labels {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// Label is the value of one label.
func (r *volumeRow) Label(name string) string { return r.v.Labels[name] }

func (r *volumeRow) Links() string {
	if r.v.UsageData == nil {
		return "N/A"
	}
	return fmt.Sprint(r.v.UsageData.RefCount)
}

func (r *volumeRow) Size() string {
	if r.v.UsageData == nil || r.v.UsageData.Size < 0 {
		return "N/A"
	}
	return units.HumanSize(float64(r.v.UsageData.Size))
}

func (c *cli) volumeInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			va, err := c.volumeAPI(cmd.Context())
			if err != nil {
				return err
			}
			return c.inspectObjects(cmd.Context(), args, format, func(ctx context.Context, ref string) (any, []byte, error) {
				return va.VolumeInspectWithRaw(ctx, ref)
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", inspectFormatHelp)
	return cmd
}

func (c *cli) volumeRmCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:         "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases:     []string{"remove"},
		Short:       "Remove one or more volumes",
		Long:        "Remove one or more volumes. You cannot remove a volume that is in use by a container.",
		Annotations: map[string]string{"aliases": "corral volume rm, corral volume remove"},
		Args:        minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.volumeRm(cmd.Context(), args, force)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of one or more volumes")
	return cmd
}

// volumeRm removes each volume, printing its name; failures are reported
// together after the others, exit code 1, as docker does.
func (c *cli) volumeRm(ctx context.Context, names []string, force bool) error {
	va, err := c.volumeAPI(ctx)
	if err != nil {
		return err
	}
	return c.removeEach(names, func(name string) error { return va.VolumeRemove(ctx, name, force) }, nil)
}

type volumePruneOptions struct {
	force, all bool
	filter     filterFlag
}

func (c *cli) volumePruneCommand() *cobra.Command {
	var o volumePruneOptions
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused local volumes",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.volumePrune(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	f.BoolVarP(&o.force, "force", "f", false, "Do not prompt for confirmation")
	f.Var(&o.filter, "filter", `Provide filter values (e.g. "label=<label>")`)
	return cmd
}

const (
	volumePruneWarning = `WARNING! This will remove anonymous local volumes not used by at least one container.
Are you sure you want to continue?`
	volumePruneAllWarning = `WARNING! This will remove all local volumes not used by at least one container.
Are you sure you want to continue?`
)

func (c *cli) volumePrune(ctx context.Context, o volumePruneOptions) error {
	warning := volumePruneWarning
	f := o.filter.f.Clone()
	if o.all {
		if f.Contains("all") {
			return statusError{code: 1, msg: "conflicting options: cannot specify both --all and --filter all=1"}
		}
		f.Add("all", "true")
		warning = volumePruneAllWarning
	}
	if !o.force && !c.confirm(warning) {
		return statusError{code: 0}
	}
	va, err := c.volumeAPI(ctx)
	if err != nil {
		return err
	}
	rep, err := va.VolumesPrune(ctx, f)
	if err != nil {
		return err
	}
	c.printDeleted("Deleted Volumes", rep.VolumesDeleted)
	fmt.Fprintln(c.out, "Total reclaimed space:", units.HumanSize(float64(rep.SpaceReclaimed)))
	return nil
}

// dfVolumeRows are the volumes of system df -v.
func dfVolumeRows(du *volume.DiskUsage) []any {
	rows := []any{}
	if du != nil {
		for i := range du.Items {
			rows = append(rows, &volumeRow{v: du.Items[i]})
		}
	}
	return rows
}

// volumesRow is the "Local Volumes" line of system df.
func volumesRow(du *volume.DiskUsage) *dfRow {
	r := &dfRow{kind: "Local Volumes", percent: true}
	if du != nil {
		r.count, r.active = int(du.TotalCount), int(du.ActiveCount)
		r.size, r.reclaimable = du.TotalSize, du.Reclaimable
	}
	return r
}
