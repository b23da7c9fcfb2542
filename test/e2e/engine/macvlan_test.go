package engine_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/corral-dev/corral/testutil"
	"github.com/corral-dev/corral/testutil/nettopo"
)

// Macvlan networks: the parent is the sandbox's end of a veth whose other
// end is in a client namespace on the same segment (10.221.0.0/24 and
// fd00:221::/64, the client being the gateway .1 and ::1), so containers
// and the client reach each other directly, without NAT.

var (
	mvSubnet  = netip.MustParsePrefix("10.221.0.0/24")
	mvSubnet6 = netip.MustParsePrefix("fd00:221::/64")
	mvClient  = netip.MustParseAddr("10.221.0.1")
	mvClient6 = netip.MustParseAddr("fd00:221::1")
)

// newMacvlanTopo is an engine, the client namespace on the segment of
// parent tmvpar0, and a dual stack macvlan network n on it.
func newMacvlanTopo(t *testing.T) (e *engine, client nettopo.Netns, n string) {
	t.Helper()
	testutil.RequireRoot(t)
	if !testutil.InSandbox() {
		t.Skip("needs the test sandbox's network namespace")
	}
	e = newEngineArgs(t, "--bridge", "tmv0", "--bip", "10.220.0.1/24")
	client = nettopo.New(t)
	nettopo.Veth(t, "tmvpar0", client, "eth0")
	nettopo.AddrUp(t, client, "eth0", netip.PrefixFrom(mvClient, 24), netip.PrefixFrom(mvClient6, 64))
	nettopo.WaitUp(t, client, "eth0")
	n = e.netName(t)
	e.ok(t, "network", "create", "-d", "macvlan", "-o", "parent=tmvpar0", "-o", "macvlan_mode=bridge",
		"--subnet", mvSubnet.String(), "--gateway", mvClient.String(),
		"--ipv6", "--subnet", mvSubnet6.String(), "--gateway", mvClient6.String(), n)
	return e, client, n
}

func TestMacvlan(t *testing.T) {
	e, client, n := newMacvlanTopo(t)
	t.Run("Segment", func(t *testing.T) { testMacvlanSegment(t, e, client, n) })
	t.Run("ConnectDisconnect", func(t *testing.T) { testMacvlanConnect(t, e, n) })
	t.Run("Internal", func(t *testing.T) { testMacvlanInternal(t, e) })
	t.Run("BadInput", func(t *testing.T) { testMacvlanBadInput(t, e, n) })
	t.Run("Restart", func(t *testing.T) { testMacvlanRestart(t, e, client, n) })
}

// A daemon killed with SIGKILL and started again keeps a running macvlan
// container's endpoint, which still answers; rm takes it.
func testMacvlanRestart(t *testing.T, e *engine, client nettopo.Netns, n string) {
	a := e.echo(t, []string{"--network", n}, "7000")
	ip := e.ipOn(t, a, n)
	e.kill9(t)
	e.restart(t)
	if got := e.ipOn(t, a, n); got != ip {
		t.Errorf("address after restart %s, want %s", got, ip)
	}
	nettopo.WantAnswer(t, "client to container after restart", client, "tcp", at(ip, 7000))
	e.ok(t, "rm", "-f", a)
	nettopo.WantNoAnswer(t, "client to removed container", client, "tcp", at(ip, 7000))
	if out := e.ok(t, "network", "inspect", "-f", "{{len .Containers}}", n); strings.TrimSpace(out) != "0" {
		t.Errorf("endpoints after rm: %s", out)
	}
}

// Containers on the macvlan network are reached from the client by their
// own addresses (TCP over IPv4 and IPv6; the server sees the client's
// address, so no NAT), reach the client and each other, and cost no
// veth and no port rule.
func testMacvlanSegment(t *testing.T, e *engine, client nettopo.Netns, n string) {
	veths, rules := vethCount(t), portRules(t, "corral_tmv0")
	a := e.echo(t, []string{"--network", n, "-p", "18400:7000"}, "7000")
	b := e.runD(t, "--network", n, "busybox", "sleep", "600")
	ip := e.ipOn(t, a, n)
	es := e.inspect(t, a).NetworkSettings.Networks[n]
	if !mvSubnet.Contains(ip) || !mvSubnet6.Contains(es.GlobalIPv6Address) || es.IPv6Gateway != mvClient6 || es.Gateway != mvClient {
		t.Errorf("endpoint settings: %+v", es)
	}
	if got := nettopo.WantAnswer(t, "client to container", client, "tcp", at(ip, 7000)); got != mvClient.String() {
		t.Errorf("container saw %q, want the client's own %s", got, mvClient)
	}
	if got := nettopo.WantAnswer(t, "client to container over IPv6", client, "tcp", at(es.GlobalIPv6Address, 7000)); got != mvClient6.String() {
		t.Errorf("container saw %q, want %s", got, mvClient6)
	}
	e.ok(t, "exec", b, "ping", "-c1", "-W2", mvClient.String())
	e.ok(t, "exec", b, "ping", "-c1", "-W2", ip.String())
	nettopo.Serve(t, client, 9400)
	ipb := e.ipOn(t, b, n)
	if got := e.ok(t, "exec", b, "sh", "-c", fmt.Sprintf("nc -w 2 %s 9400 </dev/null", mvClient)); strings.TrimSpace(got) != ipb.String() {
		t.Errorf("the client saw %q, want the container's own %s", got, ipb)
	}
	if got := vethCount(t); got != veths {
		t.Errorf("veths %d, want %d: macvlan endpoints need none", got, veths)
	}
	if got := portRules(t, "corral_tmv0"); got != rules {
		t.Errorf("port rules %d, want %d: ports are not published on macvlan", got, rules)
	}
	if out := e.ok(t, "port", a); strings.TrimSpace(out) != "" {
		t.Errorf("port on macvlan: %q, want none", out)
	}
	opts := e.ok(t, "network", "inspect", "-f", `{{.Driver}} {{index .Options "parent"}} {{.EnableIPv6}}`, n)
	if strings.TrimSpace(opts) != "macvlan tmvpar0 true" {
		t.Errorf("network inspect: %q", opts)
	}
}

