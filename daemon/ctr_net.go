package daemon

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	ccontainer "github.com/corral-dev/corral/container"
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

// loopbackUp sets "lo" up in the network namespace of process pid. It
// works on a thread of its own that enters the namespace and comes back;
// a thread that cannot come back stays locked, so the Go runtime ends it
// with its goroutine rather than reuse it in the wrong namespace.
func loopbackUp(pid int) error {
	target, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return fmt.Errorf("open network namespace: %w", err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open network namespace: %w", err)
			return
		}
		defer self.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		err = setLinkUp("lo")
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
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
