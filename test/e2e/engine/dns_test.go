package engine_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Name resolution: the embedded DNS at 127.0.0.11 on user networks, and
// the hosts and resolv.conf files every container gets.
func TestDNS(t *testing.T) {
	e := newEngineArgs(t, "--bridge", "tdns0", "--bip", "10.212.0.1/24")
	t.Run("ByNameAndAlias", func(t *testing.T) { testDNSByName(t, e) })
	t.Run("CorralCLI", func(t *testing.T) { testDNSCorralCLI(t, e) })
	t.Run("Scope", func(t *testing.T) { testDNSScope(t, e) })
	t.Run("ConnectDisconnect", func(t *testing.T) { testDNSConnect(t, e) })
	t.Run("Rename", func(t *testing.T) { testDNSRename(t, e) })
	t.Run("ComposeAliases", func(t *testing.T) { testDNSCompose(t, e) })
	t.Run("Forward", func(t *testing.T) { testDNSForward(t, e) })
	t.Run("OwnPort53", func(t *testing.T) { testDNSOwnPort53(t, e) })
	t.Run("EtcFiles", func(t *testing.T) { testEtcFiles(t, e) })
	t.Run("JoinContainer", func(t *testing.T) { testJoinContainer(t, e) })
	t.Run("DaemonKill9", func(t *testing.T) { testDNSRestart(t, e) })
}

// resolves checks that name resolves to want's address in container ctr
// (nslookup through the resolv.conf, then ping).
func (e *engine) resolves(t *testing.T, ctr, name, want string) {
	t.Helper()
	out := e.ok(t, "exec", ctr, "nslookup", name)
	if !strings.Contains(out, "Address: "+want) {
		t.Errorf("nslookup %s in %s: want %s\n%s", name, ctr, want, out)
	}
	e.ok(t, "exec", ctr, "ping", "-c1", "-W2", name)
}

// unresolved checks that name does not resolve in ctr, quickly.
func (e *engine) unresolved(t *testing.T, ctr, name string) {
	t.Helper()
	t0 := time.Now()
	if r := e.docker(t, "", "exec", ctr, "nslookup", name); r.code == 0 {
		t.Errorf("%s resolves %s: %v", ctr, name, r)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("nslookup %s took %v", name, d)
	}
}

// Containers on one user network (docker CLI) find each other by name,
// alias, short ID and hostname; ping and TCP by name.
func testDNSByName(t *testing.T, e *engine) {
	n := e.netName(t)
	e.ok(t, "network", "create", n)
	srv := e.runD(t, "--network", n, "--network-alias", "web", "--hostname", "srvhost", "busybox",
		"nc", "-ll", "-p", "7000", "-e", "sh", "-c", "read l; echo got-$l")
	cli := e.runD(t, "--network", n, "busybox", "sleep", "600")
	ip := e.ipOn(t, srv, n).String()
	id := e.inspect(t, srv).ID
	for _, name := range []string{srv, "web", id[:12], "srvhost", "web." + n, strings.ToUpper(srv)} {
		e.resolves(t, cli, name, ip)
	}
	out := e.ok(t, "exec", cli, "sh", "-c", "echo hi | nc -w 2 web 7000")
	if !strings.Contains(out, "got-hi") {
		t.Errorf("tcp by alias: %q", out)
	}
	out = e.ok(t, "exec", cli, "sh", "-c", "echo there | nc -w 2 "+srv+" 7000")
	if !strings.Contains(out, "got-there") {
		t.Errorf("tcp by name: %q", out)
	}
	rc := e.ok(t, "exec", cli, "cat", "/etc/resolv.conf")
	if !strings.HasPrefix(rc, "nameserver 127.0.0.11\n") || strings.Count(rc, "nameserver") != 1 || !strings.Contains(rc, "ndots:0") {
		t.Errorf("resolv.conf on a user network:\n%s", rc)
	}
	hosts := e.ok(t, "exec", srv, "cat", "/etc/hosts")
	if !strings.Contains(hosts, ip+"\tsrvhost web\n") {
		t.Errorf("own entry with alias missing:\n%s", hosts)
	}
	// PTR of the server's address.
	if out := e.ok(t, "exec", cli, "nslookup", ip); !strings.Contains(out, srv+"."+n) {
		t.Errorf("reverse lookup of %s:\n%s", ip, out)
	}
	e.unresolved(t, cli, "nosuchname")
}

