package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

// NetworkAPI is the engine's network calls; client.Client implements it.
type NetworkAPI interface {
	NetworkCreate(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error)
	NetworkList(ctx context.Context, filters api.Filters) ([]network.Summary, error)
	NetworkInspectWithRaw(ctx context.Context, name string, verbose bool) (network.Inspect, []byte, error)
	NetworkRemove(ctx context.Context, name string) error
	NetworkConnect(ctx context.Context, name string, req network.ConnectRequest) error
	NetworkDisconnect(ctx context.Context, name string, req network.DisconnectRequest) error
	NetworksPrune(ctx context.Context, filters api.Filters) (network.PruneReport, error)
}

// networkAPI is the engine's client as a NetworkAPI.
func (c *cli) networkAPI(ctx context.Context) (NetworkAPI, error) {
	client, err := c.client(ctx)
	if err != nil {
		return nil, err
	}
	na, ok := client.(NetworkAPI)
	if !ok {
		return nil, fmt.Errorf("the engine's client (%T) has no network calls", client)
	}
	return na, nil
}

// networkCommand is the `network` group, as docker's.
func (c *cli) networkCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network COMMAND",
		Short: "Manage networks",
		Args:  noArgs,
		RunE:  showHelp,
	}
	cmd.AddCommand(c.networkCreateCommand(), c.networkLsCommand(), c.networkInspectCommand(),
		c.networkRmCommand(), c.networkPruneCommand(), c.networkConnectCommand(), c.networkDisconnectCommand())
	return cmd
}

type networkCreateOptions struct {
	driver, scope, ipamDriver  string
	subnet, gateway, ipRange   string
	internal, ipv6, attachable bool
	labels                     listValue
	opts                       mapValue
}

