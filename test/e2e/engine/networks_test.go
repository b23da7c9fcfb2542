package engine_test

import (
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

// Networks run in the sandbox's network namespace, which the package's
// other engines share: this engine's default network gets a bridge and
// subnet of its own, and its user networks' subnets avoid the routes
// there (the other engines' corral0).

// newNetEngine is an engine whose default network is on bridge tcr0,
// 10.210.0.0/24.
func newNetEngine(t *testing.T) *engine {
	t.Helper()
	e := newEngineArgs(t, "--bridge", "tcr0", "--bip", "10.210.0.1/24")
	return e
}

func TestNetworks(t *testing.T) {
	e := newNetEngine(t)
	t.Run("Predefined", func(t *testing.T) { testPredefined(t, e) })
	t.Run("SameNetwork", func(t *testing.T) { testSameNetwork(t, e) })
	t.Run("DefaultBridge", func(t *testing.T) { testDefaultBridge(t, e) })
	t.Run("ConnectDisconnect", func(t *testing.T) { testConnectDisconnect(t, e) })
	t.Run("ConnectRacesExit", func(t *testing.T) { testConnectRacesExit(t, e) })
	t.Run("BadInput", func(t *testing.T) { testNetworkBadInput(t, e) })
	t.Run("ListFilters", func(t *testing.T) { testNetworkList(t, e) })
	t.Run("CorralCLI", func(t *testing.T) { testNetworkCorralCLI(t, e) })
	t.Run("LiveRestore", func(t *testing.T) { testNetworkRestore(t, e) })
}

// netName is a network name for t, removed when t ends.
func (e *engine) netName(t *testing.T) string {
	t.Helper()
	n := "n" + strings.ToLower(strings.ReplaceAll(e.name(t), "/", "-"))
	if len(n) > 40 {
		n = n[:40]
	}
	t.Cleanup(func() { e.docker(t, "", "network", "rm", n) })
	return n
}

// ipOn is the container's address on network net, from inspect.
func (e *engine) ipOn(t *testing.T, ctr, net string) netip.Addr {
	t.Helper()
	c := e.inspect(t, ctr)
	es := c.NetworkSettings.Networks[net]
	if es == nil || !es.IPAddress.IsValid() {
		t.Fatalf("%s has no address on %s: %+v", ctr, net, c.NetworkSettings.Networks)
	}
	return es.IPAddress
}

// vethsOf are the host ends of the veths in the sandbox named after an
// endpoint of the container (none once it stopped).
func vethCount(t *testing.T) int {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, i := range ifs {
		if strings.HasPrefix(i.Name, "veth") {
			n++
		}
	}
	return n
}

func testPredefined(t *testing.T, e *engine) {
	out := e.ok(t, "network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}")
	for _, want := range []string{"bridge bridge local", "host host local", "none null local"} {
		if !strings.Contains(out, want) {
			t.Errorf("network ls lacks %q:\n%s", want, out)
		}
	}
	sub := e.ok(t, "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{index .Options \"com.docker.network.bridge.name\"}}", "bridge")
	if strings.TrimSpace(sub) != "10.210.0.0/24 10.210.0.1 tcr0" {
		t.Errorf("bridge: %q", sub)
	}
	if _, err := net.InterfaceByName("tcr0"); err != nil {
		t.Errorf("default bridge link: %v", err)
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); err != nil || string(b) != "1\n" {
		t.Errorf("ip_forward in the daemon's namespace: %q, %v", b, err)
	}
	if out := e.fails(t, 1, "network", "rm", "bridge"); !strings.Contains(out, "bridge is a pre-defined network and cannot be removed") {
		t.Errorf("rm bridge: %s", out)
	}
}

// Two containers on one user network reach each other by address: ping
// and a TCP echo.
func testSameNetwork(t *testing.T, e *engine) {
	n := e.netName(t)
	e.ok(t, "network", "create", n)
	srv := e.runD(t, "--network", n, "busybox", "nc", "-ll", "-p", "7000", "-e", "sh", "-c", "read l; echo got-$l")
	cli := e.runD(t, "--network", n, "busybox", "sleep", "600")
	ip := e.ipOn(t, srv, n)
	sub := e.ok(t, "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", n)
	if p := netip.MustParsePrefix(strings.TrimSpace(sub)); !p.Contains(ip) || p.Overlaps(netip.MustParsePrefix("10.210.0.0/24")) {
		t.Errorf("address %s, subnet %s", ip, p)
	}
	e.ok(t, "exec", cli, "ping", "-c1", "-W2", ip.String())
	out := e.ok(t, "exec", cli, "sh", "-c", "echo hello-"+n+" | nc -w 2 "+ip.String()+" 7000")
	if !strings.Contains(out, "got-hello-"+n) {
		t.Errorf("tcp echo: %q", out)
	}
	hosts := e.ok(t, "exec", srv, "cat", "/etc/hosts")
	if !strings.Contains(hosts, ip.String()+"\t") {
		t.Errorf("/etc/hosts lacks its own address %s:\n%s", ip, hosts)
	}
	c := e.inspect(t, srv)
	es := c.NetworkSettings.Networks[n]
	if es.EndpointID == "" || es.NetworkID == "" || es.Gateway.String() == "" || es.MacAddress.String() == "" {
		t.Errorf("endpoint settings: %+v", es)
	}
	veths := vethCount(t)
	e.ok(t, "rm", "-f", cli)
	// The exit deletes the pair in the background (daemon/ctr_release.go).
	eventually(t, 5*time.Second, "one veth fewer after rm", func() bool { return vethCount(t) == veths-1 })
}

// The default network: two containers ping each other; the endpoint goes
// when the container stops.
func testDefaultBridge(t *testing.T, e *engine) {
	a := e.runD(t, "busybox", "sleep", "600")
	b := e.runD(t, "busybox", "sleep", "600")
	ipa := e.ipOn(t, a, "bridge")
	if !netip.MustParsePrefix("10.210.0.0/24").Contains(ipa) {
		t.Errorf("address %s outside the default subnet", ipa)
	}
	e.ok(t, "exec", b, "ping", "-c1", "-W2", ipa.String())
	legacy := e.ok(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Gateway}} {{.NetworkSettings.MacAddress}}", a)
	if want := ipa.String() + " 10.210.0.1 02:42:"; !strings.HasPrefix(legacy, want) {
		t.Errorf("legacy fields %q, want %s...", legacy, want)
	}
	// --mac-address, and a container joining a's namespace.
	m := e.runD(t, "--mac-address", "02:11:22:33:44:55", "busybox", "sleep", "600")
	if out := e.ok(t, "exec", m, "cat", "/sys/class/net/eth0/address"); out != "02:11:22:33:44:55\n" {
		t.Errorf("--mac-address: %q", out)
	}
	j := e.runD(t, "--network", "container:"+a, "busybox", "sleep", "600")
	if out := e.ok(t, "exec", j, "ip", "-o", "-4", "addr", "show", "eth0"); !strings.Contains(out, ipa.String()+"/24") {
		t.Errorf("container:%s sees %q", a, out)
	}
	e.ok(t, "rm", "-f", j)
	route := e.ok(t, "exec", a, "ip", "route")
	if !strings.Contains(route, "default via 10.210.0.1") {
		t.Errorf("routes:\n%s", route)
	}
	e.ok(t, "stop", "-t", "1", a)
	c := e.inspect(t, a)
	if es := c.NetworkSettings.Networks["bridge"]; es == nil || es.IPAddress.IsValid() || es.EndpointID != "" {
		t.Errorf("stopped container keeps its endpoint: %+v", es)
	}
	cont := e.ok(t, "network", "inspect", "-f", "{{len .Containers}}", "bridge")
	if strings.TrimSpace(cont) != "2" { // b and m
		t.Errorf("bridge has %s endpoints, want 2", cont)
	}
}

