package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/network/ipam"
)

// Store is the networks under one directory, <dir>/<id>.json each.
//
// mu guards nets and every write of a record, so an allocation is decided
// and written in one step.
type Store struct {
	dir   string
	pools []ipam.Pool

	mu   sync.Mutex
	nets map[string]*Network // by ID
}

// Open reads the networks under dir (made if missing) and removes what an
// interrupted write left (*.tmp). pools are where user networks without a
// --subnet get theirs: without an IPv4 pool among them, ipam.DefaultPools;
// without an IPv6 one, this host's ULA pool (ipam.ULAPool).
func Open(dir string, pools []ipam.Pool) (*Store, error) {
	has := func(v6 bool) bool {
		return slices.ContainsFunc(pools, func(p ipam.Pool) bool { return p.Base.Addr().Is6() == v6 })
	}
	if !has(false) {
		pools = append(slices.Clone(ipam.DefaultPools), pools...)
	}
	if !has(true) {
		pools = append(slices.Clone(pools), ipam.ULAPool(hostID()))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open network store: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open network store: %w", err)
	}
	s := &Store{dir: dir, pools: pools, nets: map[string]*Network{}}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		switch {
		case strings.HasSuffix(e.Name(), ".tmp"):
			_ = os.Remove(p)
		case strings.HasSuffix(e.Name(), ".json"):
			n, err := readRecord(p)
			if err != nil {
				return nil, err
			}
			s.nets[n.ID] = n
		}
	}
	return s, nil
}

func readRecord(path string) (*Network, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read network record: %w", err)
	}
	var n Network
	if err := json.Unmarshal(data, &n); err != nil {
		return nil, fmt.Errorf("read network record %s: %w", filepath.Base(path), err)
	}
	return &n, nil
}

// write stores n's record: a temporary file, synced, renamed over the
// record.
func (s *Store) write(n *Network) error {
	data, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("write network %s: %w", n.Name, err)
	}
	p := filepath.Join(s.dir, n.ID+".json")
	f, err := os.OpenFile(p+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write network %s: %w", n.Name, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(p+".tmp", p)
	}
	if err != nil {
		_ = os.Remove(p + ".tmp")
		return fmt.Errorf("write network %s: %w", n.Name, err)
	}
	return nil
}

// CreateOptions are what a network is created with.
type CreateOptions struct {
	Name       string
	Driver     string // "" is bridge
	Subnet     netip.Prefix
	IPRange    netip.Prefix
	Gateway    netip.Addr
	Internal   bool
	Predefined bool
	Labels     map[string]string
	Options    map[string]string
	// Avoid are subnets a subnet from the pools must not overlap besides
	// the other networks' (the host's routes).
	Avoid []netip.Prefix
	// EnableIPv6 adds an IPv6 pool: Subnet6 (zero: the next free /64 of
	// the pools), IPRange6, Gateway6.
	EnableIPv6 bool
	Subnet6    netip.Prefix
	IPRange6   netip.Prefix
	Gateway6   netip.Addr
	// VLANLink says the macvlan parent was made for this network.
	VLANLink bool
}