func (c *cli) networkCreateCommand() *cobra.Command {
	var o networkCreateOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.networkCreate(cmd.Context(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.driver, "driver", "d", "bridge", "Driver to manage the Network")
	f.StringVar(&o.scope, "scope", "", "Control the network's scope")
	f.StringVar(&o.ipamDriver, "ipam-driver", "default", "IP Address Management Driver")
	f.StringVar(&o.subnet, "subnet", "", "Subnet in CIDR format that represents a network segment")
	f.StringVar(&o.gateway, "gateway", "", "IPv4 or IPv6 Gateway for the master subnet")
	f.StringVar(&o.ipRange, "ip-range", "", "Allocate container ip from a sub-range")
	f.BoolVar(&o.internal, "internal", false, "Restrict external access to the network")
	f.BoolVar(&o.ipv6, "ipv6", false, "Enable or disable IPv6 networking")
	f.BoolVar(&o.attachable, "attachable", false, "Enable manual container attachment")
	f.Var(&o.labels, "label", "Set metadata on a network")
	f.VarP(&o.opts, "opt", "o", "Set driver specific options")
	return cmd
}

func (c *cli) networkCreate(ctx context.Context, name string, o networkCreateOptions) error {
	req, err := o.request(name)
	if err != nil {
		return err
	}
	na, err := c.networkAPI(ctx)
	if err != nil {
		return err
	}
	resp, err := na.NetworkCreate(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.out, resp.ID)
	return nil
}

// request is the create request of o, with docker's checks of the pool
// flags.
func (o networkCreateOptions) request(name string) (network.CreateRequest, error) {
	req := network.CreateRequest{Name: name, Driver: o.driver, Scope: o.scope, Internal: o.internal,
		Attachable: o.attachable, Options: o.opts.all(), Labels: map[string]string{},
		IPAM: &network.IPAM{Driver: o.ipamDriver, Config: []network.IPAMConfig{}}}
	if o.ipv6 {
		req.EnableIPv6 = &o.ipv6
	}
	if req.Options == nil {
		req.Options = map[string]string{}
	}
	for _, l := range o.labels.values {
		k, v, _ := strings.Cut(l, "=")
		req.Labels[k] = v
	}
	if o.subnet == "" {
		if o.gateway != "" || o.ipRange != "" {
			return req, errors.New("every ip-range or gateway must have a corresponding subnet")
		}
		return req, nil
	}
	var cfg network.IPAMConfig
	var err error
	if cfg.Subnet, err = netip.ParsePrefix(o.subnet); err != nil {
		return req, fmt.Errorf("invalid subnet %s: %w", o.subnet, err)
	}
	if o.ipRange != "" {
		if cfg.IPRange, err = netip.ParsePrefix(o.ipRange); err != nil {
			return req, fmt.Errorf("invalid ip-range %s: %w", o.ipRange, err)
		}
	}
	if o.gateway != "" {
		if cfg.Gateway, err = netip.ParseAddr(o.gateway); err != nil {
			return req, fmt.Errorf("invalid gateway %s: %w", o.gateway, err)
		}
	}
	req.IPAM.Config = append(req.IPAM.Config, cfg)
	return req, nil
}

type networkLsOptions struct {
	quiet, noTrunc bool
	format         string
	filter         filterFlag
}

func (c *cli) networkLsCommand() *cobra.Command {
	var o networkLsOptions
	cmd := &cobra.Command{
		Use:         "ls [OPTIONS]",
		Aliases:     []string{"list"},
		Short:       "List networks",
		Annotations: map[string]string{"aliases": "corral network ls, corral network list"},
		Args:        noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.networkLs(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display network IDs")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Do not truncate the output")
	f.StringVar(&o.format, "format", "", formatHelp)
	f.VarP(&o.filter, "filter", "f", `Provide filter values (e.g. "driver=bridge")`)
	return cmd
}

// networkHeader names the columns of network ls.
var networkHeader = headerLabels{
	"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4",
	"IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
}

func (c *cli) networkLs(ctx context.Context, o networkLsOptions) error {
	na, err := c.networkAPI(ctx)
	if err != nil {
		return err
	}
	list, err := na.NetworkList(ctx, o.filter.f)
	if err != nil {
		return err
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	format := o.format
	switch {
	case o.quiet:
		format = "{{.ID}}"
	case format == "" || format == tableFormat:
		format = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
	}
	rows := make([]any, 0, len(list))
	for i := range list {
		rows = append(rows, &networkRow{n: list[i].Network, noTrunc: o.noTrunc})
	}
	return listFormat{format: format, header: networkHeader}.write(c.out, rows)
}

// networkRow is one row of network ls; its methods are the template's
// fields.
type networkRow struct {
	n       network.Network
	noTrunc bool
}

func (r *networkRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }
func (r *networkRow) Name() string                 { return r.n.Name }
func (r *networkRow) Driver() string               { return r.n.Driver }
func (r *networkRow) Scope() string                { return r.n.Scope }
func (r *networkRow) IPv4() string                 { return strconv.FormatBool(r.n.EnableIPv4) }
func (r *networkRow) IPv6() string                 { return strconv.FormatBool(r.n.EnableIPv6) }
func (r *networkRow) Internal() string             { return strconv.FormatBool(r.n.Internal) }
func (r *networkRow) CreatedAt() string            { return r.n.Created.String() }
func (r *networkRow) Label(name string) string     { return r.n.Labels[name] }

// ID is the network's ID, 12 digits unless --no-trunc.
func (r *networkRow) ID() string {
	if r.noTrunc || len(r.n.ID) < 12 {
		return r.n.ID
	}
	return r.n.ID[:12]
}

// Labels are k=v pairs, comma-separated, sorted.
func (r *networkRow) Labels() string {
	out := make([]string, 0, len(r.n.Labels))
	for k, v := range r.n.Labels {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func (c *cli) networkInspectCommand() *cobra.Command {
	var format string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			na, err := c.networkAPI(cmd.Context())
			if err != nil {
				return err
			}
			return c.inspectObjects(cmd.Context(), args, format, func(ctx context.Context, ref string) (any, []byte, error) {
				return na.NetworkInspectWithRaw(ctx, ref, verbose)
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", inspectFormatHelp)
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "Verbose output for diagnostics")
	return cmd
}

func (c *cli) networkRmCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:         "rm NETWORK [NETWORK...]",
		Aliases:     []string{"remove"},
		Short:       "Remove one or more networks",
		Annotations: map[string]string{"aliases": "corral network rm, corral network remove"},
		Args:        minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.networkRm(cmd.Context(), args, force)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not error if the network does not exist")
	return cmd
}

// networkRm removes each network, printing its name; failures are
// reported together after the others, exit code 1, as docker does.
func (c *cli) networkRm(ctx context.Context, names []string, force bool) error {
	na, err := c.networkAPI(ctx)
	if err != nil {
		return err
	}
	ignore := func(err error) bool { return force && errdefs.IsNotFound(err) }
	return c.removeEach(names, func(name string) error { return na.NetworkRemove(ctx, name) }, ignore)
}

const networkPruneWarning = `WARNING! This will remove all custom networks not used by at least one container.
Are you sure you want to continue?`

func (c *cli) networkPruneCommand() *cobra.Command {
	var force bool
	var filter filterFlag
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !force && !c.confirm(networkPruneWarning) {
				return statusError{code: 0}
			}
			na, err := c.networkAPI(cmd.Context())
			if err != nil {
				return err
			}
			rep, err := na.NetworksPrune(cmd.Context(), filter.f)
			if err != nil {
				return err
			}
			c.printDeleted("Deleted Networks", rep.NetworksDeleted)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().Var(&filter, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

type networkConnectOptions struct {
	ip      string
	aliases listValue
	opts    listValue
}

func (c *cli) networkConnectCommand() *cobra.Command {
	var o networkConnectOptions
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			es := &network.EndpointSettings{Aliases: o.aliases.values, DriverOpts: map[string]string{}}
			if o.ip != "" {
				ip, err := netip.ParseAddr(o.ip)
				if err != nil {
					return fmt.Errorf("invalid IPv4 address %s", o.ip)
				}
				es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: ip}
			}
			for _, kv := range o.opts.values {
				k, v, _ := strings.Cut(kv, "=")
				es.DriverOpts[k] = v
			}
			na, err := c.networkAPI(cmd.Context())
			if err != nil {
				return err
			}
			return na.NetworkConnect(cmd.Context(), args[0], network.ConnectRequest{Container: args[1], EndpointConfig: es})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.ip, "ip", "", "IPv4 address (e.g., \"172.30.100.104\")")
	f.Var(&o.aliases, "alias", "Add network-scoped alias for the container")
	f.Var(&o.opts, "driver-opt", "driver options for the network")
	return cmd
}

func (c *cli) networkDisconnectCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			na, err := c.networkAPI(cmd.Context())
			if err != nil {
				return err
			}
			return na.NetworkDisconnect(cmd.Context(), args[0], network.DisconnectRequest{Container: args[1], Force: force})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the container to disconnect from a network")
	return cmd
}
