package nat

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ifNameSize is IFNAMSIZ: interface names are at most 15 bytes.
const ifNameSize = 16

// Validate checks s: bridge names and subnets, and that every mapping has a
// protocol, ports, a container address inside a non-internal bridge of its
// family and a host address no other mapping of the same protocol and port
// already covers.
func Validate(s State) error {
	names := map[string]bool{}
	for _, b := range s.Bridges {
		if err := validateBridge(b); err != nil {
			return err
		}
		if names[b.Name] {
			return fmt.Errorf("bridge %s listed twice", b.Name)
		}
		names[b.Name] = true
	}
	seen := map[portKey][]netip.Addr{}
	for _, m := range s.Mappings {
		if err := validateMapping(s.Bridges, m); err != nil {
			return fmt.Errorf("port mapping %s: %w", m, err)
		}
		k := portKey{m.Proto, m.HostPort, m.ContainerIP.Is4()}
		for _, ip := range seen[k] {
			if hostIPsOverlap(ip, m.HostIP) {
				return fmt.Errorf("port mapping %s: host port %s/%s is already mapped",
					m, hostAddrPort(m.HostIP, m.HostPort), m.Proto)
			}
		}
		seen[k] = append(seen[k], m.HostIP)
	}
	return nil
}

// portKey groups mappings that could collide.
type portKey struct {
	proto string
	port  uint16
	v4    bool
}

func validateBridge(b Bridge) error {
	if b.Name == "" || len(b.Name) >= ifNameSize || b.Name == "." || b.Name == ".." ||
		strings.ContainsAny(b.Name, "/ \x00") {
		return fmt.Errorf("bridge name %q is not a valid interface name", b.Name)
	}
	if !b.Subnet.IsValid() || !b.Subnet.Addr().Is4() {
		return fmt.Errorf("bridge %s: IPv4 subnet %q is not valid", b.Name, b.Subnet)
	}
	if b.Subnet6.IsValid() && !b.Subnet6.Addr().Is6() {
		return fmt.Errorf("bridge %s: IPv6 subnet %s is not an IPv6 prefix", b.Name, b.Subnet6)
	}
	return nil
}

func validateMapping(bridges []Bridge, m Mapping) error {
	if m.Proto != "tcp" && m.Proto != "udp" {
		return fmt.Errorf("protocol %q: want tcp or udp", m.Proto)
	}
	if m.HostPort == 0 || m.ContainerPort == 0 {
		return errors.New("port 0")
	}
	ip := m.ContainerIP
	if !ip.IsValid() || ip.Is4In6() {
		return fmt.Errorf("container address %q is not valid", ip)
	}
	if m.HostIP.IsValid() && m.HostIP.Is4() != ip.Is4() {
		return errors.New("host and container addresses are of different families")
	}
	b, ok := bridgeOf(bridges, ip)
	if !ok {
		return fmt.Errorf("container address %s is in no bridge's subnet", ip)
	}
	if b.Internal {
		return fmt.Errorf("bridge %s is internal: it publishes no ports", b.Name)
	}
	return nil
}

// bridgeOf returns the bridge whose subnet holds ip.
func bridgeOf(bridges []Bridge, ip netip.Addr) (Bridge, bool) {
	for _, b := range bridges {
		if b.Subnet.Contains(ip) || (b.Subnet6.IsValid() && b.Subnet6.Contains(ip)) {
			return b, true
		}
	}
	return Bridge{}, false
}

// anyAddr reports whether ip stands for every address of the host.
func anyAddr(ip netip.Addr) bool {
	return !ip.IsValid() || ip.IsUnspecified()
}

// hostIPsOverlap reports whether a port on a and the same port on b would
// take the same connections.
func hostIPsOverlap(a, b netip.Addr) bool {
	return anyAddr(a) || anyAddr(b) || a == b
}