// The same through corral's CLI.
func testDNSCorralCLI(t *testing.T, e *engine) {
	n := e.netName(t)
	e.corralOK(t, "", "network", "create", n)
	srv, cli := e.name(t), e.name(t)
	e.corralOK(t, "", "run", "-d", "--name", srv, "--network", n, "--network-alias", "db", "busybox",
		"nc", "-ll", "-p", "7001", "-e", "echo", "pong")
	e.corralOK(t, "", "run", "-d", "--name", cli, "--network", n, "busybox", "sleep", "600")
	ip := e.ipOn(t, srv, n).String()
	e.resolves(t, cli, "db", ip)
	e.resolves(t, cli, srv, ip)
	if out := e.corralOK(t, "", "exec", cli, "nc", "-w", "2", "db", "7001"); !strings.Contains(out, "pong") {
		t.Errorf("tcp by alias: %q", out)
	}
}

// A container sees only the names of the networks it is on; the default
// bridge has no embedded DNS.
func testDNSScope(t *testing.T, e *engine) {
	na, nb := e.netName(t), e.netName(t)+"b"
	e.ok(t, "network", "create", na)
	e.ok(t, "network", "create", nb)
	t.Cleanup(func() { e.docker(t, "", "network", "rm", nb) })
	a := e.runD(t, "--network", na, "--network-alias", "onlya", "busybox", "sleep", "600")
	b := e.runD(t, "--network", nb, "busybox", "sleep", "600")
	both := e.runD(t, "--network", na, "busybox", "sleep", "600")
	e.ok(t, "network", "connect", "--alias", "shared", nb, both)
	e.unresolved(t, b, a)
	e.unresolved(t, b, "onlya")
	e.unresolved(t, a, b)
	e.resolves(t, b, "shared", e.ipOn(t, both, nb).String())
	e.resolves(t, a, both, e.ipOn(t, both, na).String())
	e.unresolved(t, a, "shared") // an alias on nb only
	def := e.runD(t, "busybox", "sleep", "600")
	if rc := e.ok(t, "exec", def, "cat", "/etc/resolv.conf"); strings.Contains(rc, "127.0.0.11") {
		t.Errorf("default bridge uses the embedded DNS:\n%s", rc)
	}
}

// connect and disconnect on a running container make its names appear
// and disappear at once.
func testDNSConnect(t *testing.T, e *engine) {
	n := e.netName(t)
	e.ok(t, "network", "create", n)
	cli := e.runD(t, "--network", n, "busybox", "sleep", "600")
	other := e.runD(t, "busybox", "sleep", "600")
	e.unresolved(t, cli, other)
	e.ok(t, "network", "connect", "--alias", "late", n, other)
	ip := e.ipOn(t, other, n).String()
	e.resolves(t, cli, other, ip)
	e.resolves(t, cli, "late", ip)
	if hosts := e.ok(t, "exec", other, "cat", "/etc/hosts"); !strings.Contains(hosts, ip+"\t") {
		t.Errorf("hosts lacks the connected address %s:\n%s", ip, hosts)
	}
	e.ok(t, "network", "disconnect", n, other)
	e.unresolved(t, cli, "late")
	e.unresolved(t, cli, other)
}

// docker-compose's sequence: create with the service name as alias, then
// disconnect and connect again with the alias and the short ID, then
// start; the service name resolves.
func testDNSCompose(t *testing.T, e *engine) {
	n := e.netName(t)
	e.ok(t, "network", "create", n)
	web := e.name(t)
	body := `{"Image":"busybox","Cmd":["sleep","600"],"HostConfig":{"NetworkMode":"` + n + `"},` +
		`"NetworkingConfig":{"EndpointsConfig":{"` + n + `":{"Aliases":["websvc"]}}}}`
	var created struct{ ID string }
	if code := e.api(t, "POST", "/containers/create?name="+web, strings.NewReader(body), &created); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if code := e.api(t, "POST", "/networks/"+n+"/disconnect", strings.NewReader(`{"Container":"`+created.ID+`"}`), nil); code != 200 {
		t.Fatalf("disconnect: %d", code)
	}
	conn := `{"Container":"` + created.ID + `","EndpointConfig":{"Aliases":["websvc","` + created.ID[:12] + `"]}}`
	if code := e.api(t, "POST", "/networks/"+n+"/connect", strings.NewReader(conn), nil); code != 200 {
		t.Fatalf("connect: %d", code)
	}
	e.ok(t, "start", web)
	cli := e.runD(t, "--network", n, "busybox", "sleep", "600")
	e.resolves(t, cli, "websvc", e.ipOn(t, web, n).String())
}

