package daemon

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
	cnetwork "github.com/corral-dev/corral/network"
	"github.com/corral-dev/corral/network/resolver"
)

// A container's networks are the keys of its record's
// NetworkSettings.Networks, each with the endpoint settings it was created
// or connected with (IPAMConfig, Aliases, MacAddress: what docker-compose
// reads back). While it runs, each bridge network also holds an endpoint
// for it in the network store (address, MAC, veth), and the record's
// settings carry the operational fields (EndpointID, IPAddress, Gateway,
// ...); both go when it stops. The store is the truth: at daemon start an
// endpoint whose container is not running is released (reconcileEndpoints).

// checkNetworkMode accepts the network modes: none, host, container:ID,
// bridge (the default) and the name or ID of a user network. An unknown
// network is an invalid argument, not "not found": docker run takes a 404
// from create for a missing image and pulls it.
func (s *Containers) checkNetworkMode(hc *container.HostConfig) error {
	switch m := hc.NetworkMode; {
	case m == "" || m == "default":
		hc.NetworkMode = cnetwork.DefaultName
	case m.IsContainer():
		if _, err := s.get(m.ConnectedContainer()); err != nil {
			return errdefs.InvalidArgument(fmt.Errorf("cannot join network namespace of container: %w", err))
		}
	default:
		if _, err := s.nets.store.Get(string(m)); err != nil {
			return errdefs.InvalidArgument(fmt.Errorf("network %s not found", m))
		}
	}
	return nil
}

// createNetworks fills the record's NetworkSettings.Networks from the
// network mode and the request's endpoint settings, checking each.
func (s *Containers) createNetworks(c *ccontainer.Container, nc *network.NetworkingConfig) error {
	mode := c.HostConfig.NetworkMode
	if mode.IsContainer() {
		return nil
	}
	var eps map[string]*network.EndpointSettings
	if nc != nil {
		eps = nc.EndpointsConfig
	}
	c.NetworkSettings.Networks = map[string]*network.EndpointSettings{}
	primary := eps[string(mode)]
	if primary == nil && mode == cnetwork.DefaultName {
		primary = eps["default"] // the docker CLI's key for no --network
	}
	if err := s.addNetwork(c, string(mode), primary); err != nil {
		return err
	}
	for name, es := range eps {
		if name == string(mode) || (name == "default" && mode == cnetwork.DefaultName) {
			continue
		}
		if !s.isBridgeMode(mode) {
			return errdefs.InvalidArgument(fmt.Errorf("container cannot be connected to network %s with network mode %s", name, mode))
		}
		if err := s.addNetwork(c, name, es); err != nil {
			return err
		}
	}
	return nil
}

// isBridgeMode reports whether mode names a network with links of its
// own (bridge or macvlan), which others may join.
func (s *Containers) isBridgeMode(mode container.NetworkMode) bool {
	n, err := s.nets.store.Get(string(mode))
	return err == nil && n.HasLinks()
}

// addNetwork records network ref with settings es in c's record.
func (s *Containers) addNetwork(c *ccontainer.Container, ref string, es *network.EndpointSettings) error {
	n, err := s.nets.store.Get(ref)
	if err != nil {
		return errdefs.InvalidArgument(fmt.Errorf("network %s not found", ref))
	}
	if _, dup := c.NetworkSettings.Networks[n.Name]; dup {
		return errdefs.InvalidArgument(fmt.Errorf("network %s given twice", n.Name))
	}
	cfg := &network.EndpointSettings{}
	if es != nil {
		cp := *es
		cfg = &cp
	}
	if err := checkEndpointConfig(n, cfg); err != nil {
		return err
	}
	cfg.NetworkID = n.ID
	c.NetworkSettings.Networks[n.Name] = cfg
	return nil
}

