package daemon

import (
	"fmt"

	"golang.org/x/sys/unix"

	ccontainer "github.com/corral-dev/corral/container"
	cnetwork "github.com/corral-dev/corral/network"
)

// setupNetwork prepares the network namespace of a created container,
// whose init is process pid, before its process runs: with a namespace of
// its own the loopback interface is set up, as dockerd's network setup
// does, so that 127.0.0.1 answers, and each endpoint allocated for it
// gets its veth (ctr_endpoints.go).
func (s *Containers) setupNetwork(c *ccontainer.Container, pid int) error {
	if c.HostConfig.NetworkMode.IsHost() || c.HostConfig.NetworkMode.IsContainer() {
		return nil
	}
	if err := loopbackUp(pid); err != nil {
		return fmt.Errorf("set up network: %w", err)
	}
	if err := s.attachEndpoints(c, pid); err != nil {
		return fmt.Errorf("set up network: %w", err)
	}
	return nil
}

// loopbackUp sets "lo" up in the network namespace of process pid.
func loopbackUp(pid int) error {
	return cnetwork.InNamespace(fmt.Sprintf("/proc/%d/ns/net", pid), func() error { return setLinkUp("lo") })
}

// setLinkUp sets interface name up in the calling thread's network
// namespace.
func setLinkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}
