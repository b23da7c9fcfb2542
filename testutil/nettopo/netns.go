// Package nettopo builds the small network topologies of the network
// tests inside the test sandbox (testutil.Sandbox): network namespaces of
// the test's own, veths between them, an outside client host, servers
// that answer with the address they saw, and the client side that asks
// them. Everything it makes is gone with the test or its sandbox; traffic
// goes only to loopback and to addresses inside these namespaces.
package nettopo

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Netns is a network namespace a test created, kept by descriptor; the
// zero value is the calling process's own (the sandbox's).
type Netns struct{ fd int }

// FD is the namespace's descriptor, for netlink.NsFd (0: the caller's).
func (ns Netns) FD() int { return ns.fd }

var errThreadTainted = errors.New("could not return to the original network namespace")

// onThread runs fn on a locked OS thread; a thread fn could not restore
// (errThreadTainted) is left locked so that it exits with the goroutine.
func onThread(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := fn()
		if !errors.Is(err, errThreadTainted) {
			runtime.UnlockOSThread()
		}
		done <- err
	}()
	return <-done
}

// enter runs fn on a thread in namespace fd, or in a new one when fd < 0
// (whose descriptor it returns), then takes the thread back.
func enter(fd int, fn func() error) (int, error) {
	var out int
	err := onThread(func() error {
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(orig)
		if fd < 0 {
			err = unix.Unshare(unix.CLONE_NEWNET)
		} else {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
		}
		if err != nil {
			return fmt.Errorf("enter network namespace: %w", err)
		}
		if fd < 0 {
			out, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		}
		if err == nil {
			err = fn()
		}
		if serr := unix.Setns(orig, unix.CLONE_NEWNET); serr != nil {
			return errThreadTainted
		}
		return err
	})
	return out, err
}

// New makes a network namespace with lo up, closed when t ends.
func New(t testing.TB) Netns {
	t.Helper()
	fd, err := enter(-1, func() error {
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		return err
	})
	if err != nil {
		t.Fatalf("new network namespace: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return Netns{fd: fd}
}

// Do runs fn with the calling thread in ns; sockets fn opens stay in ns.
func (ns Netns) Do(fn func() error) error {
	if ns.fd == 0 {
		return fn()
	}
	_, err := enter(ns.fd, fn)
	return err
}

// Handle is a netlink handle in ns, closed when t ends.
func (ns Netns) Handle(t testing.TB) *netlink.Handle {
	t.Helper()
	var h *netlink.Handle
	var err error
	if ns.fd == 0 {
		h, err = netlink.NewHandle()
	} else {
		h, err = netlink.NewHandleAt(vnetns.NsHandle(ns.fd))
	}
	if err != nil {
		t.Fatalf("netlink handle: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

var linkSeq atomic.Int32

// LinkName is a new interface name with prefix, unique in this process.
func LinkName(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, linkSeq.Add(1))
}
