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

// Published ports, outbound NAT and isolation, seen from an outside client
// namespace, from the sandbox's loopback and from the containers. The
// engine's default network is on bridge tpt0, 10.215.0.0/24; its rules are
// in table inet corral_tpt0.

const portsTable = "corral_tpt0"

var portsGateway = netip.MustParseAddr("10.215.0.1")

func newPortsEngine(t *testing.T) (*engine, nettopo.Netns) {
	t.Helper()
	testutil.RequireRoot(t)
	if !testutil.InSandbox() {
		t.Skip("needs the test sandbox's network namespace")
	}
	e := newEngineArgs(t, "--bridge", "tpt0", "--bip", portsGateway.String()+"/24")
	return e, nettopo.Client(t, "tptup0")
}

func TestPorts(t *testing.T) {
	e, client := newPortsEngine(t)
	t.Run("Publish", func(t *testing.T) { testPublish(t, e, client) })
	t.Run("PublishAll", func(t *testing.T) { testPublishAll(t, e, client) })
	t.Run("InUse", func(t *testing.T) { testPortInUse(t, e) })
	t.Run("Isolation", func(t *testing.T) { testIsolation(t, e, client) })
	t.Run("RulesFollowContainers", func(t *testing.T) { testRulesFollow(t, e, client) })
}

// echo runs the echo server on ports in a detached container with args
// and waits until it listens.
func (e *engine) echo(t *testing.T, args []string, ports ...string) string {
	t.Helper()
	run := append(append([]string{"-v", echoBinary(t) + ":/echo:ro"}, args...), "busybox", "/echo")
	c := e.runD(t, append(run, ports...)...)
	eventually(t, 10*time.Second, c+" listens", func() bool {
		return strings.Contains(e.docker(t, "", "logs", c).stdout, "ready")
	})
	return c
}

func at(ip netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(ip, port) }

// -p host:container (tcp, udp, a range, an address) reached from the
// client namespace, from 127.0.0.1 and from the container itself
// (hairpin); inspect, port and ps show the bindings.
func testPublish(t *testing.T, e *engine, client nettopo.Netns) {
	c := e.echo(t, []string{"-p", "18080:7000", "-p", "18081:7001/udp", "-p", "18090-18091:7002-7003",
		"-p", "127.0.0.1:18082:7000"}, "7000", "7001", "7002", "7003")
	if got := nettopo.WantAnswer(t, "client to published port", client, "tcp", at(nettopo.UplinkAddr, 18080)); got != nettopo.ClientAddr.String() {
		t.Errorf("the container saw the client as %q, want %s", got, nettopo.ClientAddr)
	}
	nettopo.WantAnswer(t, "127.0.0.1 to published port", nettopo.Netns{}, "tcp", at(netip.MustParseAddr("127.0.0.1"), 18080))
	nettopo.WantAnswer(t, "127.0.0.1 to a port published on 127.0.0.1", nettopo.Netns{}, "tcp", at(netip.MustParseAddr("127.0.0.1"), 18082))
	nettopo.WantNoAnswer(t, "client to a port published on 127.0.0.1", client, "tcp", at(nettopo.UplinkAddr, 18082))
	if got := nettopo.WantAnswer(t, "client to udp port", client, "udp", at(nettopo.UplinkAddr, 18081)); got != nettopo.ClientAddr.String() {
		t.Errorf("udp: the container saw %q, want %s", got, nettopo.ClientAddr)
	}
	nettopo.WantNoAnswer(t, "tcp on a udp-only port", client, "tcp", at(nettopo.UplinkAddr, 18081))
	for _, p := range []uint16{18090, 18091} {
		nettopo.WantAnswer(t, "client to a port of a range", client, "tcp", at(nettopo.UplinkAddr, p))
	}
	hairpin := e.ok(t, "exec", c, "sh", "-c", fmt.Sprintf("sleep 1 | nc %s 18080", portsGateway))
	if strings.TrimSpace(hairpin) != portsGateway.String() {
		t.Errorf("hairpin: the container saw itself as %q, want %s", hairpin, portsGateway)
	}
	checkPortViews(t, e, c)
}

