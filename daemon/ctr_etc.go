package daemon

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"

	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
	cnetwork "github.com/corral-dev/corral/network"
	"github.com/corral-dev/corral/network/resolver"
)

// hostGateway is the --add-host value that stands for the host's address
// on the default bridge.
const hostGateway = "host-gateway"

// etcHosts are /etc/hosts' fixed entries, as Docker writes them.
const etcHosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
	"fe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"

// writeEtcFiles writes the hostname, hosts and resolv.conf files that are
// bind-mounted into c, in its directory, records their paths and returns
// the record that holds them (c, a record others may be reading, is left
// as it is). A container joining another's network namespace shares that
// one's files and hostname, as in Docker.
func (s *Containers) writeEtcFiles(c *ccontainer.Container) (*ccontainer.Container, error) {
	if c.HostConfig.NetworkMode.IsContainer() {
		return s.shareEtcFiles(c)
	}
	dir := s.store.Dir(c.ID)
	hosts, err := s.hostsFile(c)
	if err != nil {
		return nil, err
	}
	files := map[string]string{"hostname": c.Config.Hostname + "\n", "hosts": hosts,
		"resolv.conf": resolvConf(c.HostConfig, s.embeddedDNS(c.HostConfig))}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
	}
	return s.update(c.ID, func(r *ccontainer.Container) error {
		r.HostnamePath, r.HostsPath, r.ResolvConfPath = filepath.Join(dir, "hostname"), filepath.Join(dir, "hosts"), filepath.Join(dir, "resolv.conf")
		return nil
	})
}

// shareEtcFiles gives c, with --network container:ID, that container's
// files, hostname and domain name, and returns the record that holds them.
func (s *Containers) shareEtcFiles(c *ccontainer.Container) (*ccontainer.Container, error) {
	other, err := s.get(c.HostConfig.NetworkMode.ConnectedContainer())
	if err != nil {
		return nil, errdefs.InvalidArgument(fmt.Errorf("cannot join network namespace of container: %w", err))
	}
	return s.update(c.ID, func(r *ccontainer.Container) error {
		r.Config.Hostname, r.Config.Domainname = other.Config.Hostname, other.Config.Domainname
		r.HostnamePath, r.HostsPath, r.ResolvConfPath = other.HostnamePath, other.HostsPath, other.ResolvConfPath
		return nil
	})
}

// rewriteHosts writes a running container's hosts file again after a
// connect or disconnect, in place (it is bind-mounted).
func (s *Containers) rewriteHosts(id string) error {
	c, err := s.get(id)
	if err != nil || !c.State.Running || c.HostsPath == "" || c.HostConfig.NetworkMode.IsContainer() {
		return err
	}
	hosts, err := s.hostsFile(c)
	if err != nil {
		return err
	}
	return os.WriteFile(c.HostsPath, []byte(hosts), 0o644)
}

// hostsFile is c's /etc/hosts: the fixed entries (the host's file with
// the host's network), --add-host entries, then c's own name on each of
// its addresses with its aliases there.
func (s *Containers) hostsFile(c *ccontainer.Container) (string, error) {
	var b strings.Builder
	host := c.HostConfig.NetworkMode.IsHost()
	if data, err := os.ReadFile("/etc/hosts"); host && err == nil {
		b.Write(data)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			b.WriteByte('\n')
		}
	} else {
		b.WriteString(etcHosts)
	}
	extra, err := parseExtraHosts(c.HostConfig.ExtraHosts, s.hostGatewayIP())
	if err != nil {
		return "", err
	}
	b.WriteString(extra)
	if !host {
		b.WriteString(ownHosts(c))
	}
	return b.String(), nil
}

// hostGatewayIP is the address host-gateway stands for: the default
// bridge's gateway.
func (s *Containers) hostGatewayIP() netip.Addr {
	n, err := s.nets.store.Get(cnetwork.DefaultName)
	if err != nil {
		return netip.Addr{}
	}
	return n.Gateway
}

// parseExtraHosts turns --add-host's "NAME:IP" (or "NAME=IP") entries into
// hosts lines.
func parseExtraHosts(entries []string, gateway netip.Addr) (string, error) {
	var b strings.Builder
	for _, e := range entries {
		name, ip, ok := strings.Cut(e, ":")
		if n, i, eq := strings.Cut(e, "="); eq && (!ok || len(n) < len(name)) {
			name, ip, ok = n, i, true
		}
		if !ok || name == "" {
			return "", errdefs.InvalidArgument(fmt.Errorf("invalid extra host %q: want NAME:IP", e))
		}
		if err := checkHostName("extra host name", name); err != nil {
			return "", err
		}
		ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
		if ip == hostGateway {
			if !gateway.IsValid() {
				return "", errdefs.InvalidArgument(errors.New("unable to derive the IP value for host-gateway"))
			}
			ip = gateway.String()
		}
		a, err := netip.ParseAddr(ip)
		if err != nil || a.Zone() != "" {
			return "", errdefs.InvalidArgument(fmt.Errorf("invalid IP address in add-host: %q", ip))
		}
		fmt.Fprintf(&b, "%s\t%s\n", a, name)
	}
	return b.String(), nil
}

