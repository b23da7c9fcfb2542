package network

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/network/ipam"
)

// EndpointOptions ask for a container's endpoint on a network.
type EndpointOptions struct {
	Container string
	Name      string
	IP        netip.Addr // --ip; zero: the next free address
	IP6       netip.Addr // --ip6, on IPv6 networks
	MAC       string     // --mac-address; "": derived from the IP
	Aliases   []string
	Hostname  string
	IfName    string // the interface's name in the container (eth0, ...)
}

// Allocate gives container o.Container an endpoint on network ref: an
// address (o.IP, checked, or the next free one), a MAC, an ID, written to
// the network's record before it is returned. A container has one
// endpoint per network.
func (s *Store) Allocate(ref string, o EndpointOptions) (Network, Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.find(ref)
	if err != nil {
		return Network{}, Endpoint{}, err
	}
	if _, ok := n.Endpoints[o.Container]; ok {
		return Network{}, Endpoint{}, errdefs.Wrap(errdefs.ErrForbidden, fmt.Errorf("endpoint with name %s already exists in network %s", o.Name, n.Name))
	}
	ep := Endpoint{ID: NewID(), Container: o.Container, Name: o.Name, MAC: o.MAC,
		Aliases: slices.Clone(o.Aliases), Hostname: o.Hostname, RequestedIP: o.IP, RequestedIP6: o.IP6, IfName: o.IfName}
	if n.HasLinks() {
		if err := n.allocateAddrs(&ep, o); err != nil {
			return Network{}, Endpoint{}, err
		}
	} else if o.IP.IsValid() {
		return Network{}, Endpoint{}, errdefs.InvalidArgument(fmt.Errorf("user specified IP address is supported only with user defined networks, not on %s", n.Name))
	}
	next := n.clone()
	if next.Endpoints == nil {
		next.Endpoints = map[string]Endpoint{}
	}
	next.Endpoints[o.Container] = ep
	if err := s.write(&next); err != nil {
		return Network{}, Endpoint{}, err
	}
	s.nets[n.ID] = &next
	return next.clone(), ep, nil
}

// allocateAddrs gives ep its addresses on n (IPv4, and IPv6 on a dual
// stack network), its MAC and, on a bridge, its veth's name.
func (n *Network) allocateAddrs(ep *Endpoint, o EndpointOptions) error {
	var err error
	r := ipam.Range{Subnet: n.Subnet, IPRange: n.IPRange, Gateway: n.Gateway}
	if ep.IP, err = n.allocateIP(r, o.IP, func(e Endpoint) netip.Addr { return e.IP }); err != nil {
		return err
	}
	if n.EnableIPv6 {
		r6 := ipam.Range{Subnet: n.Subnet6, IPRange: n.IPRange6, Gateway: n.Gateway6}
		if ep.IP6, err = n.allocateIP(r6, o.IP6, func(e Endpoint) netip.Addr { return e.IP6 }); err != nil {
			return err
		}
	} else if o.IP6.IsValid() {
		return errdefs.InvalidArgument(fmt.Errorf("network %s: an IPv6 address was given but the network has no IPv6", n.Name))
	}
	if ep.MAC == "" {
		ep.MAC = MACFromIP(ep.IP)
	}
	if n.Driver == DriverBridge {
		ep.HostLink = HostLinkName(ep.ID)
	}
	return nil
}

// allocateIP picks an address of r on n; addr is the field of the
// endpoints that holds those already taken.
func (n *Network) allocateIP(r ipam.Range, want netip.Addr, addr func(Endpoint) netip.Addr) (netip.Addr, error) {
	used := make([]netip.Addr, 0, len(n.Endpoints))
	for _, ep := range n.Endpoints {
		used = append(used, addr(ep))
	}
	a, err := r.Allocate(want, used)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("network %s: %w", n.Name, err)
	}
	return a, nil
}

// Release removes container id's endpoint from network ref, freeing its
// address, and returns it; ok is false when there was none.
func (s *Store) Release(ref, id string) (ep Endpoint, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.find(ref)
	if err != nil {
		return Endpoint{}, false, err
	}
	if ep, ok = n.Endpoints[id]; !ok {
		return Endpoint{}, false, nil
	}
	next := n.clone()
	delete(next.Endpoints, id)
	if err := s.write(&next); err != nil {
		return Endpoint{}, false, err
	}
	s.nets[n.ID] = &next
	return ep, true, nil
}

// RenameEndpoints gives container id's endpoints, on every network, the
// container's new name (a DNS name on user networks).
func (s *Store) RenameEndpoints(id, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.nets {
		ep, ok := n.Endpoints[id]
		if !ok || ep.Name == name {
			continue
		}
		next := n.clone()
		ep.Name = name
		next.Endpoints[id] = ep
		if err := s.write(&next); err != nil {
			return err
		}
		s.nets[n.ID] = &next
	}
	return nil
}
