package daemon

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/moby/moby/api/types/container"

	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
	cnetwork "github.com/corral-dev/corral/network"
	"github.com/corral-dev/corral/network/nat"
	"github.com/corral-dev/corral/network/resolver"
)

// A container whose network mode is a user-defined network gets the
// embedded DNS (network/resolver): its resolv.conf says 127.0.0.11, where
// the daemon serves it sockets opened in its network namespace from start
// to exit, and again after a daemon restart (restoreRunning). Answers come
// from the network store at each query, so a connect or disconnect shows
// at once.

// embeddedDNS reports whether a container with hc uses the embedded DNS:
// its network mode is a user-defined bridge network, as in Docker.
func (s *Containers) embeddedDNS(hc *container.HostConfig) bool {
	m := hc.NetworkMode
	if m.IsHost() || m.IsNone() || m.IsContainer() || m.IsDefault() {
		return false
	}
	n, err := s.nets.store.Get(string(m))
	return err == nil && n.Driver == cnetwork.DriverBridge && !n.Predefined
}

// startDNS serves the embedded DNS to c, whose init is process pid, when
// c uses it.
func (s *Containers) startDNS(c *ccontainer.Container, pid int) error {
	if !s.embeddedDNS(c.HostConfig) {
		return nil
	}
	ns := fmt.Sprintf("/proc/%d/ns/net", pid)
	pc, ln, err := resolver.Listen(ns)
	if err != nil {
		return fmt.Errorf("start the embedded DNS: %w", err)
	}
	udp, tcp := pc.LocalAddr().(*net.UDPAddr), ln.Addr().(*net.TCPAddr)
	if err := nat.RedirectDNS(ns, netip.MustParseAddr(resolver.Address), uint16(udp.Port), uint16(tcp.Port)); err != nil {
		pc.Close()
		ln.Close()
		return fmt.Errorf("start the embedded DNS: %w", err)
	}
	s.dns.Serve(resolver.Config{Container: c.ID, Upstream: upstreams(c.HostConfig)}, pc, ln)
	return nil
}

// upstreams are the servers the embedded DNS forwards other names to for
// a container: its --dns, else the host's non-loopback nameservers.
func upstreams(hc *container.HostConfig) []netip.AddrPort {
	servers := hc.DNS
	if len(servers) == 0 {
		servers = hostResolvConf().servers
	}
	out := make([]netip.AddrPort, 0, len(servers))
	for _, a := range servers {
		out = append(out, netip.AddrPortFrom(a.Unmap(), 53))
	}
	return out
}

// checkHostName refuses a name (hostname, domain name, alias, --add-host
// name) that cannot be one line's field of /etc/hosts: one with spaces,
// control characters or '#'.
func checkHostName(what, name string) error {
	if strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == '#' || r == 0x7f }) {
		return errdefs.InvalidArgument(fmt.Errorf("invalid %s %q: spaces, control characters and '#' are not allowed", what, name))
	}
	return nil
}

// checkJoinedNetwork refuses, as dockerd does, the settings a container
// joining another's network namespace (--network container:ID) cannot
// have: that container's hostname, hosts, DNS and ports are its own.
func checkJoinedNetwork(cfg *container.Config, hc *container.HostConfig) error {
	if err := checkHostName("hostname", cfg.Hostname); err != nil {
		return err
	}
	if err := checkHostName("domainname", cfg.Domainname); err != nil {
		return err
	}
	m := hc.NetworkMode
	if !m.IsContainer() {
		return nil
	}
	var conflict string
	switch {
	case cfg.Hostname != "":
		conflict = "hostname and the network mode"
	case len(hc.Links) > 0:
		conflict = "container type network can't be used with links. This would result in undefined behavior"
	case len(hc.DNS) > 0:
		conflict = "dns and the network mode"
	case len(hc.ExtraHosts) > 0:
		conflict = "custom host-to-IP mapping and the network mode"
	case len(hc.PortBindings) > 0 || hc.PublishAllPorts:
		conflict = "port publishing and the container type network mode"
	case len(cfg.ExposedPorts) > 0:
		conflict = "port exposing and the container type network mode"
	}
	if conflict == "" {
		return nil
	}
	return errdefs.InvalidArgument(fmt.Errorf("conflicting options: %s", conflict))
}
