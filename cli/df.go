package cli

import (
	"context"
	"fmt"
	"strconv"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/volume"
	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/internal/reference"
)

const (
	dfTable           = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
	dfImageTable      = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}"
	dfContainersTable = `
Containers space usage:

CONTAINER ID   IMAGE     COMMAND   LOCAL VOLUMES   SIZE      CREATED   STATUS    NAMES

Local Volumes space usage:

`
	dfVolumeTable = "table {{.Name}}\t{{.Links}}\t{{.Size}}"
	dfBuildCache  = `
Build cache usage: 0B

CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED
`
)

var dfHeader = map[string]string{
	"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE",
}

type dfOptions struct {
	verbose bool
	format  string
}

func (c *cli) dfCommand() *cobra.Command {
	var o dfOptions
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show corral disk usage",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.df(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.format, "format", "", formatHelp)
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "Show detailed information on space usage")
	return cmd
}

func (c *cli) df(ctx context.Context, o dfOptions) error {
	client, err := c.client(ctx)
	if err != nil {
		return err
	}
	du, err := client.DiskUsage(ctx)
	if err != nil {
		return err
	}
	images := &image.DiskUsage{}
	if du.ImageUsage != nil {
		images = du.ImageUsage
	}
	if o.verbose {
		return c.dfVerbose(images, du.VolumeUsage, o.format)
	}
	format := o.format
	if format == "" || format == tableFormat {
		format = dfTable
	}
	rows := []any{
		&dfRow{kind: "Images", count: len(images.Items), active: activeImages(images.Items),
			size: images.TotalSize, reclaimable: reclaimableImages(images), percent: true},
		&dfRow{kind: "Containers"},
		volumesRow(du.VolumeUsage),
		buildCacheRow(du.BuildCacheUsage),
	}
	return listFormat{format: format, header: dfHeader}.write(c.out, rows)
}

// dfVerbose lists the images, then (empty, until the engine has them)
// containers, volumes and build cache.
func (c *cli) dfVerbose(du *image.DiskUsage, vu *volume.DiskUsage, format string) error {
	var rows []any
	for _, img := range du.Items {
		r := &imageRow{i: img, repo: "<none>", tag: "<none>", trunc: format == "" || format == tableFormat}
		if len(img.RepoTags) > 0 && !isDangling(img) {
			if ref, err := reference.ParseNormalizedNamed(img.RepoTags[0]); err == nil {
				if t, ok := ref.(reference.NamedTagged); ok {
					r.repo, r.tag = reference.FamiliarName(ref), t.Tag()
				}
			}
		}
		rows = append(rows, r)
	}
	if format != "" && format != tableFormat {
		tmpl, err := parseTemplate(listFormat{format: format}.template())
		if err != nil {
			return err
		}
		return tmpl.Execute(c.out, map[string]any{"Images": rows, "Containers": []any{}, "Volumes": dfVolumeRows(vu), "BuildCache": []any{}})
	}
	fmt.Fprint(c.out, "Images space usage:\n\n")
	if err := (listFormat{format: dfImageTable, header: imageHeader}).write(c.out, rows); err != nil {
		return err
	}
	fmt.Fprint(c.out, dfContainersTable)
	if err := (listFormat{format: dfVolumeTable, header: volumeHeader}).write(c.out, dfVolumeRows(vu)); err != nil {
		return err
	}
	_, err := fmt.Fprint(c.out, dfBuildCache)
	return err
}

func activeImages(items []image.Summary) int {
	n := 0
	for _, i := range items {
		if i.Containers > 0 {
			n++
		}
	}
	return n
}

// reclaimableImages is the space not held by images in use by containers.
func reclaimableImages(du *image.DiskUsage) int64 {
	var used int64
	for _, i := range du.Items {
		if i.Containers != 0 && i.Size != -1 && i.SharedSize != -1 {
			used += i.Size - i.SharedSize
		}
	}
	return du.TotalSize - used
}

// dfRow is one line of `system df`.
type dfRow struct {
	kind              string
	count, active     int
	size, reclaimable int64
	percent           bool
}

func (r *dfRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }
func (r *dfRow) Type() string                 { return r.kind }
func (r *dfRow) TotalCount() string           { return strconv.Itoa(r.count) }
func (r *dfRow) Active() string               { return strconv.Itoa(r.active) }
func (r *dfRow) Size() string                 { return units.HumanSize(float64(r.size)) }

func (r *dfRow) Reclaimable() string {
	if r.percent && r.size > 0 {
		return fmt.Sprintf("%s (%v%%)", units.HumanSize(float64(r.reclaimable)), r.reclaimable*100/r.size)
	}
	return units.HumanSize(float64(r.reclaimable))
}

func buildCacheRow(bu *build.DiskUsage) *dfRow {
	r := &dfRow{kind: "Build Cache"}
	if bu != nil {
		r.count, r.active, r.size, r.reclaimable = int(bu.TotalCount), int(bu.ActiveCount), bu.TotalSize, bu.Reclaimable
	}
	return r
}