// connect and disconnect on a running container add and remove eth1, with
// --ip and --alias echoed by inspect.
func testConnectDisconnect(t *testing.T, e *engine) {
	n1, n2 := e.netName(t), e.netName(t)
	e.ok(t, "network", "create", n1)
	e.ok(t, "network", "create", "--subnet", "10.211.0.0/24", "--gateway", "10.211.0.254", n2)
	c := e.runD(t, "--network", n1, "busybox", "sleep", "600")
	e.ok(t, "network", "connect", "--ip", "10.211.0.77", "--alias", "web", n2, c)
	addr := e.ok(t, "exec", c, "ip", "-o", "-4", "addr", "show", "eth1")
	if !strings.Contains(addr, "10.211.0.77/24") {
		t.Errorf("eth1: %s", addr)
	}
	ins := e.inspect(t, c)
	es := ins.NetworkSettings.Networks[n2]
	if es == nil || es.IPAMConfig == nil || es.IPAMConfig.IPv4Address.String() != "10.211.0.77" ||
		len(es.Aliases) != 1 || es.Aliases[0] != "web" || es.Gateway.String() != "10.211.0.254" {
		t.Fatalf("connected endpoint: %+v", es)
	}
	if s1, s2 := e.ipOn(t, c, n1), es.IPAddress; s1.Is4() && netip.PrefixFrom(s1, 16).Masked().Contains(s2) {
		t.Errorf("two networks, one subnet: %s %s", s1, s2)
	}
	if out := e.fails(t, 1, "network", "rm", n2); !strings.Contains(out, "has active endpoints") {
		t.Errorf("rm in use: %s", out)
	}
	e.ok(t, "network", "disconnect", n2, c)
	if r := e.docker(t, "", "exec", c, "ip", "link", "show", "eth1"); r.code == 0 {
		t.Errorf("eth1 still there: %s", r.stdout)
	}
	e.ok(t, "network", "rm", n2)
	if _, err := net.InterfaceByName("br-" + strings.TrimSpace(e.ok(t, "network", "inspect", "-f", "{{.ID}}", n1))[:12]); err != nil {
		t.Errorf("n1's bridge: %v", err)
	}
}

