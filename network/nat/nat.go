package nat

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/errdefs"
)

// DefaultTable is the name of corral's table (family inet) when
// Options.Table is empty.
const DefaultTable = "corral"

// Bridge is one bridge network as the firewall sees it.
type Bridge struct {
	// Name is the bridge's interface name, which must exist when Apply
	// runs (route_localnet is set on it).
	Name string
	// Subnet is the IPv4 subnet of the network.
	Subnet netip.Prefix
	// Subnet6 is the IPv6 subnet, if the network has one.
	Subnet6 netip.Prefix
	// Internal networks have no way out and cannot be reached from
	// outside: no masquerade, no published ports, forwarding dropped.
	Internal bool
}

// Mapping is one published port: connections to HostIP:HostPort/Proto go
// to ContainerIP:ContainerPort. A port range is one Mapping per port.
type Mapping struct {
	Proto string // "tcp" or "udp"
	// HostIP is the address the port is published on; the zero Addr or an
	// unspecified one (0.0.0.0, ::) means every address of the host of
	// ContainerIP's family.
	HostIP        netip.Addr
	HostPort      uint16
	ContainerIP   netip.Addr
	ContainerPort uint16
}

// String formats m as docker prints a binding, ip:port/proto -> ip:port.
func (m Mapping) String() string {
	return fmt.Sprintf("%s/%s -> %s", hostAddrPort(m.HostIP, m.HostPort), m.Proto,
		netip.AddrPortFrom(m.ContainerIP, m.ContainerPort))
}

// State is the whole desired firewall state.
type State struct {
	Bridges  []Bridge
	Mappings []Mapping
}

// Options configure a Firewall.
type Options struct {
	// Table is the name of corral's inet table; DefaultTable if empty.
	// Daemons sharing a network namespace need different tables.
	Table string
}

// Firewall programs corral's table in the caller's network namespace. Its methods may be called from several
// goroutines; calls are serialised.
type Firewall struct {
	table string

	mu sync.Mutex // serialises Apply and Flush, guards applied
	// applied holds the mappings of the last successful Apply.
	applied map[Mapping]bool
}

// New returns a Firewall for opts. It opens nothing until Apply or Flush.
func New(opts Options) *Firewall {
	f := &Firewall{table: opts.Table}
	if f.table == "" {
		f.table = DefaultTable
	}
	return f
}

// Table returns the name of the inet table the firewall owns.
func (f *Firewall) Table() string { return f.table }

// Apply replaces corral's table with the rules for s, in one netlink
// batch: either the whole new table is in place afterwards or the old one
// is untouched. Then it deletes the conntrack entries of udp ports whose
// mappings changed (conntrack.go); that error leaves the rules in place,
// and Apply may be called again. It also turns on forwarding (and route_localnet on each
// non-internal bridge), which NAT needs. A bad State is an
// errdefs.InvalidArgument error.
func (f *Firewall) Apply(ctx context.Context, s State) error {
	if err := Validate(s); err != nil {
		return errdefs.InvalidArgument(fmt.Errorf("firewall state: %w", err))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.sysctls(s); err != nil {
		return err
	}
	conn, err := f.conn(batchBytes(s))
	if err != nil {
		return err
	}
	t := &nftables.Table{Name: f.table, Family: nftables.TableFamilyINet}
	// Adding an existing table is a no-op, so the delete that follows
	// never fails for a missing table and the batch starts from empty.
	conn.AddTable(t)
	conn.DelTable(t)
	conn.AddTable(t)
	build(conn, t, s)
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("program nftables table inet %s: %w", f.table, err)
	}
	changed := changedUDPPorts(f.applied, s.Mappings)
	f.applied = map[Mapping]bool{}
	for _, m := range s.Mappings {
		f.applied[m] = true
	}
	return clearUDP(changed)
}

// Flush removes corral's table, if it exists. Daemon shutdown is not a
// reason to call it: published ports stay while their containers run.
func (f *Firewall) Flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	conn, err := f.conn(0)
	if err != nil {
		return err
	}
	t := &nftables.Table{Name: f.table, Family: nftables.TableFamilyINet}
	conn.AddTable(t)
	conn.DelTable(t)
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("delete nftables table inet %s: %w", f.table, err)
	}
	changed := changedUDPPorts(f.applied, nil)
	f.applied = nil
	return clearUDP(changed)
}

// Exists reports whether corral's table is in the kernel.
func (f *Firewall) Exists() (bool, error) {
	conn, err := f.conn(0)
	if err != nil {
		return false, err
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, fmt.Errorf("list nftables tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == f.table {
			return true, nil
		}
	}
	return false, nil
}

// conn opens a netlink connection whose socket buffers hold a batch of
// about batch bytes (and its acknowledgements) when batch is past the
// default size: the whole batch goes in one sendmsg, which fails with
// EMSGSIZE beyond the send buffer (about 600 rules at the default 208 KiB).
func (f *Firewall) conn(batch int) (*nftables.Conn, error) {
	var opts []nftables.ConnOption
	if batch > defaultSockBuf {
		opts = append(opts, nftables.WithSockOptions(forceBuffers(batch)))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("open nftables netlink connection: %w", err)
	}
	return c, nil
}

// hostAddrPort formats ip:port, with 0.0.0.0 for the zero Addr.
func hostAddrPort(ip netip.Addr, port uint16) string {
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
	}
	return netip.AddrPortFrom(ip, port).String()
}

// defaultSockBuf is below the usual net.core.wmem_max (212992).
const defaultSockBuf = 128 << 10

// batchBytes estimates the netlink batch of s generously: rules are about
// 300 bytes each, plus the chains.
func batchBytes(s State) int {
	return 64<<10 + 1024*(len(s.Mappings)+8*len(s.Bridges))
}

// forceBuffers sets the send and receive buffers of the socket to n bytes
// past the sysctl limits (SO_*BUFFORCE, which needs CAP_NET_ADMIN, as
// programming nftables does).
func forceBuffers(n int) nftables.SockOption {
	return func(c *netlink.Conn) error {
		rc, err := c.SyscallConn()
		if err != nil {
			return fmt.Errorf("netlink socket: %w", err)
		}
		var serr error
		err = rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, n)
			if serr == nil {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n)
			}
		})
		if err == nil {
			err = serr
		}
		if err != nil {
			return fmt.Errorf("set netlink socket buffers to %d bytes: %w", n, err)
		}
		return nil
	}
}
