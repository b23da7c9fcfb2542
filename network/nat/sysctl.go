package nat

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// procSys is where sysctls live; they are per network namespace, and the
// caller's namespace is the one written.
const procSys = "/proc/sys"

// sysctls turns on what the rules of s need: IPv4 forwarding when there is
// a bridge, IPv6 forwarding when one has an IPv6 subnet, and route_localnet
// on each non-internal bridge so that connections to a port published on
// 127.0.0.1 may be routed into it.
func (f *Firewall) sysctls(s State) error {
	if len(s.Bridges) == 0 {
		return nil
	}
	if err := setSysctl("net/ipv4/ip_forward"); err != nil {
		return err
	}
	for _, b := range s.Bridges {
		if b.Subnet6.IsValid() {
			if err := setSysctl("net/ipv6/conf/all/forwarding"); err != nil {
				return err
			}
		}
		if b.Internal {
			continue
		}
		if err := setSysctl("net/ipv4/conf/" + b.Name + "/route_localnet"); err != nil {
			return err
		}
	}
	return nil
}

// setSysctl writes 1 to the sysctl at path (below /proc/sys) unless it is 1
// already.
func setSysctl(path string) error {
	p := filepath.Join(procSys, path)
	cur, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("read sysctl %s: %w", path, err)
	}
	if string(bytes.TrimSpace(cur)) == "1" {
		return nil
	}
	if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("set sysctl %s: %w", path, err)
	}
	return nil
}
