// Package network owns corral's networks: their records (Store, persisted
// under the data root, one JSON file per network, each written by a
// rename so a kill -9 leaves it whole), the endpoints that containers hold
// on them with their addresses (allocated by network/ipam from the
// record itself, so allocation and record cannot disagree after a crash),
// and the Linux links behind bridge networks (bridge.go: the bridge, a
// veth pair per endpoint moved into the container's network namespace),
// all made with netlink.
package network

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"
)

// Drivers and the predefined networks, as dockerd names them.
const (
	DriverBridge = "bridge"
	DriverHost   = "host"
	DriverNull   = "null"

	DefaultName   = "bridge"
	DefaultBridge = "corral0"

	// OptionBridgeName is the driver option naming a bridge network's link.
	OptionBridgeName = "com.docker.network.bridge.name"
)

// Network is one network's record.
type Network struct {
	ID       string
	Name     string
	Driver   string
	Created  time.Time
	Internal bool `json:",omitempty"`
	// Predefined networks (bridge, host, none) cannot be removed.
	Predefined bool              `json:",omitempty"`
	Labels     map[string]string `json:",omitempty"`
	Options    map[string]string `json:",omitempty"`
	// IPAM: one IPv4 pool; zero for host and none. UserSubnet says the
	// subnet came from the request rather than the default pools.
	Subnet     netip.Prefix
	IPRange    netip.Prefix
	Gateway    netip.Addr
	UserSubnet bool `json:",omitempty"`
	// Bridge is the Linux bridge of a bridge network.
	Bridge string `json:",omitempty"`
	// Endpoints by container ID.
	Endpoints map[string]Endpoint `json:",omitempty"`
}

// Endpoint is a container's attachment to a network.
type Endpoint struct {
	ID        string
	Container string
	Name      string // the container's name, without "/"
	IP        netip.Addr
	MAC       string
	Aliases   []string `json:",omitempty"`
	// Hostname is the container's --hostname, a DNS name too.
	Hostname string `json:",omitempty"`
	// RequestedIP is --ip, kept so that inspect echoes IPAMConfig.
	RequestedIP netip.Addr
	// HostLink is the host end of the veth pair, IfName the container's.
	HostLink string `json:",omitempty"`
	IfName   string `json:",omitempty"`
}

// Prefix is the endpoint's address with the network's prefix length.
func (n *Network) Prefix(ep Endpoint) netip.Prefix {
	return netip.PrefixFrom(ep.IP, n.Subnet.Bits())
}

// clone is a deep copy of n.
func (n *Network) clone() Network {
	c := *n
	c.Labels = maps.Clone(n.Labels)
	c.Options = maps.Clone(n.Options)
	c.Endpoints = maps.Clone(n.Endpoints)
	for k, ep := range c.Endpoints {
		ep.Aliases = slices.Clone(ep.Aliases)
		c.Endpoints[k] = ep
	}
	return c
}

// NewID is a random 64-hex ID, as network and endpoint IDs are.
func NewID() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("random ID: %v", err))
	}
	return hex.EncodeToString(b[:])
}

// MACFromIP is the MAC address Docker derives from an IPv4 address:
// 02:42 followed by the address's four bytes.
func MACFromIP(a netip.Addr) string {
	b := a.As4()
	return fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3])
}

// HostLinkName is the host end's name of an endpoint's veth pair:
// "veth" and seven hex digits of the endpoint ID, as short as dockerd's.
func HostLinkName(endpointID string) string {
	return "veth" + endpointID[:7]
}
