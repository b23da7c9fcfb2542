package nat

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/moby/moby/api/types/network"

	"github.com/corral-dev/corral/errdefs"
)

// Request is what a container asks to publish, as Docker's create API
// says it, and where it sits.
type Request struct {
	Bindings   network.PortMap // HostConfig.PortBindings
	PublishAll bool            // HostConfig.PublishAllPorts (-P)
	Exposed    network.PortSet // Config.ExposedPorts, for PublishAll
	// ContainerIP is the container's IPv4 address on its bridge;
	// ContainerIP6 its IPv6 address, if the network has IPv6.
	ContainerIP, ContainerIP6 netip.Addr
}

// Planner chooses host ports. The zero value uses the ephemeral range
// 32768-60999 (Linux's default ip_local_port_range, which docker uses too)
// and probes ports by binding them.
type Planner struct {
	// PortMin and PortMax bound the ports chosen when a binding gives
	// none; 0 means the default.
	PortMin, PortMax uint16
	// Probe returns an error wrapping syscall.EADDRINUSE when something on
	// the host listens on ip:port/proto; nil means bind and close.
	Probe func(proto string, ip netip.Addr, port uint16) error
}

// Plan returns the mappings for req: one per binding and address family
// (an empty HostIP publishes on IPv4 and, when the container has an IPv6
// address, on IPv6 with the same host port), in the order of the sorted
// container ports. An empty or "0" HostPort takes a free port of the
// ephemeral range, "N-M" the first free one of that range. inUse are the
// mappings of other containers. A port already mapped or listened on is an
// errdefs.Conflict naming ip:port/proto; a bad binding an
// errdefs.InvalidArgument.
func (p *Planner) Plan(req Request, inUse []Mapping) ([]Mapping, error) {
	var out []Mapping
	bindings, ports := requested(req)
	for _, port := range ports {
		for _, b := range bindings[port] {
			ms, err := p.plan(req, port, b, slices.Concat(inUse, out))
			if err != nil {
				return nil, err
			}
			out = append(out, ms...)
		}
	}
	return out, nil
}

// requested returns the bindings with -P's added (a random host port for
// each exposed port without one), and their container ports in order.
func requested(req Request) (network.PortMap, []network.Port) {
	bindings := req.Bindings
	if req.PublishAll {
		bindings = network.PortMap{}
		for port := range req.Exposed {
			bindings[port] = []network.PortBinding{{}}
		}
		for port, bs := range req.Bindings {
			if len(bs) > 0 {
				bindings[port] = bs
			}
		}
	}
	ports := make([]network.Port, 0, len(bindings))
	for port := range bindings {
		ports = append(ports, port)
	}
	slices.SortFunc(ports, func(a, b network.Port) int {
		if a.Num() != b.Num() {
			return int(a.Num()) - int(b.Num())
		}
		return strings.Compare(string(a.Proto()), string(b.Proto()))
	})
	return bindings, ports
}

// target is one family of a binding: host address and container address.
type target struct{ host, ctr netip.Addr }

// plan maps one binding of port.
func (p *Planner) plan(req Request, port network.Port, b network.PortBinding, inUse []Mapping) ([]Mapping, error) {
	proto := string(port.Proto())
	if proto != "tcp" && proto != "udp" {
		return nil, errdefs.InvalidArgument(fmt.Errorf("publish %s: protocol %s is not supported", port, proto))
	}
	targets, err := targetsOf(req, b.HostIP)
	if err != nil {
		return nil, errdefs.InvalidArgument(fmt.Errorf("publish %s: %w", port, err))
	}
	lo, hi, err := p.hostPorts(b.HostPort)
	if err != nil {
		return nil, errdefs.InvalidArgument(fmt.Errorf("publish %s: %w", port, err))
	}
	hp, err := p.choose(proto, targets, lo, hi, b.HostPort, inUse)
	if err != nil {
		return nil, err
	}
	out := make([]Mapping, 0, len(targets))
	for _, t := range targets {
		out = append(out, Mapping{Proto: proto, HostIP: t.host, HostPort: hp,
			ContainerIP: t.ctr, ContainerPort: port.Num()})
	}
	return out, nil
}