// A connect that meets the container's exit leaves no endpoint: the
// network ends with none whichever came first.
func testConnectRacesExit(t *testing.T, e *engine) {
	n := e.netName(t)
	e.ok(t, "network", "create", n)
	for i := range 6 {
		c := e.runD(t, "busybox", "sleep", "0."+strconv.Itoa(i))
		e.docker(t, "", "network", "connect", n, c) // before, during or after the exit
		e.waitState(t, c, "exited", func(r container.InspectResponse) bool { return !r.State.Running })
	}
	// The exit releases its endpoints in the background
	// (daemon/ctr_release.go), just after the state says exited.
	eventually(t, 5*time.Second, "no endpoint left on "+n, func() bool {
		return strings.TrimSpace(e.ok(t, "network", "inspect", "-f", "{{len .Containers}}", n)) == "0"
	})
}

func testNetworkBadInput(t *testing.T, e *engine) {
	n := e.netName(t)
	e.ok(t, "network", "create", "--subnet", "10.212.0.0/30", n)
	if out := e.fails(t, 1, "network", "create", "--subnet", "10.212.0.0/16", e.netName(t)); !strings.Contains(out, "overlaps") {
		t.Errorf("overlap: %s", out)
	}
	if out := e.fails(t, 1, "network", "create", n); !strings.Contains(out, "already exists") {
		t.Errorf("same name: %s", out)
	}
	if out := e.fails(t, 125, "run", "--rm", "--network", "nosuchnet", "busybox", "true"); !strings.Contains(out, "network nosuchnet not found") {
		t.Errorf("unknown network: %s", out)
	}
	if out := e.fails(t, 125, "run", "--rm", "--network", n, "--ip", "10.99.0.5", "busybox", "true"); !strings.Contains(out, "no configured subnet or ip-range contain the IP address 10.99.0.5") {
		t.Errorf("--ip outside: %s", out)
	}
	if out := e.fails(t, 125, "run", "--rm", "--ip", "10.210.0.50", "busybox", "true"); !strings.Contains(out, "user defined networks only") {
		t.Errorf("--ip on bridge: %s", out)
	}
	auto := e.netName(t)
	e.ok(t, "network", "create", auto)
	if out := e.fails(t, 125, "run", "--rm", "--network", auto, "--ip", "172.30.0.9", "busybox", "true"); !strings.Contains(out, "networks with user configured subnets") {
		t.Errorf("--ip without --subnet: %s", out)
	}
	// A /30 has one address for containers besides the gateway.
	first := e.runD(t, "--network", n, "busybox", "sleep", "600")
	if ip := e.ipOn(t, first, n); ip.String() != "10.212.0.2" {
		t.Errorf("first address %s", ip)
	}
	veths := vethCount(t)
	second := e.name(t)
	out := e.fails(t, 125, "run", "-d", "--name", second, "--network", n, "busybox", "sleep", "600")
	if !strings.Contains(out, "no available IPv4 addresses") {
		t.Errorf("exhausted: %s", out)
	}
	if got := vethCount(t); got != veths {
		t.Errorf("failed start left veths: %d, want %d", got, veths)
	}
	taken := e.name(t)
	n2 := e.netName(t)
	e.ok(t, "network", "create", "--subnet", "10.213.0.0/24", n2)
	e.runD(t, "--network", n2, "--ip", "10.213.0.9", "busybox", "sleep", "600")
	out = e.fails(t, 125, "run", "-d", "--name", taken, "--network", n2, "--ip", "10.213.0.9", "busybox", "sleep", "600")
	if !strings.Contains(out, "already in use") {
		t.Errorf("taken --ip: %s", out)
	}
	if got := vethCount(t); got != veths+1 {
		t.Errorf("failed start left veths: %d, want %d", got, veths+1)
	}
	if cnt := strings.TrimSpace(e.ok(t, "network", "inspect", "-f", "{{len .Containers}}", n2)); cnt != "1" {
		t.Errorf("failed start left an endpoint: %s", cnt)
	}
	// A created container's network removed before its start.
	gone, orphan := e.netName(t), e.name(t)
	e.ok(t, "network", "create", gone)
	e.ok(t, "create", "--name", orphan, "--network", gone, "busybox", "true")
	e.ok(t, "network", "rm", gone)
	if out := e.fails(t, 1, "start", orphan); !strings.Contains(out, "network "+gone+" not found") {
		t.Errorf("start on a removed network: %s", out)
	}
}

