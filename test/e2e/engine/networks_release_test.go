package engine_test

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/corral-dev/corral/testutil/nettopo"
)

// An exit deletes its veth pairs in the background and only then gives
// the addresses back (daemon/ctr_release.go): a container started again,
// or a new one asking for the same address at once, must get a working
// interface, never one a late delete takes away.
func TestEndpointReleaseRaces(t *testing.T) {
	e := newEngineArgs(t, "--bridge", "trl0", "--bip", "10.216.0.1/24")
	n := e.netName(t)
	e.ok(t, "network", "create", "--subnet", "10.217.0.0/24", n)
	peer := e.runD(t, "--network", n, "busybox", "sleep", "600")
	veths := vethCount(t)
	const ip = "10.217.0.50"
	for i := range 5 {
		// run --rm returns once the container is removed: its address may
		// still be held by the release under way, which the next run waits for.
		e.ok(t, "run", "--rm", "--network", n, "--ip", ip, "busybox", "true")
		c := e.runD(t, "--network", n, "--ip", ip, "busybox", "sleep", "600")
		if got := e.ipOn(t, c, n); got.String() != ip {
			t.Fatalf("round %d: address %s, want %s", i, got, ip)
		}
		reachable(t, e, peer, ip, fmt.Sprintf("round %d: new container at the released address", i))
		e.ok(t, "restart", "-t", "0", c)
		reachable(t, e, peer, ip, fmt.Sprintf("round %d: the same container started again", i))
		e.ok(t, "rm", "-f", c)
	}
	// A container on several networks takes a while to release (a pair
	// after the other, then the addresses): its address asked for again at
	// once is waited for, not refused.
	var extra []string
	for range 6 {
		x := e.netName(t)
		e.ok(t, "network", "create", x)
		extra = append(extra, x)
	}
	for i := range 3 {
		c := e.runD(t, "--network", n, "--ip", ip, "busybox", "sleep", "600")
		for _, x := range extra {
			e.ok(t, "network", "connect", x, c)
		}
		e.ok(t, "rm", "-f", c)
		c = e.runD(t, "--network", n, "--ip", ip, "busybox", "sleep", "600")
		reachable(t, e, peer, ip, fmt.Sprintf("round %d: the address of a container on 7 networks, at once", i))
		e.ok(t, "rm", "-f", c)
	}
	// The pairs go all the same, and a network's removal waits for them.
	eventually(t, 5*time.Second, "the veths of the removed containers gone", func() bool { return vethCount(t) == veths })
	gone := e.netName(t)
	e.ok(t, "network", "create", gone)
	e.ok(t, "run", "--rm", "--network", gone, "busybox", "true")
	e.ok(t, "network", "rm", gone)
}

// reachable checks that container from reaches ip: a veth pair left on
// the bridge with the address's MAC would take the answers.
func reachable(t *testing.T, e *engine, from, ip, what string) {
	t.Helper()
	if r := e.docker(t, "", "exec", from, "ping", "-c1", "-W2", ip); r.code != 0 {
		t.Fatalf("%s: ping %s: %v", what, ip, r)
	}
}

// A random host port (-p container, -P) is chosen afresh at each start:
// when the old one was taken meanwhile, the container gets another one
// rather than failing, as docker's does. Published ports come back after
// the daemon is killed and started again, at the same host ports.
func TestRandomPortsReplanned(t *testing.T) {
	e, client := newPortsEngine(t)
	c := e.echo(t, []string{"--expose", "7001", "-P", "-p", "7000"}, "7000", "7001")
	old := publishedPort(t, e, c, "7000")
	nettopo.WantAnswer(t, "random port", client, "tcp", at(nettopo.UplinkAddr, old))
	e.ok(t, "stop", "-t", "1", c)
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", old))
	if err != nil {
		t.Fatalf("take the old port %d: %v", old, err)
	}
	defer ln.Close()
	e.ok(t, "start", c)
	eventually(t, 10*time.Second, c+" listens again", func() bool {
		return strings.Count(e.docker(t, "", "logs", c).stdout, "ready") >= 2
	})
	next := publishedPort(t, e, c, "7000")
	if next == old {
		t.Fatalf("started again on port %d, which the host holds", old)
	}
	nettopo.WantAnswer(t, "new random port", client, "tcp", at(nettopo.UplinkAddr, next))
	other := publishedPort(t, e, c, "7001")
	e.kill9(t)
	e.restart(t)
	if got := publishedPort(t, e, c, "7000"); got != next {
		t.Errorf("after the daemon's restart port %d, want %d", got, next)
	}
	nettopo.WantAnswer(t, "random port after the daemon's restart", client, "tcp", at(nettopo.UplinkAddr, next))
	nettopo.WantAnswer(t, "-P port after the daemon's restart", client, "tcp", at(nettopo.UplinkAddr, other))
}

// publishedPort is the host port container c publishes port on, from
// `docker port`.
func publishedPort(t *testing.T, e *engine, c, port string) uint16 {
	t.Helper()
	out := e.ok(t, "port", c, port)
	ap, err := netip.ParseAddrPort(strings.TrimSpace(out))
	if err != nil || ap.Port() < 32768 || ap.Port() > 60999 {
		t.Fatalf("port %s %s: %q (%v), want an ephemeral port", c, port, out, err)
	}
	return ap.Port()
}
