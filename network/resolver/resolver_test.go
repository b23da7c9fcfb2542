package resolver

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/corral-dev/corral/network"
)

type fakeNets []network.Network

func (f fakeNets) List() []network.Network { return f }

const (
	idA = "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000000"
	idB = "bbbbbbbbbbbb0000000000000000000000000000000000000000000000000000"
	idC = "cccccccccccc0000000000000000000000000000000000000000000000000000"
	idD = "dddddddddddd0000000000000000000000000000000000000000000000000000"
	idI = "eeeeeeeeeeee0000000000000000000000000000000000000000000000000000"
)

func ep(id, name, ip string, aliases ...string) network.Endpoint {
	return network.Endpoint{Container: id, Name: name, IP: netip.MustParseAddr(ip), Aliases: aliases}
}

func bridge(name string, internal bool, eps ...network.Endpoint) network.Network {
	n := network.Network{Name: name, Driver: network.DriverBridge, Internal: internal, Endpoints: map[string]network.Endpoint{}}
	for _, e := range eps {
		n.Endpoints[e.Container] = e
	}
	return n
}

// world: a and b on front; b and c on back; d on the default bridge
// (with b); i alone with b on an internal network.
func world() fakeNets {
	b1 := ep(idB, "b", "10.1.0.3", "web", "db")
	b1.Hostname = "bhost"
	def := bridge("bridge", false, ep(idD, "d", "172.17.0.2"), ep(idB, "b", "172.17.0.3"))
	def.Predefined = true
	return fakeNets{
		bridge("front", false, ep(idA, "a", "10.1.0.2"), b1),
		bridge("back", false, ep(idB, "b", "10.2.0.3"), ep(idC, "c", "10.2.0.4")),
		def,
		bridge("inside", true, ep(idI, "i", "10.3.0.2"), ep(idB, "b", "10.3.0.3")),
		{Name: "host", Driver: network.DriverHost, Predefined: true},
	}
}

func TestLookupScope(t *testing.T) {
	r := New(world())
	cases := []struct {
		from, name string
		want       []string
	}{
		{idA, "b", []string{"10.1.0.3"}},
		{idA, "B.", []string{"10.1.0.3"}},
		{idA, "web", []string{"10.1.0.3"}},
		{idA, "db.front", []string{"10.1.0.3"}},
		{idA, "bbbbbbbbbbbb", []string{"10.1.0.3"}},
		{idA, "bhost", []string{"10.1.0.3"}},
		{idA, "c", nil},             // only on back
		{idA, "d", nil},             // only on the default bridge
		{idA, "web.back", nil},      // the alias is front's
		{idA, "bbbbbbbbbbbb0", nil}, // not a prefix match
		{idC, "b", []string{"10.2.0.3"}},
		{idC, "web", nil},
		{idC, "a", nil},
		{idD, "b", nil}, // no names on the default bridge
		{idB, "b", []string{"10.1.0.3", "10.2.0.3", "10.3.0.3"}},
		{idI, "b", []string{"10.3.0.3"}},
	}
	for _, c := range cases {
		got, found := r.Lookup(c.from, c.name)
		if found != (c.want != nil) || len(got) != len(c.want) {
			t.Errorf("%s looks up %q: %v (found %v), want %v", c.from[:1], c.name, got, found, c.want)
			continue
		}
		for i := range got {
			if got[i].String() != c.want[i] && !containsStr(c.want, got[i].String()) {
				t.Errorf("%s looks up %q: %v, want %v", c.from[:1], c.name, got, c.want)
			}
		}
	}
}

func containsStr(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	return m
}

