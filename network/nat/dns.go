package nat

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/google/nftables"
)

// dnsTable is the table, in a container's own network namespace, that
// sends the container's queries to the embedded DNS.
const dnsTable = "corral_dns"

// RedirectDNS programs, in the network namespace at nsPath, a DNAT of
// udp and tcp to addr:53 to addr:udpPort and addr:tcpPort, where the
// embedded DNS listens, replacing the table a previous daemon made. Port
// 53 stays free for a server of the container's own on 0.0.0.0.
func RedirectDNS(nsPath string, addr netip.Addr, udpPort, tcpPort uint16) error {
	ns, err := os.Open(nsPath)
	if err != nil {
		return fmt.Errorf("open network namespace: %w", err)
	}
	defer ns.Close()
	conn, err := nftables.New(nftables.WithNetNSFd(int(ns.Fd())))
	if err != nil {
		return fmt.Errorf("open nftables netlink connection: %w", err)
	}
	defer conn.CloseLasting()
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: dnsTable}
	conn.AddTable(t)
	conn.DelTable(t)
	conn.AddTable(t)
	ch := conn.AddChain(&nftables.Chain{Name: "output", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest})
	for proto, port := range map[string]uint16{"udp": udpPort, "tcp": tcpPort} {
		conn.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: all(daddr(addr), l4proto(proto), dport(53), dnatTo(addr, port))})
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("redirect DNS to %s: %w", addr, err)
	}
	return nil
}