// Connect and disconnect on a running container add and remove its
// macvlan link at once.
func testMacvlanConnect(t *testing.T, e *engine, n string) {
	c := e.runD(t, "busybox", "sleep", "600")
	e.ok(t, "network", "connect", n, c)
	ip := e.ipOn(t, c, n)
	if out := e.ok(t, "exec", c, "ip", "-o", "addr", "show", "eth1"); !strings.Contains(out, ip.String()+"/24") {
		t.Errorf("eth1 after connect: %q, want %s", out, ip)
	}
	e.ok(t, "exec", c, "ping", "-c1", "-W2", mvClient.String())
	e.ok(t, "network", "disconnect", n, c)
	if r := e.docker(t, "", "exec", c, "ip", "link", "show", "eth1"); r.code == 0 {
		t.Errorf("eth1 still there after disconnect: %s", r.stdout)
	}
	if out := e.ok(t, "network", "inspect", "-f", "{{len .Containers}}", n); strings.TrimSpace(out) != "0" {
		t.Errorf("endpoints after disconnect: %s", out)
	}
}

// An internal macvlan network without a parent: its containers reach
// each other, and nothing else.
func testMacvlanInternal(t *testing.T, e *engine) {
	n := e.netName(t)
	e.ok(t, "network", "create", "-d", "macvlan", "--internal", n)
	a := e.runD(t, "--network", n, "busybox", "sleep", "600")
	b := e.runD(t, "--network", n, "busybox", "sleep", "600")
	e.ok(t, "exec", b, "ping", "-c1", "-W2", e.ipOn(t, a, n).String())
	if r := e.docker(t, "", "exec", b, "ping", "-c1", "-W1", mvClient.String()); r.code == 0 {
		t.Errorf("internal macvlan reached the client: %v", r)
	}
}

// Unknown parents, a parent taken, a bad mode: clear errors; a start
// whose parent has gone fails and leaves no endpoint.
func testMacvlanBadInput(t *testing.T, e *engine, taken string) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", "parent=nosuch0"}, "parent interface was not found on the host: nosuch0"},
		{[]string{"-o", "parent=tmvpar0"}, "network " + taken + " is already using parent interface tmvpar0"},
		{[]string{"-o", "macvlan_mode=sideways"}, `macvlan mode "sideways" is not valid`},
	} {
		n := e.netName(t)
		out := e.fails(t, 1, append(append([]string{"network", "create", "-d", "macvlan"}, tc.args...), n)...)
		if !strings.Contains(out, tc.want) {
			t.Errorf("create %v: %q, want %q", tc.args, out, tc.want)
		}
	}
	client := nettopo.New(t)
	nettopo.Veth(t, "tmvgone0", client, "eth0")
	n := e.netName(t)
	e.ok(t, "network", "create", "-d", "macvlan", "-o", "parent=tmvgone0", n)
	if err := deleteLink("tmvgone0"); err != nil {
		t.Fatal(err)
	}
	name := e.name(t)
	out := e.fails(t, 125, "run", "-d", "--name", name, "--network", n, "busybox", "sleep", "600")
	if !strings.Contains(out, "tmvgone0") {
		t.Errorf("start without its parent: %q, want the parent named", out)
	}
	if out := e.ok(t, "network", "inspect", "-f", "{{len .Containers}}", n); strings.TrimSpace(out) != "0" {
		t.Errorf("endpoints after a failed start: %s", out)
	}
}

// TestMacvlanMeasure times run --rm on the macvlan network beside the
// default bridge (median of 20 each), and TCP connections per second from
// the client to a macvlan container beside a listener in the sandbox on
// the client's veth (the same hop, no container). CORRAL_MEASURE=1 runs it.
func TestMacvlanMeasure(t *testing.T) {
	if os.Getenv("CORRAL_MEASURE") == "" {
		t.Skip("CORRAL_MEASURE=1 runs the measurements")
	}
	e, client, n := newMacvlanTopo(t)
	median := func(args ...string) time.Duration {
		var ds []time.Duration
		for range 20 {
			start := time.Now()
			e.ok(t, append([]string{"run", "--rm"}, args...)...)
			ds = append(ds, time.Since(start))
		}
		slices.Sort(ds)
		return ds[10]
	}
	mv, br := median("--network", n, "busybox", "true"), median("busybox", "true")
	t.Logf("run --rm: macvlan median %v, default bridge %v (%.2fx)", mv, br, float64(mv)/float64(br))
	c := e.echo(t, []string{"--network", n}, "7000")
	toCtr := connRate(t, client, at(e.ipOn(t, c, n), 7000))
	ln, err := net.Listen("tcp", "[::]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go nettopo.AnswerTCP(ln)
	nettopo.AddrUp(t, nettopo.Netns{}, "tmvpar0", netip.MustParsePrefix("10.221.0.250/24"))
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	toHost := connRate(t, client, at(netip.MustParseAddr("10.221.0.250"), port))
	t.Logf("connections/s from the client: to the macvlan container %.0f, to a listener on the parent itself %.0f (%.2fx)",
		toCtr, toHost, toCtr/toHost)
}
