package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
	cnetwork "github.com/corral-dev/corral/network"
	"github.com/corral-dev/corral/network/ipam"
	"github.com/corral-dev/corral/network/nat"
)

// Networks is the network service: the /networks calls over the network
// store, and, with Containers, the containers' endpoints on them.
type Networks struct {
	store  *cnetwork.Store
	events *Events
	// ctrs is set once the container service is open; connect and
	// disconnect go through it.
	ctrs *Containers
	// fw is corral's nftables table (ctr_ports.go).
	fw *nat.Firewall

	// fwMu makes reading the desired state and applying it one step, so
	// that an older state never replaces a newer one; lock order: netMu,
	// then fwMu.
	fwMu sync.Mutex
	// applied is the state the firewall was last given (nil: none yet, or
	// the last Apply failed), so that a start or an exit that changes no
	// bridge and no published port costs no netlink batch.
	applied *nat.State
}

// networkConfig is the daemon's network settings: the default bridge's
// link name and gateway/prefix ("" for corral0 and 172.17.0.1/16), whether
// it has IPv6 and in which subnet ("": from the pools), and the pools
// user networks take their subnets from (nil for Docker's).
type networkConfig struct {
	bridge, bip string
	ipv6        bool
	cidr6       string
	pools       []ipam.Pool
}