// checkEndpointConfig refuses what network n cannot give: an address on
// the default bridge or outside n's subnet, a bad MAC.
func checkEndpointConfig(n cnetwork.Network, es *network.EndpointSettings) error {
	var ip, ip6 netip.Addr
	if es.IPAMConfig != nil {
		ip, ip6 = es.IPAMConfig.IPv4Address, es.IPAMConfig.IPv6Address
	}
	if err := checkIP6(n, ip6); err != nil {
		return err
	}
	switch {
	case ip.IsValid() && (n.Predefined || !n.HasLinks()):
		return errdefs.InvalidArgument(errors.New("user specified IP address is supported on user defined networks only"))
	case ip.IsValid() && !n.UserSubnet:
		return errdefs.InvalidArgument(errors.New("user specified IP address is supported only when connecting to networks with user configured subnets"))
	case ip.IsValid() && !n.Subnet.Contains(ip):
		return errdefs.InvalidArgument(fmt.Errorf("invalid config for network %s: no configured subnet or ip-range contain the IP address %s", n.Name, ip))
	case len(es.MacAddress) > 0 && len(es.MacAddress) != 6:
		return errdefs.InvalidArgument(fmt.Errorf("invalid MAC address %s", net.HardwareAddr(es.MacAddress)))
	case len(es.Aliases) > 0 && n.Predefined:
		return errdefs.InvalidArgument(errors.New("network-scoped alias is supported only for containers in user defined networks"))
	}
	for _, a := range es.Aliases {
		if err := checkHostName("alias", a); err != nil {
			return err
		}
	}
	return nil
}

// checkIP6 refuses an --ip6 network n cannot give.
func checkIP6(n cnetwork.Network, ip6 netip.Addr) error {
	switch {
	case !ip6.IsValid():
		return nil
	case !n.EnableIPv6:
		return errdefs.InvalidArgument(fmt.Errorf("invalid config for network %s: IPv6 address %s given but the network has no IPv6", n.Name, ip6))
	case !n.Subnet6.Contains(ip6):
		return errdefs.InvalidArgument(fmt.Errorf("invalid config for network %s: no configured subnet or ip-range contain the IP address %s", n.Name, ip6))
	}
	return nil
}

