package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"path"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/internal/reference"
)

const psTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

// psHeader names the columns of ps tables.
var psHeader = headerLabels{
	"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
	"CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE",
	"Status": "STATUS", "Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS",
	"LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS", "Platform": "PLATFORM",
}

// headerLabels is the header row's data: column names by field, and a
// Label method so that {{.Label "x"}} heads its column with "x", as
// docker's.
type headerLabels map[string]string

func (headerLabels) Label(name string) string {
	parts := strings.Split(name, ".")
	return strings.NewReplacer("-", " ", "_", " ").Replace(parts[len(parts)-1])
}

type psOptions struct {
	quiet, size, all, noTrunc, latest bool
	last                              int
	format                            string
	filter                            filterFlag
}

func (c *cli) psCommand() *cobra.Command {
	var o psOptions
	cmd := &cobra.Command{
		Use:         "ps [OPTIONS]",
		Short:       "List containers",
		Args:        noArgs,
		Annotations: map[string]string{"aliases": "corral container ls, corral container list, corral container ps, corral ps"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.ps(cmd.Context(), o, cmd.Flags().Changed("size"))
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display container IDs")
	f.BoolVarP(&o.size, "size", "s", false, "Display total file sizes")
	f.BoolVarP(&o.all, "all", "a", false, "Show all containers (default shows just running)")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.BoolVarP(&o.latest, "latest", "l", false, "Show the latest created container (includes all states)")
	f.IntVarP(&o.last, "last", "n", -1, "Show n last created containers (includes all states)")
	f.StringVar(&o.format, "format", "", formatHelp)
	f.VarP(&o.filter, "filter", "f", "Filter output based on conditions provided")
	return cmd
}

// listOptions are the API options of ps; a template that uses .Size asks
// for sizes unless --size was given.
func (o psOptions) listOptions(sizeChanged bool) (api.ContainerListOptions, error) {
	opts := api.ContainerListOptions{All: o.all, Limit: o.last, Size: o.size, Filters: o.filter.f}
	if o.latest && o.last == -1 {
		opts.Limit = 1
	}
	if o.format == "" {
		return opts, nil
	}
	tmpl, err := template.New("").Funcs(templateFuncs).Parse(o.format)
	if err != nil {
		return opts, fmt.Errorf("failed to parse template: %w", err)
	}
	probe := &psRow{sizeUsed: new(bool)}
	if err := tmpl.Execute(io.Discard, probe); err != nil {
		return opts, fmt.Errorf("failed to execute template: %w", err)
	}
	if !o.quiet && !opts.Size && !sizeChanged && *probe.sizeUsed {
		opts.Size = true
	}
	return opts, nil
}

func (c *cli) ps(ctx context.Context, o psOptions, sizeChanged bool) error {
	if o.format != "" && o.quiet {
		fmt.Fprintln(c.err, "WARNING: Ignoring custom format, because both --format and --quiet are set.")
	}
	opts, err := o.listOptions(sizeChanged)
	if err != nil {
		return err
	}
	ca, err := c.containerAPI(ctx)
	if err != nil {
		return err
	}
	list, err := ca.ContainerList(ctx, opts)
	if err != nil {
		return err
	}
	rows := make([]any, len(list))
	for i, s := range list {
		rows[i] = &psRow{c: s, trunc: !o.noTrunc}
	}
	return writeRows(c.out, psFormat(o.format, o.quiet, opts.Size), psHeader, rows)
}

// psFormat picks the format as docker's ps does.
func psFormat(source string, quiet, size bool) string {
	switch source {
	case "", tableFormat:
		if quiet {
			return quietFormat
		}
		if size {
			return psTable + `\t{{.Size}}`
		}
		return psTable
	case rawFormat:
		if quiet {
			return "container_id: {{.ID}}"
		}
		raw := "container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\ncreated_at: {{.CreatedAt}}\n" +
			"state: {{- pad .State 1 0}}\nstatus: {{- pad .Status 1 0}}\nnames: {{.Names}}\n" +
			"labels: {{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\n"
		if size {
			raw += `size: {{.Size}}\n`
		}
		return raw
	}
	if quiet {
		return quietFormat
	}
	return source
}

type containerPruneOptions struct {
	force  bool
	filter filterFlag
}

func (c *cli) containerPruneCommand() *cobra.Command {
	var o containerPruneOptions
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.containerPrune(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.force, "force", "f", false, "Do not prompt for confirmation")
	f.Var(&o.filter, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

const containerPruneWarning = `WARNING! This will remove all stopped containers.
Are you sure you want to continue?`

func (c *cli) containerPrune(ctx context.Context, o containerPruneOptions) error {
	if !o.force && !c.confirm(containerPruneWarning) {
		return statusError{code: 0} // cancelled: docker says nothing more
	}
	ca, err := c.containerAPI(ctx)
	if err != nil {
		return err
	}
	report, err := ca.ContainersPrune(ctx, o.filter.f)
	if err != nil {
		return err
	}
	var reclaimed uint64
	if len(report.ContainersDeleted) > 0 {
		c.printDeleted("Deleted Containers", report.ContainersDeleted)
		reclaimed = report.SpaceReclaimed
	}
	fmt.Fprintln(c.out, "Total reclaimed space:", units.HumanSize(float64(reclaimed)))
	return nil
}

// writeRows renders rows with a --format value as listFormat does, with a
// header row rendered from header, which may have methods.
func writeRows(out io.Writer, format string, header any, rows []any) error {
	return listFormat{format: format, header: header}.write(out, rows)
}

// psRow is one row of ps; its methods are the template's fields.
type psRow struct {
	c     container.Summary
	trunc bool
	// sizeUsed, if not nil, is set when the template asks for Size.
	sizeUsed *bool
}

func (r *psRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }

func (r *psRow) ID() string {
	if r.trunc {
		return truncateID(r.c.ID)
	}
	return r.c.ID
}

// Names are the container's names without their "/"; truncated, only its
// own name, not those it has as a link.
func (r *psRow) Names() string {
	names := make([]string, len(r.c.Names))
	for i, n := range r.c.Names {
		names[i] = strings.TrimPrefix(n, "/")
	}
	if r.trunc {
		for _, n := range names {
			if !strings.Contains(n, "/") {
				names = []string{n}
				break
			}
		}
	}
	return strings.Join(names, ",")
}

// Image is the image as the container was created from it; truncated, a
// short ID or the reference without its digest.
func (r *psRow) Image() string {
	img := r.c.Image
	if img == "" {
		return "<no image>"
	}
	if !r.trunc {
		return img
	}
	if short := truncateID(r.c.ImageID); short == truncateID(img) {
		return short
	}
	ref, err := reference.ParseNormalizedNamed(img)
	if err != nil {
		return img
	}
	if tagged, ok := ref.(reference.NamedTagged); ok {
		if t, err := reference.WithTag(reference.TrimNamed(tagged), tagged.Tag()); err == nil {
			return reference.FamiliarString(t)
		}
		return img
	}
	return reference.FamiliarString(reference.TrimNamed(ref))
}

func (r *psRow) Command() string {
	cmd := r.c.Command
	if r.trunc {
		cmd = ellipsis(cmd, 20)
	}
	return strconv.Quote(cmd)
}

func (r *psRow) CreatedAt() string { return time.Unix(r.c.Created, 0).String() }

func (r *psRow) RunningFor() string { return humanSince(r.c.Created) }

func (r *psRow) Ports() string { return displayPorts(r.c.Ports) }

func (r *psRow) State() string { return string(r.c.State) }

func (r *psRow) Status() string { return r.c.Status }

// Size is "2B (virtual 21.5MB)": the writable layer and the whole.
func (r *psRow) Size() string {
	if r.sizeUsed != nil {
		*r.sizeUsed = true
	}
	rw := units.HumanSizeWithPrecision(float64(r.c.SizeRw), 3)
	if r.c.SizeRootFs > 0 {
		return fmt.Sprintf("%s (virtual %s)", rw, units.HumanSizeWithPrecision(float64(r.c.SizeRootFs), 3))
	}
	return rw
}

func (r *psRow) Labels() string {
	if r.c.Labels == nil {
		return ""
	}
	kv := make([]string, 0, len(r.c.Labels))
	for k, v := range r.c.Labels {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

func (r *psRow) Label(name string) string { return r.c.Labels[name] }

func (r *psRow) Mounts() string {
	names := make([]string, 0, len(r.c.Mounts))
	for _, m := range r.c.Mounts {
		name := m.Name
		if name == "" {
			name = m.Source
		}
		if r.trunc {
			name = ellipsis(name, 15)
		}
		names = append(names, name)
	}
	return strings.Join(names, ",")
}

func (r *psRow) LocalVolumes() string {
	n := 0
	for _, m := range r.c.Mounts {
		if m.Driver == "local" {
			n++
		}
	}
	return strconv.Itoa(n)
}

// Networks are the names of the networks the container is on, sorted.
func (r *psRow) Networks() string {
	if r.c.NetworkSettings == nil {
		return ""
	}
	names := make([]string, 0, len(r.c.NetworkSettings.Networks))
	for k := range r.c.NetworkSettings.Networks {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func (r *psRow) Platform() *psPlatform {
	d := r.c.ImageManifestDescriptor
	if d == nil || d.Platform == nil {
		return nil
	}
	return &psPlatform{*d.Platform}
}

// psPlatform is the image's platform, shown as "linux/arm64/v8".
type psPlatform struct{ ocispec.Platform }

func (p psPlatform) String() string {
	if p.OS == "" {
		return "unknown"
	}
	s := path.Join(p.OS, p.Architecture, p.Variant)
	if p.OSVersion != "" {
		s += "(" + p.OSVersion + ")"
	}
	return s
}

// displayPorts is the PORTS column: "0.0.0.0:8080->80/tcp, 443/tcp",
// consecutive ports grouped into ranges, as docker shows them.
func displayPorts(ports []container.PortSummary) string {
	ports = append([]container.PortSummary(nil), ports...)
	sort.Slice(ports, func(i, j int) bool { return portLess(ports[i], ports[j]) })
	type group struct{ first, last uint16 }
	groups := map[string]*group{}
	var keys, result, mapped []string
	for _, p := range ports {
		key := p.Type
		if p.IP.IsValid() {
			if p.PublicPort != p.PrivatePort {
				host := net.JoinHostPort(p.IP.String(), strconv.Itoa(int(p.PublicPort)))
				mapped = append(mapped, fmt.Sprintf("%s->%d/%s", host, p.PrivatePort, p.Type))
				continue
			}
			key = p.IP.String() + "/" + p.Type
		}
		g := groups[key]
		switch {
		case g == nil:
			groups[key] = &group{p.PrivatePort, p.PrivatePort}
			keys = append(keys, key)
		case p.PrivatePort == g.last+1:
			g.last = p.PrivatePort
		default:
			result = append(result, portGroup(key, g.first, g.last))
			groups[key] = &group{p.PrivatePort, p.PrivatePort}
		}
	}
	for _, k := range keys {
		result = append(result, portGroup(k, groups[k].first, groups[k].last))
	}
	return strings.Join(append(result, mapped...), ", ")
}

// portGroup is one group of displayPorts: "80-81/tcp" or, with an
// address, "1.2.3.4:80-81->80-81/tcp".
func portGroup(key string, first, last uint16) string {
	ip, proto, hasIP := strings.Cut(key, "/")
	if !hasIP {
		ip, proto = "", key
	}
	g := strconv.Itoa(int(first))
	if first != last {
		g += "-" + strconv.Itoa(int(last))
	}
	if ip != "" {
		g = net.JoinHostPort(ip, g) + "->" + g
	}
	return g + "/" + proto
}

func portLess(a, b container.PortSummary) bool {
	if a.PrivatePort != b.PrivatePort {
		return a.PrivatePort < b.PrivatePort
	}
	if ai, bi := ipString(a), ipString(b); ai != bi {
		return ai < bi
	}
	if a.PublicPort != b.PublicPort {
		return a.PublicPort < b.PublicPort
	}
	return a.Type < b.Type
}

func ipString(p container.PortSummary) string {
	if !p.IP.IsValid() {
		return ""
	}
	return p.IP.String()
}
