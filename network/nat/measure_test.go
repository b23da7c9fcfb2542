package nat_test

import (
	"context"
	"testing"
	"time"

	"github.com/corral-dev/corral/network/nat"
	"github.com/corral-dev/corral/testutil/nettopo"
)

// Measurements; go test -v prints the figures.

// TestApplyTime measures Apply for 1, 100 and 1000 mappings, on an empty
// table and over the same state (go test -v prints the figures).
func TestApplyTime(t *testing.T) {
	requireSandbox(t)
	br := newBridge(t, subnetA)
	fw := newFirewall(t)
	ctr := subnetA.Addr().Next().Next()
	for _, n := range []int{1, 100, 1000} {
		s := nat.State{Bridges: []nat.Bridge{{Name: br, Subnet: subnetA}}}
		for i := 0; i < n; i++ {
			s.Mappings = append(s.Mappings, nat.Mapping{Proto: "tcp", HostPort: uint16(20000 + i),
				ContainerIP: ctr, ContainerPort: 80})
		}
		if err := fw.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		apply(t, fw, s)
		fresh := time.Since(start)
		start = time.Now()
		apply(t, fw, s)
		again := time.Since(start)
		if got := ruleCount(t, fw.Table()); got < n {
			t.Fatalf("%d mappings: %d rules in the table", n, got)
		}
		t.Logf("Apply %4d mappings: %v on an empty table, %v replacing the same state", n, fresh, again)
	}
}

// TestConnectCost measures new tcp connections per second from the client
// namespace through a published port that is the only mapping, and that
// is the last of 1000 (the DNAT rules are a linear chain, evaluated on each
// connection's first packet only).
func TestConnectCost(t *testing.T) {
	requireSandbox(t)
	client := newClient(t)
	br := newBridge(t, subnetA)
	c := newContainer(t, br, subnetA, 0)
	nettopo.Serve(t, c.ns, serverPort)
	fw := newFirewall(t)
	for _, n := range []int{1, 1000} {
		s := nat.State{Bridges: []nat.Bridge{{Name: br, Subnet: subnetA}}}
		for i := n - 1; i >= 0; i-- {
			s.Mappings = append(s.Mappings, nat.Mapping{Proto: "tcp", HostPort: uint16(20000 + i),
				ContainerIP: c.ip, ContainerPort: serverPort})
		}
		apply(t, fw, s)
		const conns = 300
		start := time.Now()
		for range conns {
			if _, err := nettopo.Ask(client, "tcp", hostPort(uplinkHost, 20000)); err != nil {
				t.Fatalf("%d mappings: %v", n, err)
			}
		}
		el := time.Since(start)
		t.Logf("%4d mappings: %d connections in %v, %.0f/s", n, conns, el, conns/el.Seconds())
	}
}
