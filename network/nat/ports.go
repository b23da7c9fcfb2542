package nat

import (
	"net/netip"
	"strconv"

	"github.com/moby/moby/api/types/network"
)

// PortMap returns a container's NetworkSettings.Ports as docker shows them
// (inspect, `port`): every exposed port, nil when it is not published,
// else its host bindings in the order of mappings, with 0.0.0.0 or :: for
// every address.
func PortMap(exposed network.PortSet, mappings []Mapping) network.PortMap {
	out := network.PortMap{}
	for p := range exposed {
		out[p] = nil
	}
	for _, m := range mappings {
		p, ok := network.PortFrom(m.ContainerPort, network.IPProtocol(m.Proto))
		if !ok {
			continue
		}
		host := m.HostIP
		if !host.IsValid() {
			host = netip.IPv4Unspecified()
			if m.ContainerIP.Is6() {
				host = netip.IPv6Unspecified()
			}
		}
		out[p] = append(out[p], network.PortBinding{HostIP: host, HostPort: strconv.Itoa(int(m.HostPort))})
	}
	return out
}
