package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/image"
	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/internal/reference"
)

const (
	imageTable       = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
	imageTableDigest = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
)

// imageHeader names the columns of image tables.
var imageHeader = map[string]string{
	"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
	"CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
	"Containers": "CONTAINERS", "VirtualSize": "SIZE", "SharedSize": "SHARED SIZE",
	"UniqueSize": "UNIQUE SIZE",
}

type imagesOptions struct {
	quiet, all, noTrunc, digests bool
	format                       string
	filter                       filterFlag
}

func (c *cli) imagesCommand() *cobra.Command {
	var o imagesOptions
	cmd := &cobra.Command{
		Use:         "images [OPTIONS] [REPOSITORY[:TAG]]",
		Short:       "List images",
		Args:        maxArgs(1),
		Annotations: map[string]string{"aliases": "corral image ls, corral image list, corral images"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				o.filter.f.Add("reference", args[0])
			}
			n, err := c.images(cmd.Context(), o)
			if err == nil && n == 0 && len(args) > 0 && cmd.CalledAs() == "images" {
				ambiguousHint(c.err, args[0])
			}
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only show image IDs")
	f.BoolVarP(&o.all, "all", "a", false, "Show all images (default hides intermediate images)")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.BoolVar(&o.digests, "digests", false, "Show digests")
	f.StringVar(&o.format, "format", "", formatHelp)
	f.VarP(&o.filter, "filter", "f", "Filter output based on conditions provided")
	return cmd
}

const formatHelp = `Format output using a custom template:
'table':            Print output in table format with column headers (default)
'table TEMPLATE':   Print output in table format using the given Go template
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template.
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates`

// images lists the images and returns how many there were.
func (c *cli) images(ctx context.Context, o imagesOptions) (int, error) {
	client, err := c.client(ctx)
	if err != nil {
		return 0, err
	}
	imgs, err := client.ImageList(ctx, api.ImageListOptions{All: o.all, Filters: o.filter.f})
	if err != nil {
		return 0, err
	}
	format := imageFormat(o.format, o.quiet, o.digests)
	lf := listFormat{format: format, header: imageHeader}
	withDigest := o.digests || strings.Contains(format, "{{.Digest}}")
	var rows []any
	for _, img := range imgs {
		for _, r := range imageRows(img, o.digests, withDigest) {
			r.trunc = !o.noTrunc
			rows = append(rows, r)
		}
	}
	return len(imgs), lf.write(c.out, rows)
}

// ambiguousHint helps who typed `images ls` for `image ls`.
func ambiguousHint(w io.Writer, name string) {
	switch name {
	case "build", "history", "import", "inspect", "list", "load", "ls", "prune", "pull", "push", "rm", "save", "tag":
		fmt.Fprintf(w, "\nNo images found matching %q: did you mean \"corral image %s\"?\n", name, name)
	}
}

// imageFormat picks the format as docker's `images` does.
func imageFormat(source string, quiet, digest bool) string {
	switch source {
	case "", tableFormat:
		switch {
		case quiet:
			return quietFormat
		case digest:
			return imageTableDigest
		}
		return imageTable
	case rawFormat:
		if quiet {
			return "image_id: {{.ID}}"
		}
		d := ""
		if digest {
			d = "digest: {{.Digest}}\n"
		}
		return "repository: {{ .Repository }}\ntag: {{.Tag}}\n" + d +
			"image_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n"
	}
	if strings.HasPrefix(source, tableFormat) && digest && !strings.Contains(source, "{{.Digest}}") {
		source += "\t{{.Digest}}"
	}
	return source
}

func isDangling(img image.Summary) bool {
	if len(img.RepoTags) == 0 && len(img.RepoDigests) == 0 {
		return true
	}
	return len(img.RepoTags) == 1 && img.RepoTags[0] == "<none>:<none>" &&
		len(img.RepoDigests) == 1 && img.RepoDigests[0] == "<none>@<none>"
}

// imageRows are the rows docker shows for an image: one per repository and
// tag (times digest when digests are shown), then one per repository known
// only by digest. Repositories are in name order.
func imageRows(img image.Summary, showDigests, withDigest bool) []*imageRow {
	if isDangling(img) {
		return []*imageRow{{i: img, repo: "<none>", tag: "<none>", digest: "<none>"}}
	}
	tags := map[string][]string{}
	digests := map[string][]string{}
	for _, s := range img.RepoTags {
		if ref, err := reference.ParseNormalizedNamed(s); err == nil {
			if t, ok := ref.(reference.NamedTagged); ok {
				name := reference.FamiliarName(ref)
				tags[name] = append(tags[name], t.Tag())
			}
		}
	}
	for _, s := range img.RepoDigests {
		if ref, err := reference.ParseNormalizedNamed(s); err == nil {
			if d, ok := ref.(reference.Canonical); ok {
				name := reference.FamiliarName(ref)
				digests[name] = append(digests[name], d.Digest().String())
			}
		}
	}
	var rows []*imageRow
	for _, repo := range sortedKeys(tags) {
		ds := digests[repo]
		delete(digests, repo)
		if !withDigest {
			ds = nil
		}
		for _, tag := range tags[repo] {
			if len(ds) == 0 {
				rows = append(rows, &imageRow{i: img, repo: repo, tag: tag, digest: "<none>"})
			}
			for _, d := range ds {
				rows = append(rows, &imageRow{i: img, repo: repo, tag: tag, digest: d})
			}
		}
	}
	for _, repo := range sortedKeys(digests) {
		if !showDigests {
			rows = append(rows, &imageRow{i: img, repo: repo, tag: "<none>"})
			continue
		}
		for _, d := range digests[repo] {
			rows = append(rows, &imageRow{i: img, repo: repo, tag: "<none>", digest: d})
		}
	}
	return rows
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// imageRow is one row of `images`; its methods are the template fields.
type imageRow struct {
	trunc  bool
	i      image.Summary
	repo   string
	tag    string
	digest string
}

func (r *imageRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }

func (r *imageRow) ID() string {
	if r.trunc {
		return truncateID(r.i.ID)
	}
	return r.i.ID
}

func (r *imageRow) Repository() string { return r.repo }
func (r *imageRow) Tag() string        { return r.tag }
func (r *imageRow) Digest() string     { return r.digest }

func (r *imageRow) CreatedSince() string {
	return humanSince(r.i.Created)
}

func (r *imageRow) CreatedAt() string { return time.Unix(r.i.Created, 0).String() }

func (r *imageRow) Size() string { return units.HumanSizeWithPrecision(float64(r.i.Size), 3) }

func (r *imageRow) Containers() string {
	if r.i.Containers == -1 {
		return "N/A"
	}
	return strconv.FormatInt(r.i.Containers, 10)
}

// VirtualSize is docker's deprecated alias of Size.
func (r *imageRow) VirtualSize() string { return units.HumanSize(float64(r.i.Size)) }

func (r *imageRow) SharedSize() string {
	if r.i.SharedSize == -1 {
		return "N/A"
	}
	return units.HumanSize(float64(r.i.SharedSize))
}

func (r *imageRow) UniqueSize() string {
	if r.i.Size == -1 || r.i.SharedSize == -1 {
		return "N/A"
	}
	return units.HumanSize(float64(r.i.Size - r.i.SharedSize))
}

// humanSince is "3 days ago" for a Unix time.
func humanSince(unix int64) string {
	t := time.Unix(unix, 0)
	if t.IsZero() {
		return ""
	}
	return units.HumanDuration(time.Now().UTC().Sub(t)) + " ago"
}

// filterFlag is a repeatable --filter key=value.
type filterFlag struct{ f api.Filters }

func (f *filterFlag) String() string {
	b, err := f.f.MarshalJSON()
	if err != nil {
		return "invalid filters"
	}
	if string(b) == "{}" {
		return ""
	}
	return string(b)
}

func (f *filterFlag) Set(v string) error {
	if v == "" {
		return nil
	}
	name, val, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("bad format of filter (expected name=value)")
	}
	f.f.Add(strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(val))
	return nil
}

func (f *filterFlag) Type() string { return "filter" }
