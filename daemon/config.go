package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/network/ipam"
)

// Defaults of the configuration.
const (
	// DefaultConfigPath is where the engine's configuration file lives.
	DefaultConfigPath = "/etc/corral/daemon.json"
	// DefaultPIDFile is where the daemon writes its pid.
	DefaultPIDFile = "/run/corral/corral.pid"
)

// Config is the engine's configuration: the file's keys, in dockerd's
// daemon.json spelling for the keys the two share, and the few settings
// only the daemon's command line gives (json:"-").
type Config struct {
	// DataRoot is the state directory (images, snapshots, containers);
	// "" means /var/lib/corral.
	DataRoot string `json:"data-root,omitempty"`
	// InsecureRegistries are reached over plain http or unverified TLS
	// ("host", "host:port" or a CIDR); loopback registries always are.
	InsecureRegistries []string `json:"insecure-registries,omitempty"`
	// Hosts are the API's sockets (unix://PATH); empty means
	// api.DefaultHost.
	Hosts []string `json:"hosts,omitempty"`
	// Group, if set, may use the API socket (a name or a gid).
	Group string `json:"group,omitempty"`
	// PIDFile is where the daemon writes its pid; "" means
	// DefaultPIDFile.
	PIDFile string `json:"pidfile,omitempty"`
	// Debug logs every request.
	Debug bool `json:"debug,omitempty"`
	// ExecRoot holds the state a reboot must clear (monitors, bundles,
	// the runtime's state); "" means /run/corral for the default data
	// root, /run/corral/<hash of the data root> for another.
	ExecRoot string `json:"exec-root,omitempty"`
	// InitPath is the init of `run --init`; "" means the first of
	// /usr/local/libexec/corral/corral-init and corral-init beside the
	// daemon's binary that exists.
	InitPath string `json:"init-path,omitempty"`
	// LogDriver and LogOpts are the log driver and options of containers
	// that name none ("" means json-file rotated at 10 MB, 3 files).
	LogDriver string            `json:"log-driver,omitempty"`
	LogOpts   map[string]string `json:"log-opts,omitempty"`

	// Bridge is the Linux bridge of the default network ("" means
	// corral0); BIP its gateway address with the subnet's length ("" means
	// 172.17.0.1/16). Both are read when the default network is first
	// made.
	Bridge string `json:"bridge,omitempty"`
	BIP    string `json:"bip,omitempty"`
	// IPv6 makes the default network dual stack, with FixedCIDRv6 as
	// its IPv6 subnet ("" means a /64 of the host's ULA pool); read, as
	// BIP, when the default network is first made.
	IPv6        bool   `json:"ipv6,omitempty"`
	FixedCIDRv6 string `json:"fixed-cidr-v6,omitempty"`
	// DefaultAddressPools are where user networks without --subnet take
	// theirs, in order (empty means Docker's: 172.17-31.0.0/16, then
	// 192.168.0.0/16 in /20s).
	DefaultAddressPools []AddressPool `json:"default-address-pools,omitempty"`

	// Binary is the corral binary monitors run from; "" means this one.
	Binary string `json:"-"`

	// Version is the engine's version, as the binary was built.
	Version string `json:"-"`
}

// LoadConfig reads the configuration file at path; a missing file is an
// empty configuration. Unknown keys are refused, naming them, so that a
// typo is not silently ignored.
func LoadConfig(path string) (Config, error) {
	var c Config
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("read configuration: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, errdefs.InvalidArgument(fmt.Errorf("configuration %s: %w", path, err))
	}
	return c, nil
}

// WithEnv adds what the environment says to c: CORRAL_ROOT replaces
// DataRoot, CORRAL_INSECURE_REGISTRIES (comma-separated) adds registries.
func (c Config) WithEnv(getenv func(string) string) Config {
	if v := getenv("CORRAL_ROOT"); v != "" {
		c.DataRoot = v
	}
	for _, r := range strings.Split(getenv("CORRAL_INSECURE_REGISTRIES"), ",") {
		if r = strings.TrimSpace(r); r != "" {
			c.InsecureRegistries = append(c.InsecureRegistries, r)
		}
	}
	return c
}

// AddressPool is one entry of default-address-pools: subnets of Size
// bits carved from Base.
type AddressPool struct {
	Base string `json:"base"`
	Size int    `json:"size"`
}

// ParseAddressPool reads --default-address-pool's "base=CIDR,size=N".
func ParseAddressPool(s string) (AddressPool, error) {
	var p AddressPool
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "base":
			p.Base = v
		case "size":
			n, err := strconv.Atoi(v)
			if err != nil {
				return p, errdefs.InvalidArgument(fmt.Errorf("invalid default address pool %q: size %q", s, v))
			}
			p.Size = n
		default:
			return p, errdefs.InvalidArgument(fmt.Errorf("invalid default address pool %q: unknown field %q", s, k))
		}
	}
	return p, nil
}

// addressPools checks the configured pools and turns them into IPAM's.
func addressPools(cfg []AddressPool) ([]ipam.Pool, error) {
	var out []ipam.Pool
	for _, p := range cfg {
		base, err := netip.ParsePrefix(p.Base)
		if err != nil || base.Addr().Is4In6() {
			return nil, errdefs.InvalidArgument(fmt.Errorf("invalid default address pool base %q: an IPv4 or IPv6 CIDR", p.Base))
		}
		if max := base.Addr().BitLen() - 2; p.Size < base.Bits() || p.Size > max {
			return nil, errdefs.InvalidArgument(fmt.Errorf("invalid default address pool %s: size %d must be between %d and %d", p.Base, p.Size, base.Bits(), max))
		}
		out = append(out, ipam.Pool{Base: base.Masked(), Size: p.Size})
	}
	return out, nil
}