var validName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`) })

// Create makes a network: a unique name, a subnet that overlaps no other
// network's (the next free one of the pools when none is asked for), a
// gateway in it.
func (s *Store) Create(o CreateOptions) (Network, error) {
	if !validName().MatchString(o.Name) {
		return Network{}, errdefs.InvalidArgument(fmt.Errorf("invalid network name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", o.Name))
	}
	if o.Driver == "" {
		o.Driver = DriverBridge
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byName(o.Name) != nil {
		return Network{}, errdefs.Conflict(fmt.Errorf("network with name %s already exists", o.Name))
	}
	n := &Network{ID: NewID(), Name: o.Name, Driver: o.Driver, Created: time.Now().UTC(),
		Internal: o.Internal, Predefined: o.Predefined, Labels: o.Labels, Options: o.Options}
	if err := s.assignLinks(n, o); err != nil {
		return Network{}, err
	}
	if err := s.write(n); err != nil {
		return Network{}, err
	}
	s.nets[n.ID] = n
	return n.clone(), nil
}

// assignLinks gives a bridge or macvlan network its pools and links.
func (s *Store) assignLinks(n *Network, o CreateOptions) error {
	switch n.Driver {
	case DriverBridge:
	case DriverMacvlan:
		if err := s.assignParent(n, o); err != nil {
			return err
		}
	default:
		return nil
	}
	if err := s.assignPools(n, o); err != nil {
		return err
	}
	if n.Driver == DriverMacvlan && n.Parent != "" {
		return nil
	}
	return s.assignBridge(n)
}

// assignPools gives n its subnet, ip-range and gateway, and their IPv6
// counterparts when it has IPv6.
func (s *Store) assignPools(n *Network, o CreateOptions) error {
	var used, used6 []netip.Prefix
	for _, m := range s.nets {
		if m.Subnet.IsValid() {
			used = append(used, m.Subnet)
		}
		if m.Subnet6.IsValid() {
			used6 = append(used6, m.Subnet6)
		}
	}
	p := pool{subnet: o.Subnet, ipRange: o.IPRange, gateway: o.Gateway}
	if err := p.assign(s.pools, append(used, o.Avoid...), false); err != nil {
		return err
	}
	n.Subnet, n.IPRange, n.Gateway, n.UserSubnet = p.subnet, p.ipRange, p.gateway, o.Subnet.IsValid()
	if !o.EnableIPv6 {
		if o.Subnet6.IsValid() {
			return errdefs.InvalidArgument(fmt.Errorf("invalid network config: IPv6 subnet %s needs --ipv6", o.Subnet6))
		}
		return nil
	}
	p6 := pool{subnet: o.Subnet6, ipRange: o.IPRange6, gateway: o.Gateway6}
	if err := p6.assign(s.pools, append(used6, o.Avoid...), true); err != nil {
		return err
	}
	n.EnableIPv6, n.Subnet6, n.IPRange6, n.Gateway6 = true, p6.subnet, p6.ipRange, p6.gateway
	return nil
}

// pool is one family's subnet, ip-range and gateway as asked for, then
// as assigned.
type pool struct {
	subnet, ipRange netip.Prefix
	gateway         netip.Addr
}

// assign checks a requested subnet of family v6 against used, or takes
// the next free one of pools, then defaults the gateway.
func (p *pool) assign(pools []ipam.Pool, used []netip.Prefix, v6 bool) error {
	fam := map[bool]string{false: "IPv4", true: "IPv6"}[v6]
	if p.subnet.IsValid() {
		if p.subnet.Addr().Is6() != v6 {
			return errdefs.InvalidArgument(fmt.Errorf("invalid network config: subnet %s is not %s", p.subnet, fam))
		}
		p.subnet = p.subnet.Masked()
		if err := ipam.CheckFree(p.subnet, used); err != nil {
			return err
		}
	} else {
		if p.gateway.IsValid() || p.ipRange.IsValid() {
			return errdefs.InvalidArgument(fmt.Errorf("invalid network config: an %s gateway or ip-range needs an %s subnet", fam, fam))
		}
		var err error
		if p.subnet, err = ipam.NextSubnet(pools, used, v6); err != nil {
			return err
		}
	}
	if !p.gateway.IsValid() {
		p.gateway = ipam.Gateway(p.subnet)
	}
	return ipam.Range{Subnet: p.subnet, IPRange: p.ipRange, Gateway: p.gateway}.Check()
}

// assignBridge names n's bridge: the driver option, else br-<id[:12]>,
// and no other network's.
func (s *Store) assignBridge(n *Network) error {
	n.Bridge = n.Options[OptionBridgeName]
	if n.Bridge == "" {
		n.Bridge = "br-" + n.ID[:12]
	}
	if len(n.Bridge) > 15 {
		return errdefs.InvalidArgument(fmt.Errorf("invalid bridge name %q: longer than 15 characters", n.Bridge))
	}
	for _, m := range s.nets {
		if m.Bridge == n.Bridge {
			return errdefs.Conflict(fmt.Errorf("bridge name %s is already used by network %s", n.Bridge, m.Name))
		}
	}
	return nil
}

// byName is the network named name; the caller holds mu.
func (s *Store) byName(name string) *Network {
	for _, n := range s.nets {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// find resolves ref as dockerd does: a full ID, a name, then a unique ID
// prefix; the caller holds mu.
func (s *Store) find(ref string) (*Network, error) {
	if n, ok := s.nets[ref]; ok {
		return n, nil
	}
	if n := s.byName(ref); n != nil {
		return n, nil
	}
	var found []*Network
	for id, n := range s.nets {
		if ref != "" && strings.HasPrefix(id, ref) {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return nil, errdefs.NotFound(fmt.Errorf("network %s not found", ref))
	case 1:
		return found[0], nil
	}
	return nil, errdefs.InvalidArgument(fmt.Errorf("network %s is ambiguous (%d matches found based on ID prefix)", ref, len(found)))
}

// Get is network ref (ID, name or ID prefix).
func (s *Store) Get(ref string) (Network, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.find(ref)
	if err != nil {
		return Network{}, err
	}
	return n.clone(), nil
}

// List is every network, by name.
func (s *Store) List() []Network {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Network, 0, len(s.nets))
	for _, n := range s.nets {
		out = append(out, n.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Remove deletes network ref's record; a predefined network, or one with
// endpoints, is refused with dockerd's messages.
func (s *Store) Remove(ref string) (Network, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.find(ref)
	if err != nil {
		return Network{}, err
	}
	if n.Predefined {
		return Network{}, errdefs.Wrap(errdefs.ErrForbidden, fmt.Errorf("%s is a pre-defined network and cannot be removed", n.Name))
	}
	if len(n.Endpoints) > 0 {
		return Network{}, errdefs.Wrap(errdefs.ErrForbidden, fmt.Errorf("error while removing network: network %s id %s has active endpoints", n.Name, n.ID))
	}
	if err := os.Remove(filepath.Join(s.dir, n.ID+".json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Network{}, fmt.Errorf("remove network %s: %w", n.Name, err)
	}
	delete(s.nets, n.ID)
	return n.clone(), nil
}