// checkPortViews compares port, ps and inspect, through docker and corral.
func checkPortViews(t *testing.T, e *engine, c string) {
	t.Helper()
	want := "0.0.0.0:18080\n127.0.0.1:18082\n"
	if out := e.ok(t, "port", c, "7000"); out != want {
		t.Errorf("docker port %s 7000: %q, want %q", c, out, want)
	}
	if out := e.corralOK(t, "", "port", c, "7000"); out != want {
		t.Errorf("corral port %s 7000: %q, want %q", c, out, want)
	}
	all := e.ok(t, "port", c)
	for _, l := range []string{"7000/tcp -> 0.0.0.0:18080", "7001/udp -> 0.0.0.0:18081", "7003/tcp -> 0.0.0.0:18091"} {
		if !strings.Contains(all, l) {
			t.Errorf("docker port %s lacks %q:\n%s", c, l, all)
		}
	}
	if ours := e.corralOK(t, "", "port", c); ours != all {
		t.Errorf("corral port:\n%s\ndocker port:\n%s", ours, all)
	}
	ps := e.ok(t, "ps", "--filter", "name="+c, "--format", "{{.Ports}}")
	for _, p := range []string{"0.0.0.0:18080->7000/tcp", "127.0.0.1:18082->7000/tcp", "0.0.0.0:18081->7001/udp", "0.0.0.0:18090->7002/tcp", "0.0.0.0:18091->7003/tcp"} {
		if !strings.Contains(ps, p) {
			t.Errorf("ps PORTS %q lacks %s", ps, p)
		}
	}
	if ours := e.corralOK(t, "", "ps", "--filter", "name="+c, "--format", "{{.Ports}}"); ours != ps {
		t.Errorf("corral ps PORTS %q, docker's %q", ours, ps)
	}
}

// -P publishes every exposed port on a random host port, -p container
// one too; port shows which.
func testPublishAll(t *testing.T, e *engine, client nettopo.Netns) {
	c := e.echo(t, []string{"--expose", "7000", "-P", "-p", "7001"}, "7000", "7001")
	for _, p := range []string{"7000", "7001"} {
		out := e.ok(t, "port", c, p)
		ap, err := netip.ParseAddrPort(strings.TrimSpace(out))
		if err != nil || ap.Addr() != netip.IPv4Unspecified() || ap.Port() < 32768 || ap.Port() > 60999 {
			t.Fatalf("port %s %s: %q (%v), want 0.0.0.0 and an ephemeral port", c, p, out, err)
		}
		nettopo.WantAnswer(t, "client to a random port", client, "tcp", at(nettopo.UplinkAddr, ap.Port()))
	}
	// corral's own run -p, on the same API.
	n := e.name(t)
	e.corralOK(t, "", "run", "-d", "--name", n, "-v", echoBinary(t)+":/echo:ro", "-p", "18130:7000/tcp", "busybox", "/echo", "7000")
	nettopo.WantAnswer(t, "client to corral run -p", client, "tcp", at(nettopo.UplinkAddr, 18130))
	if out := e.corralOK(t, "", "port", n); out != "7000/tcp -> 0.0.0.0:18130\n" {
		t.Errorf("corral port %s: %q", n, out)
	}
	if out := e.ok(t, "inspect", "-f", "{{json .NetworkSettings.Ports}}", c); !strings.Contains(out, `"7000/tcp":[{"HostIp":"0.0.0.0","HostPort":"`) {
		t.Errorf("inspect Ports: %s", out)
	}
}