// openNetworks opens the network store under root, makes the predefined
// networks (bridge, host, none) the first time, and brings every bridge
// network's link up with IPv4 forwarding.
func openNetworks(root string, cfg networkConfig, ev *Events) (*Networks, error) {
	st, err := cnetwork.Open(filepath.Join(root, "networks"), cfg.pools)
	if err != nil {
		return nil, err
	}
	s := &Networks{store: st, events: ev, fw: nat.New(nat.Options{Table: firewallTable(cfg.bridge)})}
	if err := s.predefine(cfg); err != nil {
		return nil, err
	}
	for _, n := range st.List() {
		if err := s.bringUp(n); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// predefine makes the networks every engine has, as dockerd: bridge, host
// and none.
func (s *Networks) predefine(cfg networkConfig) error {
	bridgeName := cmp.Or(cfg.bridge, cnetwork.DefaultBridge)
	subnet, gw := ipam.DefaultBridge, netip.Addr{}
	if cfg.bip != "" {
		p, err := netip.ParsePrefix(cfg.bip)
		if err != nil {
			return errdefs.InvalidArgument(fmt.Errorf("invalid bip %q: %w", cfg.bip, err))
		}
		subnet, gw = p.Masked(), p.Addr()
	}
	var subnet6 netip.Prefix
	if cfg.cidr6 != "" {
		p, err := netip.ParsePrefix(cfg.cidr6)
		if err != nil || !p.Addr().Is6() || !cfg.ipv6 {
			return errdefs.InvalidArgument(fmt.Errorf("invalid fixed-cidr-v6 %q: an IPv6 prefix, with --ipv6", cfg.cidr6))
		}
		subnet6 = p.Masked()
	}
	want := []cnetwork.CreateOptions{
		{Name: cnetwork.DefaultName, Subnet: subnet, Gateway: gw, EnableIPv6: cfg.ipv6, Subnet6: subnet6,
			Predefined: true, Options: map[string]string{
				"com.docker.network.bridge.default_bridge": "true", "com.docker.network.bridge.enable_icc": "true",
				"com.docker.network.bridge.enable_ip_masquerade": "true", "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
				cnetwork.OptionBridgeName: bridgeName, "com.docker.network.driver.mtu": "1500"}},
		{Name: "host", Driver: cnetwork.DriverHost, Predefined: true},
		{Name: "none", Driver: cnetwork.DriverNull, Predefined: true},
	}
	for _, o := range want {
		if _, err := s.store.Get(o.Name); err == nil {
			continue
		}
		if _, err := s.store.Create(o); err != nil {
			return fmt.Errorf("create network %s: %w", o.Name, err)
		}
	}
	return nil
}

// bringUp makes a bridge network's link (with its gateways) or a
// parentless macvlan network's stand-in bridge (without), and turns
// forwarding on.
func (s *Networks) bringUp(n cnetwork.Network) error {
	var gws []netip.Prefix
	switch {
	case n.Driver == cnetwork.DriverBridge:
		gws = append(gws, netip.PrefixFrom(n.Gateway, n.Subnet.Bits()))
		if n.EnableIPv6 {
			gws = append(gws, netip.PrefixFrom(n.Gateway6, n.Subnet6.Bits()))
		}
	case n.Driver == cnetwork.DriverMacvlan && n.Bridge != "":
	default:
		return nil
	}
	if err := cnetwork.EnsureBridge(n.Bridge, gws...); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	return cnetwork.EnableForwarding()
}

// removeLinks deletes the links network n made: its bridge, a VLAN
// parent it created.
func removeLinks(n cnetwork.Network) error {
	var err error
	if n.Bridge != "" {
		err = cnetwork.DeleteBridge(n.Bridge)
	}
	if n.VLANLink {
		err = errors.Join(err, cnetwork.DeleteVLAN(n.Parent))
	}
	return err
}

// publish sends a network event.
func (s *Networks) publish(n cnetwork.Network, action events.Action, extra ...string) {
	if s.events == nil {
		return
	}
	attrs := map[string]string{"name": n.Name, "type": n.Driver}
	for i := 0; i+1 < len(extra); i += 2 {
		attrs[extra[i]] = extra[i+1]
	}
	s.events.Publish(events.Message{Type: events.NetworkEventType, Action: action,
		Actor: events.Actor{ID: n.ID, Attributes: attrs}})
}

// NetworkCreate is POST /networks/create.
func (s *Networks) NetworkCreate(_ context.Context, req network.CreateRequest) (network.CreateResponse, error) {
	o, err := createOptions(req)
	if err != nil {
		return network.CreateResponse{}, err
	}
	if !o.Subnet.IsValid() || (o.EnableIPv6 && !o.Subnet6.IsValid()) {
		if o.Avoid, err = cnetwork.RoutedPrefixes(); err != nil {
			return network.CreateResponse{}, err
		}
	}
	if parent := o.Options[cnetwork.OptionParent]; o.Driver == cnetwork.DriverMacvlan && parent != "" {
		if o.VLANLink, err = cnetwork.EnsureParent(parent); err != nil {
			return network.CreateResponse{}, err
		}
	}
	n, err := s.store.Create(o)
	if err != nil {
		if o.VLANLink {
			err = errors.Join(err, cnetwork.DeleteVLAN(o.Options[cnetwork.OptionParent]))
		}
		return network.CreateResponse{}, err
	}
	if err := s.bringUp(n); err != nil {
		_, rerr := s.store.Remove(n.ID)
		return network.CreateResponse{}, errors.Join(err, rerr, removeLinks(n))
	}
	if err := s.applyFirewall(); err != nil {
		_, rerr := s.store.Remove(n.ID)
		return network.CreateResponse{}, errors.Join(err, rerr, removeLinks(n), s.applyFirewall())
	}
	s.publish(n, events.ActionCreate)
	return network.CreateResponse{ID: n.ID}, nil
}

// createOptions checks a create request and turns it into the store's
// options: bridge or macvlan, an IPv4 pool and, with --ipv6, an IPv6 one.
func createOptions(req network.CreateRequest) (cnetwork.CreateOptions, error) {
	o := cnetwork.CreateOptions{Name: req.Name, Driver: req.Driver, Internal: req.Internal,
		Labels: req.Labels, Options: req.Options, EnableIPv6: req.EnableIPv6 != nil && *req.EnableIPv6}
	switch req.Driver {
	case "", cnetwork.DriverBridge:
		o.Driver = cnetwork.DriverBridge
	case cnetwork.DriverMacvlan:
	case cnetwork.DriverHost, cnetwork.DriverNull:
		return o, errdefs.Wrap(errdefs.ErrForbidden, fmt.Errorf("only one instance of %q network is allowed", req.Driver))
	default:
		return o, errdefs.NotFound(fmt.Errorf("could not find plugin %s in v1 plugin registry: plugin not found", req.Driver))
	}
	if req.Scope != "" && req.Scope != "local" {
		return o, errdefs.InvalidArgument(fmt.Errorf("scope %q is not supported: only local", req.Scope))
	}
	if req.IPAM != nil {
		if req.IPAM.Driver != "" && req.IPAM.Driver != "default" {
			return o, errdefs.InvalidArgument(fmt.Errorf("IPAM driver %q is not supported: only default", req.IPAM.Driver))
		}
		if err := ipamPools(&o, req.IPAM.Config); err != nil {
			return o, err
		}
	}
	return o, nil
}

// ipamPools takes at most one IPv4 and one IPv6 pool from cfg.
func ipamPools(o *cnetwork.CreateOptions, cfg []network.IPAMConfig) error {
	var n4, n6 int
	for _, c := range cfg {
		if c.Subnet.Addr().Is6() {
			n6++
			o.Subnet6, o.IPRange6, o.Gateway6 = c.Subnet, c.IPRange, c.Gateway
		} else {
			n4++
			o.Subnet, o.IPRange, o.Gateway = c.Subnet, c.IPRange, c.Gateway
		}
	}
	if n4 > 1 || n6 > 1 {
		return errdefs.InvalidArgument(errors.New("only one IPv4 and one IPv6 IPAM pool per network are supported"))
	}
	return nil
}

// NetworkInspect is GET /networks/{name}.
func (s *Networks) NetworkInspect(_ context.Context, name string, _ bool) (network.Inspect, error) {
	n, err := s.store.Get(name)
	if err != nil {
		return network.Inspect{}, err
	}
	return inspectView(n), nil
}

// NetworkList is GET /networks, with the filters name, id, driver, label,
// type (custom, builtin), scope and dangling.
func (s *Networks) NetworkList(_ context.Context, f api.Filters) ([]network.Summary, error) {
	if err := f.Validate("name", "id", "driver", "label", "type", "scope", "dangling"); err != nil {
		return nil, errdefs.InvalidArgument(err)
	}
	dangling, err := danglingFilter(f)
	if err != nil {
		return nil, err
	}
	out := []network.Summary{}
	for _, n := range s.store.List() {
		if matchNetwork(f, n) && (dangling == nil || *dangling == (len(n.Endpoints) == 0 && !n.Predefined)) {
			out = append(out, network.Summary{Network: summaryView(n)})
		}
	}
	return out, nil
}

// matchNetwork applies the list filters but dangling to n.
func matchNetwork(f api.Filters, n cnetwork.Network) bool {
	typ := "custom"
	if n.Predefined {
		typ = "builtin"
	}
	return fuzzy(f, "name", n.Name) && prefixMatch(f, "id", n.ID) && f.MatchLabels("label", n.Labels) &&
		(!f.Contains("driver") || f.ExactMatch("driver", n.Driver)) &&
		(!f.Contains("type") || f.ExactMatch("type", typ)) &&
		(!f.Contains("scope") || f.ExactMatch("scope", "local"))
}

// fuzzy reports whether one of key's values is part of v (or there are none).
func fuzzy(f api.Filters, key, v string) bool {
	vals := f.Get(key)
	return len(vals) == 0 || slices.ContainsFunc(vals, func(x string) bool { return strings.Contains(v, x) })
}

// prefixMatch reports whether one of key's values begins v (or there are none).
func prefixMatch(f api.Filters, key, v string) bool {
	vals := f.Get(key)
	return len(vals) == 0 || slices.ContainsFunc(vals, func(x string) bool { return strings.HasPrefix(v, x) })
}

// NetworkRemove is DELETE /networks/{name}: refused while a container has
// an endpoint on it.
func (s *Networks) NetworkRemove(_ context.Context, name string) error {
	s.waitReleases()
	n, err := s.store.Remove(name)
	if err != nil {
		return err
	}
	if err := s.applyFirewall(); err != nil {
		slog.Warn("remove network's firewall rules", "network", n.Name, "err", err)
	}
	if err := removeLinks(n); err != nil {
		slog.Warn("remove network's links", "network", n.Name, "err", err)
	}
	s.publish(n, events.ActionDestroy)
	return nil
}

// NetworksPrune is POST /networks/prune: the user networks without
// endpoints, narrowed by the filters label, label! and until.
func (s *Networks) NetworksPrune(ctx context.Context, f api.Filters) (network.PruneReport, error) {
	if err := f.Validate("label", "label!", "until"); err != nil {
		return network.PruneReport{}, errdefs.InvalidArgument(err)
	}
	until, err := untilFilter(f, time.Now())
	if err != nil {
		return network.PruneReport{}, err
	}
	rep := network.PruneReport{NetworksDeleted: []string{}}
	s.waitReleases()
	for _, n := range s.store.List() {
		if n.Predefined || len(n.Endpoints) > 0 || !pruneLabels(f, n.Labels) || (!until.IsZero() && !n.Created.Before(until)) {
			continue
		}
		if err := s.NetworkRemove(ctx, n.ID); err != nil {
			if errors.Is(err, errdefs.ErrForbidden) { // taken meanwhile
				continue
			}
			return rep, err
		}
		rep.NetworksDeleted = append(rep.NetworksDeleted, n.Name)
	}
	return rep, nil
}

// NetworkConnect is POST /networks/{name}/connect.
func (s *Networks) NetworkConnect(ctx context.Context, name string, req network.ConnectRequest) error {
	return s.ctrs.connect(ctx, name, req)
}

// NetworkDisconnect is POST /networks/{name}/disconnect.
func (s *Networks) NetworkDisconnect(ctx context.Context, name string, req network.DisconnectRequest) error {
	return s.ctrs.disconnect(ctx, name, req)
}

// summaryView is the API's form of n.
func summaryView(n cnetwork.Network) network.Network {
	v := network.Network{Name: n.Name, ID: n.ID, Scope: "local", Driver: n.Driver, Internal: n.Internal,
		EnableIPv4: n.HasLinks(), EnableIPv6: n.EnableIPv6, IPAM: network.IPAM{Driver: "default", Options: map[string]string{},
			Config: []network.IPAMConfig{}}, Options: n.Options, Labels: n.Labels}
	v.Created = n.Created
	if n.Subnet.IsValid() {
		v.IPAM.Config = append(v.IPAM.Config, network.IPAMConfig{Subnet: n.Subnet, IPRange: n.IPRange, Gateway: n.Gateway})
	}
	if n.EnableIPv6 {
		v.IPAM.Config = append(v.IPAM.Config, network.IPAMConfig{Subnet: n.Subnet6, IPRange: n.IPRange6, Gateway: n.Gateway6})
	}
	if v.Options == nil {
		v.Options = map[string]string{}
	}
	if v.Labels == nil {
		v.Labels = map[string]string{}
	}
	return v
}

// inspectView is n with its endpoints, as GET /networks/{name} answers.
func inspectView(n cnetwork.Network) network.Inspect {
	v := network.Inspect{Network: summaryView(n), Containers: map[string]network.EndpointResource{}}
	for id, ep := range n.Endpoints {
		r := network.EndpointResource{Name: ep.Name, EndpointID: ep.ID, MacAddress: hwAddr(ep.MAC)}
		if ep.IP.IsValid() {
			r.IPv4Address = n.Prefix(ep)
		}
		r.IPv6Address = n.Prefix6(ep)
		v.Containers[id] = r
	}
	return v
}
