package apiserver

import (
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

// inspectResponse is a container's inspect as API versions before 1.52
// have it: NetworkSettings also carries the default bridge endpoint's
// fields at its top level (IPAddress, Gateway, MacAddress, ...), which
// `docker inspect -f '{{.NetworkSettings.IPAddress}}'` and scripts read.
type inspectResponse struct {
	container.InspectResponse
	NetworkSettings *legacyNetworkSettings
}

// legacyNetworkSettings is NetworkSettings with the top-level fields
// dockerd fills from the "bridge" network's endpoint (empty on others).
type legacyNetworkSettings struct {
	container.NetworkSettings
	Bridge                 string
	HairpinMode            bool
	LinkLocalIPv6Address   string
	LinkLocalIPv6PrefixLen int
	SecondaryIPAddresses   []string
	SecondaryIPv6Addresses []string
	EndpointID             string
	Gateway                string
	GlobalIPv6Address      string
	GlobalIPv6PrefixLen    int
	IPAddress              string
	IPPrefixLen            int
	IPv6Gateway            string
	MacAddress             string
}

// withLegacyNetwork is c with the legacy fields of its network settings.
func withLegacyNetwork(c container.InspectResponse) inspectResponse {
	out := inspectResponse{InspectResponse: c}
	if c.NetworkSettings == nil {
		return out
	}
	ns := &legacyNetworkSettings{NetworkSettings: *c.NetworkSettings}
	if ep := c.NetworkSettings.Networks["bridge"]; ep != nil {
		ns.EndpointID, ns.Gateway, ns.IPAddress = ep.EndpointID, addrString(ep.Gateway.String()), addrString(ep.IPAddress.String())
		ns.IPPrefixLen, ns.GlobalIPv6PrefixLen = ep.IPPrefixLen, ep.GlobalIPv6PrefixLen
		ns.GlobalIPv6Address, ns.IPv6Gateway = addrString(ep.GlobalIPv6Address.String()), addrString(ep.IPv6Gateway.String())
		ns.MacAddress = macString(ep.MacAddress)
	}
	out.NetworkSettings = ns
	return out
}

// addrString is "" for the zero address (which prints "invalid IP").
func addrString(s string) string {
	if s == "invalid IP" {
		return ""
	}
	return s
}

func macString(m network.HardwareAddr) string {
	if len(m) == 0 {
		return ""
	}
	return m.String()
}