// A host port already in use (by a process of the host, or by another
// container) refuses the start and leaves no veth, rule or address.
func testPortInUse(t *testing.T, e *engine) {
	ln, err := net.Listen("tcp", ":18100")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	vethsBefore, rulesBefore := vethCount(t), portRules(t, portsTable)
	n := e.name(t)
	r := e.docker(t, "", "run", "-d", "--name", n, "-p", "18100:7000", "busybox", "sleep", "600")
	if r.code != 125 || !strings.Contains(r.stderr, "0.0.0.0:18100/tcp failed: address already in use") {
		t.Errorf("port held by the host: %v", r)
	}
	a := e.runD(t, "-p", "18101:7000", "busybox", "sleep", "600")
	rulesA := portRules(t, portsTable)
	n2 := e.name(t)
	r = e.docker(t, "", "run", "-d", "--name", n2, "-p", "18101:7000", "busybox", "sleep", "600")
	if r.code != 125 || !strings.Contains(r.stderr, "port is already allocated") {
		t.Errorf("port held by %s: %v", a, r)
	}
	t.Logf("docker run's error: %s", r.stderr)
	for _, c := range []string{n, n2} {
		if st := e.inspect(t, c).State; st.Running || st.ExitCode != 128 {
			t.Errorf("%s after a refused start: %+v", c, st)
		}
	}
	if got := vethCount(t); got != vethsBefore+1 {
		t.Errorf("veths %d, want %d (one for %s)", got, vethsBefore+1, a)
	}
	if got := portRules(t, portsTable); got != rulesA || rulesA != rulesBefore+1 {
		t.Errorf("port rules %d before, %d with %s, %d after the refusals", rulesBefore, rulesA, a, got)
	}
	if out := e.ok(t, "network", "inspect", "-f", "{{len .Containers}}", "bridge"); strings.TrimSpace(out) != "1" {
		t.Errorf("bridge endpoints after the refusals: %s, want 1 (%s)", out, a)
	}
}

// Containers go out masqueraded, except on an --internal network; two user
// networks cannot reach each other.
func testIsolation(t *testing.T, e *engine, client nettopo.Netns) {
	nettopo.Serve(t, client, 9000)
	n1, n2, in := e.netName(t), e.netName(t), e.netName(t)
	e.ok(t, "network", "create", n1)
	e.ok(t, "network", "create", n2)
	e.ok(t, "network", "create", "--internal", in)
	out := fmt.Sprintf("sleep 1 | nc -w 2 %s 9000", nettopo.ClientAddr)
	def := e.runD(t, "busybox", "sleep", "600")
	if got := e.ok(t, "exec", def, "sh", "-c", out); strings.TrimSpace(got) != nettopo.UplinkAddr.String() {
		t.Errorf("default bridge out: the client saw %q, want %s (masquerade)", got, nettopo.UplinkAddr)
	}
	a := e.echo(t, []string{"--network", n1}, "7000")
	if got := e.ok(t, "exec", a, "sh", "-c", out); strings.TrimSpace(got) != nettopo.UplinkAddr.String() {
		t.Errorf("user network out: the client saw %q, want %s", got, nettopo.UplinkAddr)
	}
	b := e.runD(t, "--network", n2, "busybox", "sleep", "600")
	ipa := e.ipOn(t, a, n1)
	if r := e.docker(t, "", "exec", b, "sh", "-c", fmt.Sprintf("sleep 1 | nc -w 2 %s 7000", ipa)); r.code == 0 && r.stdout != "" {
		t.Errorf("%s on %s reached %s on %s: %v", b, n2, a, n1, r)
	}
	same := e.runD(t, "--network", n1, "busybox", "sleep", "600")
	if got := e.ok(t, "exec", same, "sh", "-c", fmt.Sprintf("sleep 1 | nc -w 2 %s 7000", ipa)); strings.TrimSpace(got) == "" {
		t.Errorf("same network: no answer")
	}
	i := e.runD(t, "--network", in, "busybox", "sleep", "600")
	if r := e.docker(t, "", "exec", i, "sh", "-c", out); r.code == 0 && r.stdout != "" {
		t.Errorf("--internal network reached the client: %v", r)
	}
}

