package nat

import (
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// The chains of corral's table. In nft's words:
//
//	chain forward     { type filter hook forward priority filter; policy accept; }
//	chain prerouting  { type nat hook prerouting priority dstnat; fib daddr type local jump ports }
//	chain output      { type nat hook output priority dstnat; fib daddr type local jump ports }
//	chain ports       { one dnat rule per mapping }
//	chain postrouting { type nat hook postrouting priority srcnat; masquerades }
const (
	chainForward     = "forward"
	chainPrerouting  = "prerouting"
	chainOutput      = "output"
	chainPorts       = "ports"
	chainPostrouting = "postrouting"
)

// loopback4 is the source of connections to a port published on
// 127.0.0.1, masqueraded on their way into a bridge.
var loopback4 = netip.MustParsePrefix("127.0.0.0/8")

// build queues the chains and rules of s in t on conn.
func build(conn *nftables.Conn, t *nftables.Table, s State) {
	accept := nftables.ChainPolicyAccept
	fwd := conn.AddChain(&nftables.Chain{Name: chainForward, Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	pre := conn.AddChain(&nftables.Chain{Name: chainPrerouting, Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest})
	out := conn.AddChain(&nftables.Chain{Name: chainOutput, Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest})
	ports := conn.AddChain(&nftables.Chain{Name: chainPorts, Table: t})
	post := conn.AddChain(&nftables.Chain{Name: chainPostrouting, Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})

	add := func(c *nftables.Chain, rules [][]expr.Any) {
		for _, r := range rules {
			conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: r})
		}
	}
	add(fwd, forwardRules(s.Bridges))
	toPorts := [][]expr.Any{all(localDaddr(), []expr.Any{jump(chainPorts)})}
	add(pre, toPorts)
	add(out, toPorts)
	add(ports, portRules(s.Mappings))
	add(post, postroutingRules(s.Bridges))
}

// forwardRules isolate the bridges: an internal bridge forwards nothing in
// or out; into any other bridge only replies and DNATed (published)
// connections pass, so neither another bridge nor the outside reaches a
// container's unpublished ports. Leaving a bridge is allowed (policy).
func forwardRules(bridges []Bridge) [][]expr.Any {
	var rules [][]expr.Any
	drop := []expr.Any{verdict(expr.VerdictDrop)}
	accept := []expr.Any{verdict(expr.VerdictAccept)}
	for _, b := range bridges {
		if b.Internal {
			rules = append(rules,
				all(iifname(expr.CmpOpEq, b.Name), oifname(expr.CmpOpNeq, b.Name), drop),
				all(oifname(expr.CmpOpEq, b.Name), iifname(expr.CmpOpNeq, b.Name), drop))
		}
	}
	for _, b := range bridges {
		if b.Internal {
			continue
		}
		rules = append(rules,
			all(oifname(expr.CmpOpEq, b.Name), established(), accept),
			all(oifname(expr.CmpOpEq, b.Name), dnatted(), accept),
			all(oifname(expr.CmpOpEq, b.Name), iifname(expr.CmpOpNeq, b.Name), drop))
	}
	return rules
}

// portRules DNAT each published port, for the host address it is
// published on or for every local address.
func portRules(mappings []Mapping) [][]expr.Any {
	rules := make([][]expr.Any, 0, len(mappings))
	for _, m := range mappings {
		r := family(m.ContainerIP.Is4())
		if !anyAddr(m.HostIP) {
			r = append(r, daddr(m.HostIP)...)
		}
		rules = append(rules, all(r, l4proto(m.Proto), dport(m.HostPort),
			dnatTo(m.ContainerIP, m.ContainerPort)))
	}
	return rules
}

// postroutingRules masquerade, for each non-internal bridge: its subnets
// leaving through another interface (outbound NAT), connections from
// 127.0.0.0/8 going in (a port published on loopback: the container could
// not answer 127.0.0.1), and DNATed connections from the bridge back into
// it (hairpin: a container reaching its own published port would otherwise
// get the answer from itself, not from the host address it called).
func postroutingRules(bridges []Bridge) [][]expr.Any {
	var rules [][]expr.Any
	masq := []expr.Any{&expr.Masq{}}
	for _, b := range bridges {
		if b.Internal {
			continue
		}
		for _, p := range []netip.Prefix{b.Subnet, b.Subnet6} {
			if !p.IsValid() {
				continue
			}
			fam := family(p.Addr().Is4())
			rules = append(rules,
				all(fam, inPrefix(true, p), oifname(expr.CmpOpNeq, b.Name), masq),
				all(fam, inPrefix(true, p), oifname(expr.CmpOpEq, b.Name), dnatted(), masq))
		}
		rules = append(rules,
			all(family(true), inPrefix(true, loopback4), oifname(expr.CmpOpEq, b.Name), masq))
	}
	return rules
}
