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
		Aliases: slices.Clone(o.Aliases), Hostname: o.Hostname, RequestedIP: o.IP, IfName: o.IfName}
	if n.Driver == DriverBridge {
		if ep.IP, err = n.allocateIP(o.IP); err != nil {
			return Network{}, Endpoint{}, err
		}
		if ep.MAC == "" {
			ep.MAC = MACFromIP(ep.IP)
		}
		ep.HostLink = HostLinkName(ep.ID)
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

// allocateIP picks an address on n.
func (n *Network) allocateIP(want netip.Addr) (netip.Addr, error) {
	used := make([]netip.Addr, 0, len(n.Endpoints))
	for _, ep := range n.Endpoints {
		used = append(used, ep.IP)
	}
	r := ipam.Range{Subnet: n.Subnet, IPRange: n.IPRange, Gateway: n.Gateway}
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
