package resolver

import (
	"fmt"
	"net"

	"github.com/corral-dev/corral/network"
)

// Listen opens the resolver's udp and tcp sockets on Address in the
// network namespace at nsPath (/proc/PID/ns/net), on ports the kernel
// picks (nat.RedirectDNS sends port 53 there, so that the container can
// have a server of its own on 0.0.0.0:53), from a thread that entered
// it; they stay in that namespace and are served from any thread.
func Listen(nsPath string) (pc net.PacketConn, ln net.Listener, err error) {
	err = network.InNamespace(nsPath, func() error {
		pc, ln, err = listenHere()
		return err
	})
	return pc, ln, err
}

// listenHere opens both sockets in the calling thread's namespace.
func listenHere() (net.PacketConn, net.Listener, error) {
	addr := net.JoinHostPort(Address, "0")
	pc, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on udp %s: %w", addr, err)
	}
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		pc.Close()
		return nil, nil, fmt.Errorf("listen on tcp %s: %w", addr, err)
	}
	return pc, ln, nil
}
