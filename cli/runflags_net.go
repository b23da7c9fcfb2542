package cli

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

// The network flags of run and create: published and exposed ports, and
// the networks to connect to.

// ports fills the exposed ports and the port bindings from -p and
// --expose.
func (f *containerFlags) ports(c *container.Config, h *container.HostConfig) error {
	specs, err := standardPortNotation(f.publish.values)
	if err != nil {
		return err
	}
	exposed, bindings := network.PortSet{}, network.PortMap{}
	for _, spec := range specs {
		mappings, err := parsePortSpec(spec)
		if err != nil {
			return err
		}
		for _, m := range mappings {
			exposed[m.port] = struct{}{}
			bindings[m.port] = append(bindings[m.port], m.binding)
		}
	}
	for _, e := range f.expose.values {
		if err := exposePorts(exposed, e); err != nil {
			return err
		}
	}
	c.ExposedPorts, h.PortBindings = exposed, bindings
	return nil
}

// exposePorts adds PORT[-END][/PROTO] to exposed.
func exposePorts(exposed network.PortSet, e string) error {
	if strings.Contains(e, ":") {
		return fmt.Errorf("invalid port format for --expose: %s", e)
	}
	ports, proto, _ := strings.Cut(e, "/")
	if proto == "" {
		proto = "tcp"
	}
	start, end, err := parsePortRange(ports)
	if err != nil {
		return fmt.Errorf("invalid range format for --expose: %s, error: %s", e, err)
	}
	for i := start; i <= end; i++ {
		p, ok := network.PortFrom(uint16(i), network.IPProtocol(proto))
		if !ok {
			return fmt.Errorf("invalid port format for --expose: %s", e)
		}
		exposed[p] = struct{}{}
	}
	return nil
}

// standardPortNotation turns -p published=8080,target=80[,protocol=udp]
// into 8080:80/udp.
func standardPortNotation(specs []string) ([]string, error) {
	out := []string{}
	for _, spec := range specs {
		if !strings.Contains(spec, "=") {
			out = append(out, spec)
			continue
		}
		params := map[string]string{"protocol": "tcp"}
		for _, param := range strings.Split(spec, ",") {
			k, v, ok := strings.Cut(param, "=")
			if !ok || k == "" {
				return out, fmt.Errorf("invalid publish opts format (should be name=value but got '%s')", param)
			}
			params[k] = v
		}
		out = append(out, params["published"]+":"+params["target"]+"/"+params["protocol"])
	}
	return out, nil
}

type portMapping struct {
	port    network.Port
	binding network.PortBinding
}

// parsePortSpec reads [IP:][HOSTPORT[-END]:]PORT[-END][/PROTO].
func parsePortSpec(raw string) ([]portMapping, error) {
	ip, hostPort, containerPort := splitPortParts(raw)
	containerPort, proto, _ := strings.Cut(containerPort, "/")
	if containerPort == "" {
		return nil, fmt.Errorf("no port specified: %s<empty>", raw)
	}
	proto = strings.ToLower(proto)
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return nil, errors.New("invalid proto: " + proto)
	}
	addr, err := parseHostIP(ip)
	if err != nil {
		return nil, err
	}
	start, end, err := parsePortRange(containerPort)
	if err != nil {
		return nil, errors.New("invalid containerPort: " + containerPort)
	}
	var hStart, hEnd int
	if hostPort != "" {
		if hStart, hEnd, err = parsePortRange(hostPort); err != nil {
			return nil, errors.New("invalid hostPort: " + hostPort)
		}
		if end-start != hEnd-hStart && end != start {
			return nil, fmt.Errorf("invalid ranges specified for container and host Ports: %s and %s", containerPort, hostPort)
		}
	}
	count := end - start + 1
	out := make([]portMapping, 0, count)
	for i := range count {
		hp := ""
		if hostPort != "" {
			hp = strconv.Itoa(hStart + i)
			if count == 1 && hStart != hEnd {
				hp += "-" + strconv.Itoa(hEnd)
			}
		}
		p, _ := network.PortFrom(uint16(start+i), network.IPProtocol(proto))
		out = append(out, portMapping{port: p, binding: network.PortBinding{HostIP: addr, HostPort: hp}})
	}
	return out, nil
}

