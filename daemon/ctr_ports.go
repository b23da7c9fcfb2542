package daemon

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"

	"github.com/moby/moby/api/types/network"

	ccontainer "github.com/corral-dev/corral/container"
	cnetwork "github.com/corral-dev/corral/network"
	"github.com/corral-dev/corral/network/nat"
)

// Published ports are kernel NAT in corral's nftables table (network/nat),
// never a proxy process. A container's ports are planned when it starts,
// once its endpoints have addresses, and kept in its record as
// NetworkSettings.Ports (what inspect, `port` and `ps` show); they go when
// it stops. The table is rebuilt from the whole state on every change
// (start, exit, connect, disconnect, network create and rm, daemon start):
// every bridge network, and the mappings of every container holding an
// endpoint on its primary network, which is the network store's truth, so
// what a crash left is not programmed.

// firewallTable names the daemon's nftables table: "corral" for the
// default bridge corral0, else one per bridge, so that daemons sharing a
// network namespace (with --bridge) keep their own rules.
func firewallTable(bridge string) string {
	if bridge == "" || bridge == cnetwork.DefaultBridge {
		return nat.DefaultTable
	}
	return nat.DefaultTable + "_" + bridge
}

// applyFirewall programs corral's table from the bridges and the ports of
// the containers that hold endpoints, unless that is what it holds already
// (a container with no published port starts and exits without a batch:
// Apply takes 12 ms or more). The first call of a daemon always applies,
// which rebuilds the table after a restart.
func (s *Networks) applyFirewall() error {
	s.fwMu.Lock()
	defer s.fwMu.Unlock()
	st := nat.State{Bridges: s.firewallBridges()}
	if s.ctrs != nil {
		st.Mappings = s.ctrs.allMappings("")
	}
	if s.applied != nil && reflect.DeepEqual(*s.applied, st) {
		return nil
	}
	s.applied = nil
	if err := s.fw.Apply(context.Background(), st); err != nil {
		return fmt.Errorf("apply firewall rules: %w", err)
	}
	s.applied = &st
	return nil
}

// applyFirewallFor brings the firewall up to date for the start or the
// exit of c. Only a container on a bridge network can change its state
// (its endpoint's published ports, its network's bridge), so one on none,
// the host's or another container's network skips the work: a netlink
// query per bridge network and a pass over every container's ports. A nil
// c (its record unknown) applies it.
func (s *Containers) applyFirewallFor(c *ccontainer.Container) error {
	if c != nil && c.NetworkSettings != nil {
		if nets, err := s.bridgeNetworks(c); err == nil && len(nets) == 0 {
			return nil
		}
	}
	return s.nets.applyFirewall()
}

// firewallBridges are the bridge networks as the firewall sees them.
func (s *Networks) firewallBridges() []nat.Bridge {
	var out []nat.Bridge
	for _, n := range s.store.List() {
		if n.Driver == cnetwork.DriverBridge && cnetwork.LinkExists(n.Bridge) {
			b := nat.Bridge{Name: n.Bridge, Subnet: n.Subnet, Internal: n.Internal}
			if n.EnableIPv6 {
				b.Subnet6 = n.Subnet6
			}
			out = append(out, b)
		}
	}
	return out
}

// allMappings are the published ports of every container but except
// that holds an endpoint on its primary network, in a stable order.
func (s *Containers) allMappings(except string) []nat.Mapping {
	var out []nat.Mapping
	for _, c := range s.store.All() {
		if c.ID == except || c.NetworkSettings == nil || len(c.NetworkSettings.Ports) == 0 {
			continue
		}
		ep, ok := s.primaryEndpoint(c)
		if !ok {
			continue
		}
		out = append(out, mappingsOf(c.NetworkSettings.Ports, ep.IP, ep.IP6)...)
	}
	slices.SortFunc(out, func(a, b nat.Mapping) int {
		return cmp.Or(cmp.Compare(a.HostPort, b.HostPort), cmp.Compare(a.Proto, b.Proto), a.HostIP.Compare(b.HostIP))
	})
	return out
}

// primaryEndpoint is c's endpoint on its first network when that is a
// non-internal bridge (ports are not published on macvlan networks, as
// dockerd's), from the network store; false when it holds none there (not
// running).
func (s *Containers) primaryEndpoint(c *ccontainer.Container) (cnetwork.Endpoint, bool) {
	nets, err := s.bridgeNetworks(c)
	if err != nil || len(nets) == 0 || nets[0].Internal || nets[0].Driver != cnetwork.DriverBridge {
		return cnetwork.Endpoint{}, false
	}
	ep, ok := nets[0].Endpoints[c.ID]
	return ep, ok && ep.IP.IsValid()
}

// mappingsOf turns a NetworkSettings.Ports back into the mappings to ip
// (IPv4 host addresses) and ip6 (IPv6 ones).
func mappingsOf(ports network.PortMap, ip, ip6 netip.Addr) []nat.Mapping {
	var out []nat.Mapping
	for p, bs := range ports {
		for _, b := range bs {
			hp, err := strconv.ParseUint(b.HostPort, 10, 16)
			if err != nil {
				continue
			}
			ctr := ip
			if b.HostIP.Is6() {
				ctr = ip6
			}
			if !ctr.IsValid() {
				continue
			}
			out = append(out, nat.Mapping{Proto: string(p.Proto()), HostIP: b.HostIP, HostPort: uint16(hp),
				ContainerIP: ctr, ContainerPort: p.Num()})
		}
	}
	return out
}

// planPorts chooses c's host ports once its endpoints have addresses and
// puts them in c's settings; the caller holds netMu, so two starts never
// take the same port. A port in use is an errdefs.Conflict.
func (s *Containers) planPorts(c *ccontainer.Container) error {
	hc := c.HostConfig
	nets, err := s.bridgeNetworks(c)
	if err != nil || len(nets) == 0 {
		return err
	}
	req := nat.Request{Bindings: hc.PortBindings, PublishAll: hc.PublishAllPorts, Exposed: c.Config.ExposedPorts}
	es := c.NetworkSettings.Networks[nets[0].Name]
	if !nets[0].Internal && nets[0].Driver == cnetwork.DriverBridge {
		req.ContainerIP, req.ContainerIP6 = es.IPAddress, es.GlobalIPv6Address
	}
	var ms []nat.Mapping
	if req.ContainerIP.IsValid() && (len(hc.PortBindings) > 0 || hc.PublishAllPorts) {
		if ms, err = (&nat.Planner{}).Plan(req, s.allMappings(c.ID)); err != nil {
			return fmt.Errorf("driver failed programming external connectivity on endpoint %s (%s): %w",
				c.Name[1:], es.EndpointID, err)
		}
	}
	c.NetworkSettings.Ports = nat.PortMap(c.Config.ExposedPorts, ms)
	return nil
}
