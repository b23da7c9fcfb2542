package resolver

import (
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Listen opens the resolver's udp and tcp sockets at Address:53 in the
// network namespace at nsPath (/proc/PID/ns/net). It works on a thread of
// its own that enters the namespace, opens them and comes back; a thread
// that cannot come back stays locked, so the Go runtime ends it with its
// goroutine rather than reuse it in the wrong namespace. The sockets stay
// in that namespace and are served from any thread.
func Listen(nsPath string) (net.PacketConn, net.Listener, error) {
	target, err := os.Open(nsPath)
	if err != nil {
		return nil, nil, fmt.Errorf("open network namespace: %w", err)
	}
	defer target.Close()
	type result struct {
		pc  net.PacketConn
		ln  net.Listener
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("open network namespace: %w", err)}
			return
		}
		defer self.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("enter network namespace: %w", err)}
			return
		}
		var res result
		res.pc, res.ln, res.err = listenHere()
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		done <- res
	}()
	res := <-done
	return res.pc, res.ln, res.err
}

// listenHere opens both sockets in the calling thread's namespace.
func listenHere() (net.PacketConn, net.Listener, error) {
	addr := net.JoinHostPort(Address, "53")
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