// ownHosts are c's own lines: on each address it has (the network mode's
// first), its FQDN, its bare hostname and its aliases on that network;
// 127.0.1.1 without an address.
func ownHosts(c *ccontainer.Container) string {
	fqdn := c.Config.Hostname
	if c.Config.Domainname != "" {
		fqdn += "." + c.Config.Domainname
	}
	names := []string{fqdn}
	if short, _, _ := strings.Cut(fqdn, "."); short != fqdn {
		names = append(names, short)
	}
	var lines []string
	if c.NetworkSettings != nil {
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range c.NetworkSettings.Networks {
				if !yield(k) {
					return
				}
			}
		})
		primary := string(c.HostConfig.NetworkMode)
		slices.SortStableFunc(keys, func(a, b string) int { return cmp.Compare(boolInt(a != primary), boolInt(b != primary)) })
		for _, k := range keys {
			es := c.NetworkSettings.Networks[k]
			if !es.IPAddress.IsValid() {
				continue
			}
			all := slices.Clone(names)
			for _, a := range es.Aliases {
				if !slices.Contains(all, a) {
					all = append(all, a)
				}
			}
			lines = append(lines, es.IPAddress.String()+"\t"+strings.Join(all, " ")+"\n")
			if es.GlobalIPv6Address.IsValid() {
				lines = append(lines, es.GlobalIPv6Address.String()+"\t"+strings.Join(all, " ")+"\n")
			}
		}
	}
	if len(lines) == 0 {
		return "127.0.1.1\t" + strings.Join(names, " ") + "\n"
	}
	return strings.Join(lines, "")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// hostResolv is what the host's /etc/resolv.conf says.
type hostResolv struct {
	raw             []byte
	servers         []netip.Addr // without loopback ones
	search, options []string
}

// The host's resolver files: the one every program reads, and the one
// systemd-resolved writes with the servers behind its stub at 127.0.0.53.
const (
	hostResolvPath     = "/etc/resolv.conf"
	resolvedResolvPath = "/run/systemd/resolve/resolv.conf"
)

// hostResolvConf reads the host's /etc/resolv.conf. Loopback nameservers
// are left out: they do not answer inside a container's namespace. When
// only systemd-resolved's stub is listed, its upstream file is used
// instead, as dockerd does.
func hostResolvConf() hostResolv {
	h := parseResolvConf(hostResolvPath)
	if len(h.servers) == 0 && bytes.Contains(h.raw, []byte("127.0.0.53")) {
		if r := parseResolvConf(resolvedResolvPath); len(r.servers) > 0 {
			return r
		}
	}
	return h
}

// parseResolvConf reads the resolv.conf at path ("" when absent).
func parseResolvConf(path string) hostResolv {
	var h hostResolv
	h.raw, _ = os.ReadFile(path)
	sc := bufio.NewScanner(bytes.NewReader(h.raw))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) < 2:
		case f[0] == "nameserver":
			if a, err := netip.ParseAddr(f[1]); err == nil && !a.IsLoopback() {
				h.servers = append(h.servers, a)
			}
		case f[0] == "search":
			h.search = f[1:]
		case f[0] == "options":
			h.options = f[1:]
		}
	}
	return h
}

// resolvConf is the container's resolv.conf: the request's DNS settings
// over the host's. With the embedded DNS the only nameserver is
// 127.0.0.11 (the servers go to it as upstreams) and ndots is 0 unless
// set, as Docker writes it.
func resolvConf(hc *container.HostConfig, embedded bool) string {
	host := hostResolvConf()
	if hc.NetworkMode.IsHost() && len(hc.DNS) == 0 && len(hc.DNSSearch) == 0 && len(hc.DNSOptions) == 0 {
		return string(host.raw)
	}
	servers := make([]string, 0, len(hc.DNS))
	for _, a := range hc.DNS {
		servers = append(servers, a.String())
	}
	if len(hc.DNS) == 0 {
		for _, a := range host.servers {
			servers = append(servers, a.String())
		}
	}
	search, options := hc.DNSSearch, hc.DNSOptions
	if len(search) == 0 {
		search = host.search
	}
	if len(options) == 0 {
		options = host.options
	}
	var b strings.Builder
	if embedded {
		fmt.Fprintf(&b, "nameserver %s\n", resolver.Address)
		if !slices.ContainsFunc(options, func(o string) bool { return strings.HasPrefix(o, "ndots:") }) {
			options = append([]string{"ndots:0"}, options...)
		}
	} else {
		for _, ns := range servers {
			fmt.Fprintf(&b, "nameserver %s\n", ns)
		}
	}
	if len(search) > 0 && !(len(search) == 1 && search[0] == ".") {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	if embedded {
		fmt.Fprintf(&b, "\n# ExtServers: [%s]\n", strings.Join(servers, " "))
	}
	return b.String()
}
