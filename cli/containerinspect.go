package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/errdefs"
)

const inspectFormatHelp = `Format output using a custom template:
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template.
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates`

// inspectGetter answers an object by name: its typed value, for
// templates, and the JSON printed.
type inspectGetter func(ctx context.Context, ref string) (any, []byte, error)

// inspectObjects prints the objects as a JSON array (indented by 4), in
// compact JSON (-f json) or through a template, one line per object; the
// ones that fail are reported after the others, exit code 1. A template
// that does not parse is exit code 64, as docker's.
func (c *cli) inspectObjects(ctx context.Context, refs []string, format string, get inspectGetter) error {
	var tmpl *template.Template
	if format != "" && format != jsonFormat {
		var err error
		if tmpl, err = parseTemplate(format); err != nil {
			return statusError{code: 64, msg: err.Error()}
		}
	}
	var raws [][]byte
	var text bytes.Buffer
	var errs []error
	for _, ref := range refs {
		v, raw, err := get(ctx, ref)
		if err == nil && tmpl != nil {
			err = execInspect(&text, tmpl, v, raw)
		} else if err == nil {
			raws = append(raws, raw)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.flushInspect(format, tmpl, raws, &text); err != nil {
		return err
	}
	if err := errors.Join(errs...); err != nil {
		return statusError{code: 1, msg: err.Error()}
	}
	return nil
}

func (c *cli) containerInspectCommand() *cobra.Command {
	var format string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Display detailed information on one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.inspectObjects(cmd.Context(), args, format, func(ctx context.Context, ref string) (any, []byte, error) {
				ca, err := c.containerAPI(ctx)
				if err != nil {
					return nil, nil, err
				}
				return ca.ContainerInspectWithRaw(ctx, ref, size)
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", inspectFormatHelp)
	cmd.Flags().BoolVarP(&size, "size", "s", false, "Display total file sizes")
	return cmd
}

// objectTypes are the types of the top-level inspect's --type.
var objectTypes = []string{"config", "container", "image", "network", "node", "plugin", "secret", "service", "task", "volume"}

// swarmTypes are those only a swarm manager has.
var swarmTypes = map[string]bool{"config": true, "node": true, "secret": true, "service": true, "task": true}

// searchOrder is the order the top-level inspect tries types in, as
// docker's.
var searchOrder = []string{"container", "image", "network", "volume", "service", "task", "node", "plugin", "secret", "config"}

//lint:ignore ST1005 dockerd's wording, which docker shows.
var errNoSwarm = errdefs.Unavailable(errors.New(`Error response from daemon: This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.`))

// Optional calls of the engine's client that the top-level inspect uses
// when the client has them.
type (
	networkInspector interface {
		NetworkInspectWithRaw(ctx context.Context, name string, verbose bool) (network.Inspect, []byte, error)
	}
	volumeInspector interface {
		VolumeInspectWithRaw(ctx context.Context, name string) (volume.Volume, []byte, error)
	}
)

type inspectOptions struct {
	format, kind string
	size         bool
}

// inspectCommand is the top-level inspect, of any object.
func (c *cli) inspectAnyCommand() *cobra.Command {
	var o inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on corral objects",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			known := `"` + strings.Join(objectTypes, `", "`) + `"`
			if cmd.Flags().Changed("type") && o.kind == "" {
				return fmt.Errorf("type is empty: must be one of %s", known)
			}
			if o.kind != "" && !contains(objectTypes, o.kind) {
				return fmt.Errorf("unknown type: %q: must be one of %s", o.kind, known)
			}
			return c.inspectObjects(cmd.Context(), args, o.format, func(ctx context.Context, ref string) (any, []byte, error) {
				return c.inspectAny(ctx, ref, o)
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.format, "format", "f", "", inspectFormatHelp)
	f.StringVar(&o.kind, "type", "", "Only inspect objects of the given type")
	f.BoolVarP(&o.size, "size", "s", false, "Display total file sizes if the type is container")
	return cmd
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// inspectAny tries each type in docker's order (or only o.kind): the
// first that knows ref answers. A type that does not know it or cannot be
// asked is skipped; any other failure is the answer. Swarm objects are
// tried only if the engine says it manages a swarm.
func (c *cli) inspectAny(ctx context.Context, ref string, o inspectOptions) (any, []byte, error) {
	swarm := -1 // unknown
	for _, kind := range searchOrder {
		if o.kind != "" && kind != o.kind {
			continue
		}
		if o.kind == "" && swarmTypes[kind] {
			if swarm < 0 {
				swarm = c.swarmManager(ctx)
			}
			if swarm == 0 {
				continue
			}
		}
		v, raw, err := c.inspectKind(ctx, kind, ref, o.size)
		if err != nil {
			if o.kind == "" && skippable(err) {
				continue
			}
			return nil, nil, err
		}
		if o.size && kind != "container" {
			fmt.Fprintln(c.err, "WARNING: --size ignored for", kind)
		}
		return v, raw, nil
	}
	return nil, nil, fmt.Errorf("Error: No such object: %s", ref)
}

// swarmManager is 1 if the engine manages a swarm, else 0; a failure to
// ask is reported and counts as 0.
func (c *cli) swarmManager(ctx context.Context) int {
	ea, err := c.engineAPI(ctx)
	if err != nil {
		return 0
	}
	info, err := ea.Info(ctx)
	if err != nil {
		fmt.Fprintln(c.err, err)
		return 0
	}
	if info.Swarm.ControlAvailable {
		return 1
	}
	return 0
}

func skippable(err error) bool {
	msg := err.Error()
	return errdefs.IsNotFound(err) || strings.Contains(msg, "not supported") || strings.Contains(msg, "invalid reference format")
}

// inspectKind inspects ref as an object of one type.
func (c *cli) inspectKind(ctx context.Context, kind, ref string, size bool) (any, []byte, error) {
	client, err := c.client(ctx)
	if err != nil {
		return nil, nil, err
	}
	switch kind {
	case "container":
		ca, err := c.containerAPI(ctx)
		if err != nil {
			return nil, nil, err
		}
		return ca.ContainerInspectWithRaw(ctx, ref, size)
	case "image":
		img, err := client.ImageInspect(ctx, ref)
		if err != nil {
			return nil, nil, err
		}
		raw, err := marshalRaw(img)
		return img, raw, err
	case "network":
		if ni, ok := client.(networkInspector); ok {
			return ni.NetworkInspectWithRaw(ctx, ref, false)
		}
	case "volume":
		if vi, ok := client.(volumeInspector); ok {
			return vi.VolumeInspectWithRaw(ctx, ref)
		}
	case "plugin":
		return nil, nil, errdefs.NotFound(fmt.Errorf("Error response from daemon: plugin %q not found", ref))
	default:
		return nil, nil, errNoSwarm
	}
	return nil, nil, errdefs.Wrap(errdefs.ErrNotImplemented, fmt.Errorf("inspecting a %s is not supported by this client", kind))
}

func (c *cli) topCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:         "top CONTAINER [ps OPTIONS]",
		Short:       "Display the running processes of a container",
		Args:        minArgs(1),
		Annotations: aliases("top"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.top(cmd.Context(), args[0], args[1:])
		},
	}
	cmd.Flags().SetInterspersed(false)
	return cmd
}

func (c *cli) top(ctx context.Context, name string, psArgs []string) error {
	ca, err := c.containerAPI(ctx)
	if err != nil {
		return err
	}
	top, err := ca.ContainerTop(ctx, name, psArgs)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.out, 20, 1, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(top.Titles, "\t"))
	for _, p := range top.Processes {
		fmt.Fprintln(tw, strings.Join(p, "\t"))
	}
	return tw.Flush()
}

func (c *cli) portCommand() *cobra.Command {
	return &cobra.Command{
		Use:         "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short:       "List port mappings or a specific mapping for the container",
		Args:        rangeArgs(1, 2),
		Annotations: aliases("port"),
		RunE: func(cmd *cobra.Command, args []string) error {
			port := ""
			if len(args) > 1 {
				port = args[1]
			}
			return c.port(cmd.Context(), args[0], port)
		},
	}
}

func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= lo && len(args) <= hi {
			return nil
		}
		return argsError(cmd, fmt.Sprintf("requires at least %d and at most %d %s", lo, hi, plural("argument", hi)))
	}
}

// port prints the container's published ports ("80/tcp -> 0.0.0.0:8080"),
// or the host addresses of one ("0.0.0.0:8080"), in natural order.
func (c *cli) port(ctx context.Context, name, port string) error {
	ca, err := c.containerAPI(ctx)
	if err != nil {
		return err
	}
	ctr, _, err := ca.ContainerInspectWithRaw(ctx, name, false)
	if err != nil {
		return err
	}
	var ports network.PortMap
	if ctr.NetworkSettings != nil {
		ports = ctr.NetworkSettings.Ports
	}
	var out []string
	if port != "" {
		if out, err = portFrontends(ports, name, port); err != nil {
			return err
		}
	} else {
		for from, frontends := range ports {
			for _, b := range frontends {
				out = append(out, from.String()+" -> "+hostPort(b))
			}
		}
	}
	if len(out) > 0 {
		sort.Slice(out, func(i, j int) bool { return naturalLess(out[i], out[j]) })
		fmt.Fprintln(c.out, strings.Join(out, "\n"))
	}
	return nil
}

// portFrontends are the host addresses of one container port, "80" being
// "80/tcp".
func portFrontends(ports network.PortMap, name, port string) ([]string, error) {
	num, proto, _ := strings.Cut(port, "/")
	if proto == "" {
		proto = "tcp"
	}
	if _, err := strconv.ParseUint(num, 10, 16); err != nil {
		return nil, fmt.Errorf("Error: invalid port (%s): %w", num, err)
	}
	var out []string
	for p, frontends := range ports {
		if p.String() != num+"/"+proto {
			continue
		}
		for _, b := range frontends {
			out = append(out, hostPort(b))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("Error: No public port '%s' published for %s", port, name)
	}
	return out, nil
}

func hostPort(b network.PortBinding) string {
	ip := ""
	if b.HostIP.IsValid() {
		ip = b.HostIP.String()
	}
	return net.JoinHostPort(ip, b.HostPort)
}

// naturalLess orders strings with their runs of digits compared as
// numbers ("2" before "10"), digits before other bytes.
func naturalLess(a, b string) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		da, db := isDigit(a[i]), isDigit(b[j])
		if da != db {
			return da
		}
		if !da {
			if a[i] != b[j] {
				return a[i] < b[j]
			}
			i, j = i+1, j+1
			continue
		}
		za, zb := skipZeros(a, i), skipZeros(b, j)
		ea, eb := digitsEnd(a, za), digitsEnd(b, zb)
		na, nb := a[za:ea], b[zb:eb]
		switch {
		case len(na) != len(nb):
			return len(na) < len(nb)
		case na != nb:
			return na < nb
		case za-i != zb-j:
			return za-i < zb-j // fewer leading zeros first
		}
		i, j = ea, eb
	}
	return len(a)-i < len(b)-j
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func skipZeros(s string, i int) int {
	for i < len(s) && s[i] == '0' {
		i++
	}
	return i
}

func digitsEnd(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}