// Other names go to the upstream servers: --dns 127.0.0.1 is a fake
// server of the test's on the sandbox's loopback, which the daemon
// reaches from its own namespace.
func testDNSForward(t *testing.T, e *engine) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:53")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg).SetReply(q)
		if q.Question[0].Qtype == dns.TypeA {
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA,
				Class: dns.ClassINET, Ttl: 5}, A: net.IPv4(192, 0, 2, 7)}}
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	n := e.netName(t)
	e.ok(t, "network", "create", n)
	c := e.runD(t, "--network", n, "--dns", "127.0.0.1", "--dns-search", "corp.example", "busybox", "sleep", "600")
	rc := e.ok(t, "exec", c, "cat", "/etc/resolv.conf")
	if !strings.HasPrefix(rc, "nameserver 127.0.0.11\nsearch corp.example\n") || !strings.Contains(rc, "ExtServers: [127.0.0.1]") {
		t.Errorf("resolv.conf with --dns on a user network:\n%s", rc)
	}
	if out := e.ok(t, "exec", c, "nslookup", "outside.example"); !strings.Contains(out, "192.0.2.7") {
		t.Errorf("forwarded name:\n%s", out)
	}
	// An internal network has no way out, DNS included.
	in := e.netName(t) + "i"
	e.ok(t, "network", "create", "--internal", in)
	t.Cleanup(func() { e.docker(t, "", "network", "rm", in) })
	ci := e.runD(t, "--network", in, "--dns", "127.0.0.1", "busybox", "sleep", "600")
	e.unresolved(t, ci, "outside.example")
}

// --add-host, --dns*, --hostname and --domainname on the default bridge
// and on a user network, as Docker writes the files.
func testEtcFiles(t *testing.T, e *engine) {
	n := e.netName(t)
	e.ok(t, "network", "create", n)
	show := []string{"sh", "-c", "cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; hostname; cat /etc/hostname"}
	flags := []string{"--add-host", "foo:10.1.2.3", "--add-host", "gw:host-gateway", "--add-host", "six:::1",
		"--dns", "10.9.9.9", "--dns-search", "a.example", "--dns-option", "ndots:2",
		"--hostname", "h1", "--domainname", "example.org"}
	for _, mode := range []string{"bridge", n} {
		c := e.runD(t, append(append([]string{"--network", mode}, flags...), "busybox", "sleep", "600")...)
		out := e.ok(t, append([]string{"exec", c}, show...)...)
		parts := strings.Split(out, "---\n")
		if len(parts) != 3 {
			t.Fatalf("%s: %q", mode, out)
		}
		ip := e.ipOn(t, c, mode).String()
		for _, want := range []string{"127.0.0.1\tlocalhost\n", "10.1.2.3\tfoo\n", "10.212.0.1\tgw\n", "::1\tsix\n", ip + "\th1.example.org h1\n"} {
			if !strings.Contains(parts[0], want) {
				t.Errorf("%s: hosts lacks %q:\n%s", mode, want, parts[0])
			}
		}
		wantRC := "nameserver 10.9.9.9\nsearch a.example\noptions ndots:2\n"
		if mode == n {
			wantRC = "nameserver 127.0.0.11\nsearch a.example\noptions ndots:2\n\n# ExtServers: [10.9.9.9]\n"
		}
		if parts[1] != wantRC {
			t.Errorf("%s: resolv.conf\n%q\nwant\n%q", mode, parts[1], wantRC)
		}
		if parts[2] != "h1\nh1\n" {
			t.Errorf("%s: hostname %q", mode, parts[2])
		}
	}
	body := `{"Image":"busybox","HostConfig":{"ExtraHosts":["foo:not-an-ip"]}}`
	var msg apiError
	if code := e.api(t, "POST", "/containers/create", strings.NewReader(body), &msg); code != 400 || !strings.Contains(msg.Message, `invalid IP address in add-host: "not-an-ip"`) {
		t.Errorf("bad --add-host: %d %q", code, msg.Message)
	}
}

