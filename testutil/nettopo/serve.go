package nettopo

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// Serve listens in ns on port, TCP and UDP on every address, and answers
// each connection and datagram with the address it came from.
func Serve(t testing.TB, ns Netns, port int) {
	t.Helper()
	var ln net.Listener
	var pc net.PacketConn
	err := ns.Do(func() error {
		var err error
		if ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port)); err != nil {
			return err
		}
		pc, err = net.ListenPacket("udp", fmt.Sprintf(":%d", port))
		return err
	})
	if err != nil {
		t.Fatalf("listen on %d: %v", port, err)
	}
	t.Cleanup(func() { ln.Close(); pc.Close() })
	go AnswerTCP(ln)
	go AnswerUDP(pc)
}

// AnswerTCP answers each connection on ln with the address it came from,
// until ln is closed.
func AnswerTCP(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		fmt.Fprintln(c, host)
		c.Close()
	}
}

// AnswerUDP answers each datagram on pc with the address it came from,
// until pc is closed.
func AnswerUDP(pc net.PacketConn) {
	buf := make([]byte, 64)
	for {
		_, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		host, _, _ := net.SplitHostPort(from.String())
		_, _ = pc.WriteTo([]byte(host+"\n"), from)
	}
}

// DialTimeout bounds each connection and read of Ask.
const DialTimeout = 700 * time.Millisecond

// Ask connects from ns to addr over proto ("tcp" or "udp") and returns
// what the server answered (Serve's and EchoSrc's: the address they saw).
func Ask(ns Netns, proto string, addr netip.AddrPort) (string, error) {
	var c net.Conn
	err := ns.Do(func() error {
		var err error
		c, err = net.DialTimeout(proto, addr.String(), DialTimeout)
		return err
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	if proto == "udp" {
		if _, err := c.Write([]byte("?\n")); err != nil {
			return "", err
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(DialTimeout))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		return "", fmt.Errorf("read from %s/%s: %w", addr, proto, err)
	}
	return strings.TrimSpace(string(buf[:n])), nil
}

// WantAnswer checks that addr answers from ns within 5 seconds (the first
// packets may meet a link whose carrier is not on yet) and returns the
// answer; "" after reporting an error.
func WantAnswer(t testing.TB, what string, ns Netns, proto string, addr netip.AddrPort) string {
	t.Helper()
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var got string
		if got, err = Ask(ns, proto, addr); err == nil {
			return got
		}
	}
	t.Errorf("%s: %s/%s: %v", what, addr, proto, err)
	return ""
}

// WantNoAnswer checks that addr does not answer from ns.
func WantNoAnswer(t testing.TB, what string, ns Netns, proto string, addr netip.AddrPort) {
	t.Helper()
	if got, err := Ask(ns, proto, addr); err == nil {
		t.Errorf("%s: %s/%s answered (server saw %s), want no way through", what, addr, proto, got)
	}
}