func testNetworkList(t *testing.T, e *engine) {
	n := e.netName(t)
	e.ok(t, "network", "create", "--label", "tier=x"+n, "--internal", n)
	out := e.ok(t, "network", "ls", "-q", "--filter", "label=tier=x"+n)
	id := strings.TrimSpace(e.ok(t, "network", "inspect", "-f", "{{.ID}}", n))
	if strings.TrimSpace(out) != id[:12] {
		t.Errorf("ls -q label: %q, want %s", out, id[:12])
	}
	if out := e.ok(t, "network", "inspect", "-f", "{{.Internal}} {{.Labels.tier}}", n); strings.TrimSpace(out) != "true x"+n {
		t.Errorf("inspect: %q", out)
	}
	if out := e.ok(t, "network", "ls", "--filter", "type=custom", "--format", "{{.Name}}"); strings.Contains(out, "bridge\n") {
		t.Errorf("type=custom lists bridge:\n%s", out)
	}
	pruned := e.ok(t, "network", "prune", "-f", "--filter", "label=tier=x"+n)
	if !strings.Contains(pruned, n) {
		t.Errorf("prune: %s", pruned)
	}
}

// A daemon killed with SIGKILL comes back with its networks and its
// running containers' addresses, which still answer; new containers get
// other addresses.
func testNetworkRestore(t *testing.T, e *engine) {
	n := e.netName(t)
	e.ok(t, "network", "create", n)
	a := e.runD(t, "--network", n, "busybox", "sleep", "600")
	ipa := e.ipOn(t, a, n)
	e.kill9(t)
	e.restart(t)
	if got := e.ipOn(t, a, n); got != ipa {
		t.Errorf("address after restart %s, want %s", got, ipa)
	}
	b := e.runD(t, "--network", n, "busybox", "sleep", "600")
	if ipb := e.ipOn(t, b, n); ipb == ipa {
		t.Errorf("address %s given twice", ipa)
	}
	e.ok(t, "exec", b, "ping", "-c1", "-W2", ipa.String())
	var c container.InspectResponse
	if e.api(t, "GET", "/containers/"+a+"/json", nil, &c); c.NetworkSettings.Networks[n].EndpointID == "" {
		t.Errorf("endpoint lost: %+v", c.NetworkSettings.Networks[n])
	}
}