// --network container:ID shares the other's hostname, hosts, resolv.conf
// and DNS; what it cannot have is refused.
func testJoinContainer(t *testing.T, e *engine) {
	n := e.netName(t)
	e.ok(t, "network", "create", n)
	base := e.runD(t, "--network", n, "--hostname", "basehost", "--add-host", "x:10.1.1.1", "busybox", "sleep", "600")
	peer := e.runD(t, "--network", n, "busybox", "sleep", "600")
	j := e.runD(t, "--network", "container:"+base, "busybox", "sleep", "600")
	if h := e.ok(t, "exec", j, "hostname"); h != "basehost\n" {
		t.Errorf("joined hostname %q", h)
	}
	for _, f := range []string{"/etc/hosts", "/etc/resolv.conf", "/etc/hostname"} {
		if a, b := e.ok(t, "exec", base, "cat", f), e.ok(t, "exec", j, "cat", f); a != b {
			t.Errorf("%s differs:\n%s\n---\n%s", f, a, b)
		}
	}
	e.resolves(t, j, peer, e.ipOn(t, peer, n).String())
	for _, args := range [][]string{
		{"--hostname", "x"}, {"-p", "8080:80"}, {"--dns", "10.0.0.1"}, {"--add-host", "a:10.0.0.1"}, {"--expose", "80"},
	} {
		r := e.docker(t, "", append(append([]string{"create", "--network", "container:" + base}, args...), "busybox")...)
		if r.code == 0 || !strings.Contains(r.stderr, "conflicting options") {
			t.Errorf("%v with container: mode: %v", args, r)
		}
	}
}

// After kill -9 and a new daemon, running containers still resolve each
// other, and new ones them.
func testDNSRestart(t *testing.T, e *engine) {
	n := e.netName(t)
	e.ok(t, "network", "create", n)
	a := e.runD(t, "--network", n, "--network-alias", "ra", "busybox", "sleep", "600")
	b := e.runD(t, "--network", n, "busybox", "sleep", "600")
	ip := e.ipOn(t, a, n).String()
	e.resolves(t, b, "ra", ip)
	e.kill9(t)
	e.restart(t)
	e.resolves(t, b, "ra", ip)
	e.resolves(t, a, b, e.ipOn(t, b, n).String())
	c := e.runD(t, "--network", n, "busybox", "sleep", "600")
	e.resolves(t, c, a, ip)
}

// A container can run a server of its own on port 53 of every address
// and still use the embedded DNS, whose port 53 is a DNAT to its own
// ports (bound at 127.0.0.11:53, the resolver would make that listen
// fail). busybox's nc has no udp, so tcp stands for both.
func testDNSOwnPort53(t *testing.T, e *engine) {
	n := e.netName(t)
	e.ok(t, "network", "create", n)
	peer := e.runD(t, "--network", n, "busybox", "sleep", "600")
	c := e.runD(t, "--network", n, "busybox", "nc", "-ll", "-p", "53", "-e", "echo", "own-tcp")
	var out string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("netstat -ln:\n%s", out)
		}
	})
	eventually(t, 10*time.Second, "own server on port 53", func() bool {
		out = e.ok(t, "exec", c, "netstat", "-lnt")
		return strings.Contains(out, " :::53 ") || strings.Contains(out, " 0.0.0.0:53 ")
	})
	e.resolves(t, c, peer, e.ipOn(t, peer, n).String())
	if out := e.ok(t, "exec", c, "nc", "-w", "2", "127.0.0.1", "53"); !strings.Contains(out, "own-tcp") {
		t.Errorf("own tcp server on 53: %q", out)
	}
}

// A renamed container answers to its new name only.
func testDNSRename(t *testing.T, e *engine) {
	n := e.netName(t)
	e.ok(t, "network", "create", n)
	a := e.runD(t, "--network", n, "busybox", "sleep", "600")
	cli := e.runD(t, "--network", n, "busybox", "sleep", "600")
	renamed := e.name(t)
	e.ok(t, "rename", a, renamed)
	e.resolves(t, cli, renamed, e.ipOn(t, renamed, n).String())
	e.unresolved(t, cli, a)
}