// targetsOf returns the families a binding on host publishes: an empty
// host address both (IPv6 when the container has it), else its own.
func targetsOf(req Request, host netip.Addr) ([]target, error) {
	host = host.Unmap()
	switch {
	case !host.IsValid() && req.ContainerIP.IsValid():
		t := []target{{netip.IPv4Unspecified(), req.ContainerIP}}
		if req.ContainerIP6.IsValid() {
			t = append(t, target{netip.IPv6Unspecified(), req.ContainerIP6})
		}
		return t, nil
	case host.Is4() && req.ContainerIP.IsValid():
		return []target{{host, req.ContainerIP}}, nil
	case host.Is6() && req.ContainerIP6.IsValid():
		return []target{{host, req.ContainerIP6}}, nil
	case host.Is6():
		return nil, fmt.Errorf("host address %s is IPv6 but the container has no IPv6 address", host)
	}
	return nil, errors.New("the container has no IPv4 address to publish")
}

// hostPorts reads a binding's HostPort: "" or "0" is the ephemeral range,
// "N" one port, "N-M" a range.
func (p *Planner) hostPorts(s string) (lo, hi uint16, err error) {
	if s == "" || s == "0" {
		lo, hi = p.PortMin, p.PortMax
		if lo == 0 || hi == 0 || hi < lo {
			lo, hi = 32768, 60999
		}
		return lo, hi, nil
	}
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = parsePort(a); err == nil {
		hi = lo
		if isRange {
			hi, err = parsePort(b)
		}
	}
	if err == nil && hi < lo {
		err = errors.New("end below start")
	}
	if err != nil {
		return 0, 0, fmt.Errorf("host port %q: %w", s, err)
	}
	return lo, hi, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port number", s)
	}
	return uint16(n), nil
}

// choose returns the first port of lo-hi free for every target, starting
// at a random one when the binding named none.
func (p *Planner) choose(proto string, targets []target, lo, hi uint16, asked string, inUse []Mapping) (uint16, error) {
	n := int(hi-lo) + 1
	first := 0
	if asked == "" || asked == "0" {
		first = rand.IntN(n)
	}
	var err error
	for i := range n {
		port := lo + uint16((first+i)%n)
		if err = p.free(proto, targets, port, inUse); err == nil {
			return port, nil
		}
		if !errdefs.IsConflict(err) {
			return 0, err
		}
	}
	if n == 1 {
		return 0, err
	}
	return 0, errdefs.Conflict(fmt.Errorf("no free host port in %d-%d/%s on %s: the last tried: %w",
		lo, hi, proto, targets[0].host, err))
}

// free checks port on every target against inUse and the host's sockets.
func (p *Planner) free(proto string, targets []target, port uint16, inUse []Mapping) error {
	for _, t := range targets {
		at := fmt.Sprintf("%s/%s", hostAddrPort(t.host, port), proto)
		for _, m := range inUse {
			if m.Proto == proto && m.HostPort == port && m.ContainerIP.Is4() == t.ctr.Is4() &&
				hostIPsOverlap(m.HostIP, t.host) {
				return errdefs.Conflict(fmt.Errorf("bind for %s failed: port is already allocated", at))
			}
		}
		probe := p.Probe
		if probe == nil {
			probe = bindProbe
		}
		err := probe(proto, t.host, port)
		switch {
		case errors.Is(err, syscall.EADDRINUSE):
			return errdefs.Conflict(fmt.Errorf("bind for %s failed: address already in use", at))
		case err != nil:
			return errdefs.InvalidArgument(fmt.Errorf("bind for %s failed: %w", at, err))
		}
	}
	return nil
}

// bindProbe binds ip:port/proto and closes it again.
func bindProbe(proto string, ip netip.Addr, port uint16) error {
	nw := proto + "6"
	if ip.Is4() {
		nw = proto + "4"
	}
	addr := netip.AddrPortFrom(ip, port).String()
	if proto == "udp" {
		c, err := net.ListenPacket(nw, addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
	l, err := net.Listen(nw, addr)
	if err != nil {
		return err
	}
	return l.Close()
}