// bridgeNetworks are c's networks with links (bridge and macvlan) in
// attach order: the network
// mode's first, then the others by name. A network removed since c was
// created or connected is an error, as dockerd's.
func (s *Containers) bridgeNetworks(c *ccontainer.Container) ([]cnetwork.Network, error) {
	var out []cnetwork.Network
	for name, es := range c.NetworkSettings.Networks {
		n, err := s.nets.store.Get(cmp.Or(es.NetworkID, name))
		if err != nil {
			return nil, errdefs.InvalidArgument(fmt.Errorf("network %s not found", name))
		}
		if n.HasLinks() {
			out = append(out, n)
		}
	}
	primary := string(c.HostConfig.NetworkMode)
	slices.SortFunc(out, func(a, b cnetwork.Network) int {
		pa, pb := a.Name == primary || a.ID == primary, b.Name == primary || b.ID == primary
		if pa != pb {
			if pa {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// allocateEndpointsNow gives c an endpoint on each of its bridge networks
// and records the operational settings; on failure none is left.
func (s *Containers) allocateEndpointsNow(c *ccontainer.Container) (*ccontainer.Container, error) {
	s.netMu.Lock()
	defer s.netMu.Unlock()
	nets, err := s.bridgeNetworks(c)
	if err != nil || len(nets) == 0 {
		// No bridge network: no endpoint and no published port, so
		// the record stays as it is (a write saved on every start).
		return c, err
	}
	for i, n := range nets {
		if _, err := s.allocateEndpoint(c, n, fmt.Sprintf("eth%d", i)); err != nil {
			s.releaseEndpoints(c.ID)
			return c, err
		}
	}
	if err := s.planPorts(c); err != nil {
		s.releaseEndpoints(c.ID)
		return c, err
	}
	return s.update(c.ID, func(r *ccontainer.Container) error {
		r.NetworkSettings = c.NetworkSettings
		return nil
	})
}

// allocateEndpoint takes c's endpoint on n with interface name ifName and
// fills the settings in c's record copy c.
func (s *Containers) allocateEndpoint(c *ccontainer.Container, n cnetwork.Network, ifName string) (cnetwork.Endpoint, error) {
	es := c.NetworkSettings.Networks[n.Name]
	o := cnetwork.EndpointOptions{Container: c.ID, Name: strings.TrimPrefix(c.Name, "/"), Aliases: es.Aliases,
		Hostname: c.Config.Hostname, IfName: ifName}
	if es.IPAMConfig != nil {
		o.IP, o.IP6 = es.IPAMConfig.IPv4Address, es.IPAMConfig.IPv6Address
	}
	if len(es.MacAddress) == 6 {
		o.MAC = net.HardwareAddr(es.MacAddress).String()
	}
	_, ep, err := s.nets.store.Allocate(n.ID, o)
	if err != nil {
		return ep, err
	}
	s.fillEndpoint(c, n, ep)
	return ep, nil
}

// fillEndpoint writes ep's operational settings into c's settings for n.
func (s *Containers) fillEndpoint(c *ccontainer.Container, n cnetwork.Network, ep cnetwork.Endpoint) {
	es := *c.NetworkSettings.Networks[n.Name]
	mac, _ := net.ParseMAC(ep.MAC)
	es.NetworkID, es.EndpointID, es.Gateway, es.IPAddress = n.ID, ep.ID, n.Gateway, ep.IP
	es.IPPrefixLen, es.MacAddress = n.Subnet.Bits(), network.HardwareAddr(mac)
	if ep.IP6.IsValid() {
		es.GlobalIPv6Address, es.GlobalIPv6PrefixLen, es.IPv6Gateway = ep.IP6, n.Subnet6.Bits(), n.Gateway6
	}
	es.DNSNames = nil
	if !n.Predefined {
		es.DNSNames = resolver.Names(ep)
	}
	c.NetworkSettings.Networks[n.Name] = &es
}

// attachEndpoints makes the links of every endpoint c holds for the
// network namespace of process pid; the first one gets the default route.
func (s *Containers) attachEndpoints(c *ccontainer.Container, pid int) error {
	nets, err := s.bridgeNetworks(c)
	if err != nil {
		return err
	}
	for i, n := range nets {
		ep, ok := n.Endpoints[c.ID]
		if !ok {
			return fmt.Errorf("attach to network %s: no endpoint allocated", n.Name)
		}
		if err := attach(pid, n, ep, i == 0); err != nil {
			return err
		}
	}
	return nil
}

// attach makes ep's links on n in process pid's network namespace: a
// veth on a bridge, a macvlan link on a macvlan network (whose default
// route, when it is the first network, goes by its gateway on the parent's
// segment; a parentless one has none to go by).
func attach(pid int, n cnetwork.Network, ep cnetwork.Endpoint, defaultRoute bool) error {
	a := cnetwork.Attachment{Bridge: n.Bridge, HostLink: ep.HostLink, IfName: ep.IfName, Addr: n.Prefix(ep),
		Addr6: n.Prefix6(ep), MAC: ep.MAC, Gateway: n.Gateway, DefaultRoute: defaultRoute}
	if n.EnableIPv6 {
		a.Gateway6 = n.Gateway6
	}
	if n.Driver == cnetwork.DriverMacvlan {
		a.Parent, a.Mode = n.LowerLink(), n.Options[cnetwork.OptionMacvlanMode]
		a.DefaultRoute = defaultRoute && n.Parent != "" && !n.Internal
	}
	if err := cnetwork.Attach(pid, a); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	return nil
}

// releaseEndpoints removes every endpoint container id holds, with its
// veth: after a stop, a failed start, or at daemon start for a container
// that is not running. It goes by the store, so it also finds what a
// crash left.
func (s *Containers) releaseEndpoints(id string) {
	eps := s.heldEndpoints(id)
	s.detachHeld(id, eps)
	for _, ep := range eps {
		s.releaseHeld(id, ep)
	}
}

// clearEndpoints drops the operational settings from a stopped
// container's record, keeping what it was configured with.
func clearEndpoints(c *ccontainer.Container) {
	if c.NetworkSettings == nil {
		return
	}
	for name, es := range c.NetworkSettings.Networks {
		c.NetworkSettings.Networks[name] = &network.EndpointSettings{IPAMConfig: es.IPAMConfig, Links: es.Links,
			Aliases: es.Aliases, DriverOpts: es.DriverOpts, GwPriority: es.GwPriority, NetworkID: es.NetworkID,
			MacAddress: configuredMAC(es)}
	}
	c.NetworkSettings.SandboxID, c.NetworkSettings.SandboxKey = "", ""
	c.NetworkSettings.Ports = network.PortMap{}
}

// configuredMAC is the MAC es was configured with: one that is not the
// address derived from its IP.
func configuredMAC(es *network.EndpointSettings) network.HardwareAddr {
	if len(es.MacAddress) == 0 || (es.IPAddress.IsValid() && net.HardwareAddr(es.MacAddress).String() == cnetwork.MACFromIP(es.IPAddress)) {
		return nil
	}
	return es.MacAddress
}

// reconcileEndpoints releases, at daemon start, every endpoint whose
// container is not running or does not exist: what a crash between an
// allocation and its record left, or a stop the daemon missed.
func (s *Containers) reconcileEndpoints() {
	for _, n := range s.nets.store.List() {
		for id := range n.Endpoints {
			if c, err := s.store.Get(id); err == nil && c.State.Running && !c.State.Restarting {
				continue
			}
			s.log.Info("release stale endpoint", "container", id, "network", n.Name)
			s.releaseEndpoints(id)
		}
	}
}