func splitPortParts(raw string) (ip, hostPort, containerPort string) {
	parts := strings.Split(raw, ":")
	n := len(parts)
	switch n {
	case 1:
		return "", "", parts[0]
	case 2:
		return "", parts[0], parts[1]
	}
	return strings.Join(parts[:n-2], ":"), parts[n-2], parts[n-1]
}

// parseHostIP reads an IP of -p, [v6] included; "" is the zero address.
func parseHostIP(ip string) (netip.Addr, error) {
	if ip == "" {
		return netip.Addr{}, nil
	}
	if ip[0] == '[' {
		if !strings.HasSuffix(ip, "]") {
			return netip.Addr{}, fmt.Errorf("invalid IP address %v: missing ']' in address", ip)
		}
		ip = ip[1 : len(ip)-1]
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return netip.Addr{}, errors.New("invalid IP address: " + ip)
	}
	return a, nil
}

// parsePortRange reads PORT or START-END.
func parsePortRange(ports string) (int, int, error) {
	if ports == "" {
		return 0, 0, errors.New("empty string specified for ports")
	}
	s, e, ok := strings.Cut(ports, "-")
	start, err := parsePortNumber(s)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid start port '%s': %w", s, err)
	}
	if !ok || s == e {
		return start, start, nil
	}
	end, err := parsePortNumber(e)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid end port '%s': %w", e, err)
	}
	if end < start {
		return 0, 0, errors.New("invalid port range: " + ports)
	}
	return start, end, nil
}

func parsePortNumber(s string) (int, error) {
	if s == "" {
		return 0, errors.New("value is empty")
	}
	n, err := strconv.ParseInt(s, 10, 0)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) {
			err = ne.Err
		}
		return 0, err
	}
	if n < 0 || n > 65535 {
		return 0, errors.New("value out of range (0–65535)")
	}
	return int(n), nil
}

// networkValue is repeatable --network NAME, or the long form
// name=NAME,alias=A,ip=IP,ip6=IP,link-local-ip=IP,driver-opt=K=V,gw-priority=N.
type networkValue struct{ values []networkAttachment }

type networkAttachment struct {
	target     string
	aliases    []string
	driverOpts map[string]string
	ipv4, ipv6 string
	linkLocal  []string
	gwPriority int
}

// isLongNetworkSyntax reports whether v is the long form: whether it holds
// a pair word=word, which is all docker's unanchored `\w+=\w+(,\w+=\w+)*`
// asks. Checked by hand: compiling that regexp was a cost of every
// `run --network`.
func isLongNetworkSyntax(v string) bool {
	for i := 1; i+1 < len(v); i++ {
		if v[i] == '=' && isWordByte(v[i-1]) && isWordByte(v[i+1]) {
			return true
		}
	}
	return false
}