func TestAnswerTypes(t *testing.T) {
	r := New(world())
	cfg := Config{Container: idA}
	m := r.Answer(cfg, query("web", dns.TypeA), false)
	if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "10.1.0.3" {
		t.Fatalf("A web: %v", m)
	}
	if m = r.Answer(cfg, query("web", dns.TypeAAAA), false); m.Rcode != dns.RcodeSuccess || len(m.Answer) != 0 {
		t.Fatalf("AAAA web: want an empty NOERROR, got %v", m)
	}
	m = r.Answer(cfg, query("3.0.1.10.in-addr.arpa", dns.TypePTR), false)
	if len(m.Answer) != 1 || m.Answer[0].(*dns.PTR).Ptr != "b.front." {
		t.Fatalf("PTR 10.1.0.3: %v", m)
	}
	// c's address is on a network a does not share.
	if m = r.Answer(cfg, query("4.0.2.10.in-addr.arpa", dns.TypePTR), false); m.Rcode != dns.RcodeServerFailure {
		t.Fatalf("PTR of an address a does not see: %v", m)
	}
	two := query("b", dns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	if m = r.Answer(cfg, two, false); m.Rcode != dns.RcodeFormatError {
		t.Fatalf("two questions: %v", m)
	}
}

// TestNoUpstream: unknown names fail at once without servers.
func TestNoUpstream(t *testing.T) {
	r := New(world())
	t0 := time.Now()
	m := r.Answer(Config{Container: idA}, query("example.com", dns.TypeA), false)
	if m.Rcode != dns.RcodeServerFailure || time.Since(t0) > 100*time.Millisecond {
		t.Fatalf("unknown name without upstream: rcode %d after %v", m.Rcode, time.Since(t0))
	}
}

// upstream is a DNS server on the loopback answering every A query with
// 192.0.2.1 and counting them.
func upstream(t *testing.T) (netip.AddrPort, *atomic.Int32) {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := new(atomic.Int32)
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		n.Add(1)
		m := new(dns.Msg).SetReply(q)
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5},
			A: net.IPv4(192, 0, 2, 1)}}
		_ = w.WriteMsg(m)
	})}
	if err := start(srv); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown() })
	return netip.MustParseAddrPort(pc.LocalAddr().String()), n
}

func TestForward(t *testing.T) {
	up, n := upstream(t)
	r := New(world())
	dead := netip.MustParseAddrPort("127.0.0.1:1") // refuses: the next server is asked
	m := r.Answer(Config{Container: idA, Upstream: []netip.AddrPort{dead, up}}, query("example.com", dns.TypeA), false)
	if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
		t.Fatalf("forwarded answer: %v", m)
	}
	// A container only on an internal network has no way out, DNS included.
	m = r.Answer(Config{Container: idI, Upstream: []netip.AddrPort{up}}, query("leak.example.com", dns.TypeA), false)
	if m.Rcode != dns.RcodeServerFailure || n.Load() != 1 {
		t.Fatalf("internal container: rcode %d, upstream asked %d times (want SERVFAIL, 1)", m.Rcode, n.Load())
	}
}

// TestServe runs a server on loopback sockets: udp and tcp answers, and
// garbage does not stop it.
func TestServe(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp4", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(New(world()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Serve(Config{Container: idA}, pc, ln)
	addr := pc.LocalAddr().String()
	garbage, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = garbage.Write([]byte{1, 2, 3})
	_, _ = garbage.Write(make([]byte, 3000))
	garbage.Close()
	for _, proto := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: proto, Timeout: 2 * time.Second}
		m, _, err := c.Exchange(query("b", dns.TypeA), addr)
		if err != nil || len(m.Answer) != 1 {
			t.Fatalf("%s query: %v %v", proto, m, err)
		}
	}
	s.Stop(idA)
	if s.Serving(idA) {
		t.Fatal("still serving after Stop")
	}
	c := &dns.Client{Net: "tcp", Timeout: time.Second}
	if _, _, err := c.Exchange(query("b", dns.TypeA), addr); err == nil {
		t.Fatal("tcp still answers after Stop")
	}
}

// BenchmarkAnswer is the cost of one answer from the store's records: 20
// networks of 20 endpoints.
func BenchmarkAnswer(b *testing.B) {
	var nets fakeNets
	for i := range 20 {
		n := bridge(fmt.Sprintf("n%d", i), false)
		for j := range 20 {
			id := fmt.Sprintf("%02d%02d", i, j) + idA[4:]
			n.Endpoints[id] = ep(id, fmt.Sprintf("c%d-%d", i, j), fmt.Sprintf("10.%d.0.%d", i, j+2), "alias")
		}
		nets = append(nets, n)
	}
	r := New(nets)
	cfg := Config{Container: "0000" + idA[4:]}
	q := query("c0-7", dns.TypeA)
	for b.Loop() {
		if m := r.Answer(cfg, q, false); len(m.Answer) != 1 {
			b.Fatal(m)
		}
	}
}