// A container's rules go when it stops and when it is removed, and come
// back with a daemon killed with SIGKILL and started again, even when the
// table was lost meanwhile.
func testRulesFollow(t *testing.T, e *engine, client nettopo.Netns) {
	before := portRules(t, portsTable)
	c := e.echo(t, []string{"-p", "18110:7000", "-p", "18111:7001"}, "7000", "7001")
	if got := portRules(t, portsTable); got != before+2 {
		t.Fatalf("rules %d with %s, want %d", got, c, before+2)
	}
	e.ok(t, "stop", "-t", "1", c)
	if got := portRules(t, portsTable); got != before {
		t.Errorf("rules %d after stop, want %d", got, before)
	}
	if out := e.ok(t, "inspect", "-f", "{{json .NetworkSettings.Ports}}", c); strings.TrimSpace(out) != "{}" {
		t.Errorf("stopped container's ports: %s", out)
	}
	e.ok(t, "start", c)
	nettopo.WantAnswer(t, "after start again", client, "tcp", at(nettopo.UplinkAddr, 18110))
	e.kill9(t)
	deleteTable(t, portsTable)
	nettopo.WantNoAnswer(t, "without the table", client, "tcp", at(nettopo.UplinkAddr, 18110))
	e.restart(t)
	if got := portRules(t, portsTable); got != before+2 {
		t.Errorf("rules %d after the restart, want %d", got, before+2)
	}
	nettopo.WantAnswer(t, "after the daemon's restart", client, "tcp", at(nettopo.UplinkAddr, 18111))
	e.ok(t, "rm", "-f", c)
	if got := portRules(t, portsTable); got != before {
		t.Errorf("rules %d after rm, want %d", got, before)
	}
	nettopo.WantNoAnswer(t, "after rm", client, "tcp", at(nettopo.UplinkAddr, 18110))
}

// TestPortsMeasure times run --rm on the default bridge (median of 20)
// and TCP connections per second through a published port from the
// client namespace against the container's address from the sandbox.
// CORRAL_MEASURE=1 runs it.
func TestPortsMeasure(t *testing.T) {
	if os.Getenv("CORRAL_MEASURE") == "" {
		t.Skip("CORRAL_MEASURE=1 runs the measurements")
	}
	e, client := newPortsEngine(t)
	var ds []time.Duration
	for range 20 {
		start := time.Now()
		e.ok(t, "run", "--rm", "busybox", "true")
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	t.Logf("run --rm on the default bridge: median %v (min %v, max %v)", ds[10], ds[0], ds[19])
	c := e.echo(t, []string{"-p", "18120:7000"}, "7000")
	ip := e.ipOn(t, c, "bridge")
	pub, lo := connRate(t, client, at(nettopo.UplinkAddr, 18120)), connRate(t, nettopo.Netns{}, at(netip.MustParseAddr("127.0.0.1"), 18120))
	direct := connRate(t, nettopo.Netns{}, at(ip, 7000))
	ln, err := net.Listen("tcp", nettopo.UplinkAddr.String()+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go nettopo.AnswerTCP(ln)
	hop := connRate(t, client, netip.MustParseAddrPort(ln.Addr().String()))
	t.Logf("connections/s: published from the client %.0f (%.2fx direct), published on 127.0.0.1 %.0f (%.2fx), "+
		"direct from the sandbox to %s %.0f; client to a listener in the sandbox (no NAT, the veth hop only) %.0f (%.2fx direct)",
		pub, pub/direct, lo, lo/direct, ip, direct, hop, hop/direct)
}

// connRate is the rate of sequential TCP connections (each answered)
// from ns to addr over 2 seconds, dialled from one thread in ns.
func connRate(t *testing.T, ns nettopo.Netns, addr netip.AddrPort) float64 {
	t.Helper()
	var n int
	var elapsed time.Duration
	err := ns.Do(func() error {
		start := time.Now()
		for ; time.Since(start) < 2*time.Second; n++ {
			if err := dialRead(addr); err != nil {
				return err
			}
		}
		elapsed = time.Since(start)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return float64(n) / elapsed.Seconds()
}

// dialRead makes one connection to addr and reads the answer.
func dialRead(addr netip.AddrPort) error {
	c, err := net.DialTimeout("tcp", addr.String(), nettopo.DialTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 64)
	_, err = c.Read(buf)
	return err
}