// isWordByte is regexp's \w: an ASCII letter, digit or underscore.
func isWordByte(c byte) bool {
	return c == '_' || isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func (n *networkValue) Set(v string) error {
	if !isLongNetworkSyntax(v) {
		n.values = append(n.values, networkAttachment{target: v})
		return nil
	}
	fields, err := csv.NewReader(strings.NewReader(v)).Read()
	if err != nil {
		return err
	}
	a := networkAttachment{aliases: []string{}}
	for _, field := range fields {
		if err := a.set(field); err != nil {
			return err
		}
	}
	if a.target == "" {
		return errors.New("network name/id is not specified")
	}
	n.values = append(n.values, a)
	return nil
}

func (a *networkAttachment) set(field string) error {
	key, val, ok := strings.Cut(strings.ToLower(field), "=")
	if !ok || key == "" {
		return fmt.Errorf("invalid field %s", field)
	}
	key, val = strings.TrimSpace(key), strings.TrimSpace(val)
	switch key {
	case "name":
		a.target = val
	case "alias":
		a.aliases = append(a.aliases, val)
	case "ip":
		a.ipv4 = val
	case "ip6":
		a.ipv6 = val
	case "link-local-ip":
		a.linkLocal = append(a.linkLocal, val)
	case "driver-opt":
		k, v, ok := strings.Cut(val, "=")
		if !ok || k == "" {
			return errors.New("invalid key value pair format in driver options")
		}
		if a.driverOpts == nil {
			a.driverOpts = map[string]string{}
		}
		a.driverOpts[strings.TrimSpace(k)] = strings.TrimSpace(v)
	case "gw-priority":
		n, err := strconv.Atoi(val)
		if err != nil {
			var ne *strconv.NumError
			if errors.As(err, &ne) {
				err = ne.Err
			}
			return fmt.Errorf("invalid gw-priority (%s): %w", val, err)
		}
		a.gwPriority = n
	default:
		return errors.New("invalid field key " + key)
	}
	return nil
}

func (*networkValue) Type() string   { return "network" }
func (*networkValue) String() string { return "" }

// mode is the network mode: the first network, or "default".
func (n *networkValue) mode() string {
	if len(n.values) == 0 {
		return network.NetworkDefault
	}
	return n.values[0].target
}

// withAliases is n with --network-alias's aliases on its first network
// (the default one without --network), as docker's CLI gives them.
func (n networkValue) withAliases(aliases []string) *networkValue {
	if len(aliases) == 0 {
		return &n
	}
	vals := slices.Clone(n.values)
	if len(vals) == 0 {
		vals = []networkAttachment{{target: network.NetworkDefault}}
	}
	vals[0].aliases = append(slices.Clone(vals[0].aliases), aliases...)
	return &networkValue{values: vals}
}

// endpoints is the networking config's endpoints as docker's CLI makes
// them: "default" without --network; nothing for one plain --network.
func (n *networkValue) endpoints() (map[string]*network.EndpointSettings, error) {
	out := map[string]*network.EndpointSettings{}
	if len(n.values) == 0 {
		ep, err := networkAttachment{target: network.NetworkDefault}.endpoint()
		out[network.NetworkDefault] = ep
		return out, err
	}
	var userDefined, other bool
	for i, a := range n.values {
		if container.NetworkMode(a.target).IsUserDefined() {
			userDefined = true
		} else {
			other = true
		}
		ep, err := a.endpoint()
		if err != nil {
			return nil, err
		}
		if _, ok := out[a.target]; ok {
			return nil, fmt.Errorf("network %q is specified multiple times", a.target)
		}
		if i == 0 && len(n.values) == 1 && reflect.DeepEqual(*ep, network.EndpointSettings{}) {
			continue
		}
		out[a.target] = ep
	}
	if userDefined && other {
		return nil, errors.New("conflicting options: cannot attach both user-defined and non-user-defined network-modes")
	}
	return out, nil
}

func (a networkAttachment) endpoint() (*network.EndpointSettings, error) {
	if strings.TrimSpace(a.target) == "" {
		return nil, errors.New("no name set for network")
	}
	if !container.NetworkMode(a.target).IsUserDefined() && len(a.aliases) > 0 {
		return nil, errors.New("network-scoped aliases are only supported for user-defined networks")
	}
	ep := &network.EndpointSettings{GwPriority: a.gwPriority, DriverOpts: a.driverOpts}
	ep.Aliases = append(ep.Aliases, a.aliases...)
	if a.ipv4 == "" && a.ipv6 == "" && len(a.linkLocal) == 0 {
		return ep, nil
	}
	ep.IPAMConfig = &network.EndpointIPAMConfig{}
	var err error
	if a.ipv4 != "" {
		if ep.IPAMConfig.IPv4Address, err = netip.ParseAddr(a.ipv4); err != nil {
			return nil, fmt.Errorf("invalid IPv4 address: %s", a.ipv4)
		}
	}
	if a.ipv6 != "" {
		if ep.IPAMConfig.IPv6Address, err = netip.ParseAddr(a.ipv6); err != nil {
			return nil, fmt.Errorf("invalid IPv6 address: %s", a.ipv6)
		}
	}
	for _, s := range a.linkLocal {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("invalid link-local IP address: %s", s)
		}
		ep.IPAMConfig.LinkLocalIPs = append(ep.IPAMConfig.LinkLocalIPs, ip)
	}
	return ep, nil
}