// corral's own network commands against the same daemon, beside docker's
// output.
func testNetworkCorralCLI(t *testing.T, e *engine) {
	n := e.netName(t)
	ok := func(args ...string) string {
		t.Helper()
		r := e.corral(t, "", args...)
		if r.code != 0 {
			t.Fatalf("%v", r)
		}
		return r.stdout
	}
	id := strings.TrimSpace(ok("network", "create", "--subnet", "10.214.0.0/24", "--ip-range", "10.214.0.128/25",
		"-o", "com.docker.network.bridge.name=tcr-cli", "--label", "a=b", n))
	if len(id) != 64 {
		t.Fatalf("create printed %q", id)
	}
	if _, err := net.InterfaceByName("tcr-cli"); err != nil {
		t.Errorf("bridge named by -o: %v", err)
	}
	for _, args := range [][]string{
		{"network", "ls", "--filter", "name=" + n},
		{"network", "ls", "-q", "--filter", "label=a=b"},
		{"network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Labels}}", "--filter", "id=" + id[:10]},
		{"network", "inspect", "-f", "{{json .IPAM}} {{.Name}}", n},
	} {
		if got, want := ok(args...), e.ok(t, args...); got != want {
			t.Errorf("%v: corral printed\n%s\ndocker\n%s", args, got, want)
		}
	}
	c := e.runD(t, "--network", n, "busybox", "sleep", "600")
	if ip := e.ipOn(t, c, n); !netip.MustParsePrefix("10.214.0.128/25").Contains(ip) {
		t.Errorf("address %s outside --ip-range", ip)
	}
	if r := e.corral(t, "", "network", "connect", "--alias", "x", "bridge", c); r.code == 0 || !strings.Contains(r.stderr, "network-scoped alias is supported only for containers in user defined networks") {
		t.Errorf("alias on the default bridge: %v", r)
	}
	ok("network", "connect", "bridge", c)
	if out := e.ok(t, "exec", c, "ip", "-o", "-4", "addr", "show", "eth1"); !strings.Contains(out, "10.210.0.") {
		t.Errorf("eth1 on bridge: %s", out)
	}
	if r := e.corral(t, "", "network", "connect", "bridge", c); r.code == 0 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("second connect: %v", r)
	}
	ok("network", "disconnect", "bridge", c)
	if r := e.corral(t, "", "network", "rm", n); r.code != 1 || !strings.Contains(r.stderr, "has active endpoints") {
		t.Errorf("rm in use: %v", r)
	}
	e.ok(t, "rm", "-f", c)
	if out := ok("network", "rm", n); out != n+"\n" {
		t.Errorf("rm printed %q", out)
	}
	if _, err := net.InterfaceByName("tcr-cli"); err == nil {
		t.Error("bridge left after rm")
	}
}

// TestNetworkStartCost logs what the default bridge adds to `run --rm`,
// and what a user network (with its embedded DNS) adds: the medians of 9
// runs of each, alternated so that none gets the warm caches.
func TestNetworkStartCost(t *testing.T) {
	e := newNetEngine(t)
	user := e.netName(t)
	e.ok(t, "network", "create", user)
	once := func(args ...string) time.Duration {
		start := time.Now()
		e.ok(t, append([]string{"run", "--rm"}, append(args, "busybox", "true")...)...)
		return time.Since(start)
	}
	var none, bridge, userNet []time.Duration
	for range 9 {
		none = append(none, once("--network", "none"))
		bridge = append(bridge, once())
		userNet = append(userNet, once("--network", user))
	}
	for _, d := range [][]time.Duration{none, bridge, userNet} {
		slices.Sort(d)
	}
	n, b, u := none[len(none)/2], bridge[len(bridge)/2], userNet[len(userNet)/2]
	t.Logf("run --rm median: --network none %v, default bridge %v (%+v), user network with DNS %v (%+v)",
		n.Round(time.Millisecond), b.Round(time.Millisecond), (b - n).Round(time.Millisecond),
		u.Round(time.Millisecond), (u - n).Round(time.Millisecond))
}

// --default-address-pool: user networks take /24s of 10.230.0.0/23 in
// order; a third finds the pool exhausted, with dockerd's message.
func TestNetworkPools(t *testing.T) {
	e := newEngineArgs(t, "--bridge", "tcr1", "--bip", "10.229.0.1/24", "--default-address-pool", "base=10.230.0.0/23,size=24")
	for _, want := range []string{"10.230.0.0/24", "10.230.1.0/24"} {
		n := e.netName(t)
		e.ok(t, "network", "create", n)
		if got := strings.TrimSpace(e.ok(t, "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", n)); got != want {
			t.Errorf("subnet %s, want %s", got, want)
		}
	}
	if out := e.fails(t, 1, "network", "create", e.netName(t)); !strings.Contains(out, "all predefined address pools have been fully subnetted") {
		t.Errorf("exhausted pools: %s", out)
	}
}
