package engine_test

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The outside client host of the port tests (after network/nat's
// topo_test.go): a network namespace of the test's own joined to the
// sandbox by a veth, clientAddr there and uplinkAddr on the sandbox's end.
// Traffic goes only to addresses inside these namespaces and to loopback.

var (
	uplinkAddr = netip.MustParseAddr("192.0.2.1")
	clientAddr = netip.MustParseAddr("192.0.2.2")
)

// netns is a network namespace the test created, kept by descriptor; the
// zero value is the sandbox's own.
type netns struct{ fd int }

var errThreadTainted = fmt.Errorf("could not return to the original network namespace")

// onThread runs fn on a locked OS thread; a thread fn could not restore
// is left locked so that it exits with the goroutine.
func onThread(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := fn()
		if err != errThreadTainted {
			runtime.UnlockOSThread()
		}
		done <- err
	}()
	return <-done
}

// inNetns runs fn on a thread in namespace fd: fd < 0 means a new one,
// whose descriptor is returned.
func inNetns(fd int, fn func() error) (int, error) {
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

// do runs fn with the calling thread in ns; sockets fn opens stay in ns.
func (ns netns) do(fn func() error) error {
	if ns.fd == 0 {
		return fn()
	}
	_, err := inNetns(ns.fd, fn)
	return err
}

// newClient makes the outside host: a namespace with lo up, joined to the
// sandbox by a veth (the sandbox's end named link).
func newClient(t *testing.T, link string) netns {
	t.Helper()
	fd, err := inNetns(-1, func() error { return setUp("lo") })
	if err != nil {
		t.Fatalf("client namespace: %v", err)
	}
	ns := netns{fd: fd}
	t.Cleanup(func() { unix.Close(fd) })
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: link}, PeerName: "eth0", PeerNamespace: netlink.NsFd(fd)}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("add veth %s: %v", link, err)
	}
	t.Cleanup(func() { _ = netlink.LinkDel(veth) })
	if err := addrUp(link, netip.PrefixFrom(uplinkAddr, 24)); err != nil {
		t.Fatal(err)
	}
	if err := ns.do(func() error { return addrUp("eth0", netip.PrefixFrom(clientAddr, 24)) }); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "client link up", func() bool {
		var up bool
		_ = ns.do(func() error { up = operUp("eth0"); return nil })
		return up && operUp(link)
	})
	return ns
}

// setUp sets link up in the calling thread's namespace.
func setUp(link string) error {
	l, err := netlink.LinkByName(link)
	if err == nil {
		err = netlink.LinkSetUp(l)
	}
	if err != nil {
		return fmt.Errorf("set %s up: %w", link, err)
	}
	return nil
}

// addrUp gives link address p and sets it up.
func addrUp(link string, p netip.Prefix) error {
	l, err := netlink.LinkByName(link)
	if err == nil {
		err = netlink.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}})
	}
	if err != nil {
		return fmt.Errorf("address %s on %s: %w", p, link, err)
	}
	return setUp(link)
}

// operUp reports whether link's carrier is on (packets sent before are
// dropped).
func operUp(link string) bool {
	l, err := netlink.LinkByName(link)
	return err == nil && l.Attrs().OperState == netlink.OperUp
}

const dialTimeout = 700 * time.Millisecond

// ask connects from ns to addr over proto and returns what the server
// answered (the echo server answers the address it saw).
func ask(ns netns, proto string, addr netip.AddrPort) (string, error) {
	var c net.Conn
	err := ns.do(func() error {
		var err error
		c, err = net.DialTimeout(proto, addr.String(), dialTimeout)
		return err
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	if _, err := c.Write([]byte("?\n")); err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(dialTimeout))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		return "", fmt.Errorf("read from %s/%s: %w", addr, proto, err)
	}
	return strings.TrimSpace(string(buf[:n])), nil
}

// wantAnswer checks that addr answers from ns, within 5 seconds (the
// first packets may meet a link whose carrier is not on yet).
func wantAnswer(t *testing.T, what string, ns netns, proto string, addr netip.AddrPort) string {
	t.Helper()
	var got string
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if got, err = ask(ns, proto, addr); err == nil {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("%s: %s/%s: %v", what, addr, proto, err)
	return ""
}

// wantNoAnswer checks that addr does not answer from ns.
func wantNoAnswer(t *testing.T, what string, ns netns, proto string, addr netip.AddrPort) {
	t.Helper()
	if got, err := ask(ns, proto, addr); err == nil {
		t.Errorf("%s: %s/%s answered (server saw %s), want no way through", what, addr, proto, got)
	}
}

// portRules counts the rules of chain "ports" in table (family inet),
// -1 when the table does not exist.
func portRules(t *testing.T, table string) int {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tbl := &nftables.Table{Name: table, Family: nftables.TableFamilyINet}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, x := range tables {
		found = found || x.Name == table
	}
	if !found {
		return -1
	}
	rules, err := c.GetRules(tbl, &nftables.Chain{Name: "ports", Table: tbl})
	if err != nil {
		t.Fatalf("list rules of %s: %v", table, err)
	}
	return len(rules)
}

// deleteTable removes table, as if the kernel had lost it.
func deleteTable(t *testing.T, table string) {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	c.DelTable(&nftables.Table{Name: table, Family: nftables.TableFamilyINet})
	if err := c.Flush(); err != nil {
		t.Fatalf("delete table %s: %v", table, err)
	}
}

// echoSrc answers each TCP connection and UDP datagram on the ports of
// its arguments with the address it came from.
const echoSrc = `package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	for _, p := range os.Args[1:] {
		ln, err := net.Listen("tcp", ":"+p)
		if err != nil {
			panic(err)
		}
		pc, err := net.ListenPacket("udp", ":"+p)
		if err != nil {
			panic(err)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
				fmt.Fprintln(c, host)
				c.Close()
			}
		}()
		go func() {
			buf := make([]byte, 64)
			for {
				_, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				host, _, _ := net.SplitHostPort(from.String())
				pc.WriteTo([]byte(host+"\n"), from)
			}
		}()
	}
	fmt.Println("ready")
	select {}
}
`

var echoBin struct {
	once sync.Once
	path string
	err  error
}

// echoBinary is the echo server, built once.
func echoBinary(t *testing.T) string {
	t.Helper()
	echoBin.once.Do(func() { echoBin.path, echoBin.err = goBuild("", "echo", echoSrc) })
	if echoBin.err != nil {
		t.Fatal(echoBin.err)
	}
	return echoBin.path
}
