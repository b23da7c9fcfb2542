// Package resolver is the embedded DNS of user-defined networks: one
// server per container, at 127.0.0.11 (udp and tcp; port 53 is sent to
// its ports by a DNAT in the container's namespace, nat.RedirectDNS),
// answering from the network store the
// names of the containers it shares a user-defined network with (name,
// aliases, short ID, hostname, and each as NAME.NETWORK), PTR records of
// their addresses, and forwarding other names to upstream servers (the
// container's --dns, else the host's) when the container has a way out.
// The sockets are opened inside the namespace by a thread that enters it
// (Listen) and are then served from the daemon (github.com/miekg/dns).
package resolver

import (
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/corral-dev/corral/network"
)

// Address is where the resolver answers inside a container.
const Address = "127.0.0.11"

// ttl is the TTL of the records the resolver owns, as Docker's.
const ttl = 600

// Networks is the source of truth the resolver answers from: the
// network store.
type Networks interface {
	List() []network.Network
}

// Resolver answers the queries of containers from their networks.
type Resolver struct {
	nets Networks
}

// New is a resolver answering from nets.
func New(nets Networks) *Resolver {
	return &Resolver{nets: nets}
}

// scope is what container id sees: the user-defined bridge networks it
// has an endpoint on, and whether any of them leads out.
func (r *Resolver) scope(id string) (nets []network.Network, external bool) {
	for _, n := range r.nets.List() {
		if n.Driver != network.DriverBridge || n.Predefined {
			if _, ok := n.Endpoints[id]; ok && n.Driver == network.DriverBridge {
				external = true // the default bridge leads out
			}
			continue
		}
		if _, ok := n.Endpoints[id]; ok {
			nets = append(nets, n)
			external = external || !n.Internal
		}
	}
	return nets, external
}

// Lookup is the IPv4 addresses name has for container id (name without
// its trailing dot, any case); found reports whether a container it sees
// owns the name, even with no address.
func (r *Resolver) Lookup(id, name string) (addrs []netip.Addr, found bool) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	nets, _ := r.scope(id)
	for _, n := range nets {
		short := strings.TrimSuffix(name, "."+strings.ToLower(n.Name))
		for _, ep := range n.Endpoints {
			if owns(ep, name) || (short != name && owns(ep, short)) {
				found = true
				if ep.IP.IsValid() && !contains(addrs, ep.IP) {
					addrs = append(addrs, ep.IP)
				}
			}
		}
	}
	return addrs, found
}

// Reverse is the name of address a for container id: "NAME.NETWORK" of
// the endpoint holding it on a network id shares.
func (r *Resolver) Reverse(id string, a netip.Addr) (string, bool) {
	nets, _ := r.scope(id)
	for _, n := range nets {
		for _, ep := range n.Endpoints {
			if ep.IP == a && ep.Name != "" {
				return ep.Name + "." + n.Name, true
			}
		}
	}
	return "", false
}

// owns reports whether endpoint ep answers to name (lower case).
func owns(ep network.Endpoint, name string) bool {
	for _, n := range Names(ep) {
		if strings.ToLower(n) == name {
			return true
		}
	}
	return false
}

// Names are the DNS names of an endpoint, as Docker's DNSNames: the
// container's name, its aliases, its short ID and its hostname.
func Names(ep network.Endpoint) []string {
	out := make([]string, 0, len(ep.Aliases)+3)
	add := func(s string) {
		if s != "" && !contains(out, s) {
			out = append(out, s)
		}
	}
	add(ep.Name)
	for _, a := range ep.Aliases {
		add(a)
	}
	if len(ep.Container) >= 12 {
		add(ep.Container[:12])
	}
	add(ep.Hostname)
	return out
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// reverseAddr is the IPv4 address of a PTR query name, if it is one.
func reverseAddr(qname string) (netip.Addr, bool) {
	s, ok := strings.CutSuffix(strings.ToLower(qname), ".in-addr.arpa.")
	if !ok {
		return netip.Addr{}, false
	}
	p := strings.Split(s, ".")
	if len(p) != 4 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(p[3] + "." + p[2] + "." + p[1] + "." + p[0])
	return a, err == nil && a.Is4()
}

// local answers q for container id from its networks; ok is false when
// the name is not one of theirs (the query goes upstream).
func (r *Resolver) local(id string, q dns.Question) (rrs []dns.RR, ok bool) {
	hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: ttl}
	if q.Qtype == dns.TypePTR {
		a, isRev := reverseAddr(q.Name)
		if !isRev {
			return nil, false
		}
		name, found := r.Reverse(id, a)
		if !found {
			return nil, false
		}
		hdr.Rrtype = dns.TypePTR
		return []dns.RR{&dns.PTR{Hdr: hdr, Ptr: dns.Fqdn(name)}}, true
	}
	addrs, found := r.Lookup(id, q.Name)
	if !found {
		return nil, false
	}
	if q.Qtype != dns.TypeA && q.Qtype != dns.TypeANY {
		return nil, true // the name exists, without records of that type (AAAA: no IPv6)
	}
	hdr.Rrtype = dns.TypeA
	for _, a := range addrs {
		rrs = append(rrs, &dns.A{Hdr: hdr, A: a.AsSlice()})
	}
	return rrs, true
}
