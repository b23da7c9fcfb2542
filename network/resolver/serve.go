package resolver

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// forwardTimeout bounds one exchange with one upstream server.
const forwardTimeout = 2 * time.Second

// Config is one container's server.
type Config struct {
	Container string
	// Upstream are the servers other names are forwarded to (the
	// container's --dns, else the host's); none: such queries fail at once.
	Upstream []netip.AddrPort
}

// server is a container's pair of DNS servers.
type server struct {
	udp, tcp *dns.Server
}

// Server serves the resolver to containers, one socket pair each.
type Server struct {
	r   *Resolver
	log *slog.Logger

	// mu guards servers.
	mu      sync.Mutex
	servers map[string]*server
}

// NewServer is a server of r's answers.
func NewServer(r *Resolver, log *slog.Logger) *Server {
	return &Server{r: r, log: log, servers: map[string]*server{}}
}

// Serve answers container cfg.Container's queries on pc (udp) and ln (tcp)
// until Stop, replacing a server it had.
func (s *Server) Serve(cfg Config, pc net.PacketConn, ln net.Listener) {
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		_, tcp := w.LocalAddr().(*net.TCPAddr)
		_ = w.WriteMsg(s.r.Answer(cfg, q, tcp))
	})
	srv := &server{
		udp: &dns.Server{PacketConn: pc, Handler: h},
		tcp: &dns.Server{Listener: ln, Handler: h, ReadTimeout: 5 * time.Second},
	}
	s.Stop(cfg.Container)
	for _, d := range []*dns.Server{srv.udp, srv.tcp} {
		if err := start(d); err != nil {
			s.log.Warn("dns server did not start", "container", cfg.Container, "err", err)
		}
	}
	s.mu.Lock()
	s.servers[cfg.Container] = srv
	s.mu.Unlock()
}

// start runs d in the background once it serves.
func start(d *dns.Server) error {
	up := make(chan error, 2)
	d.NotifyStartedFunc = func() { up <- nil }
	go func() { up <- d.ActivateAndServe() }()
	return <-up
}

// Stop closes container id's sockets (which also lets its network
// namespace go); nothing when it has none.
func (s *Server) Stop(id string) {
	s.mu.Lock()
	srv := s.servers[id]
	delete(s.servers, id)
	s.mu.Unlock()
	if srv == nil {
		return
	}
	for _, d := range []*dns.Server{srv.udp, srv.tcp} {
		if d.Shutdown() != nil { // it never started: close its socket
			closeSocket(d)
		}
	}
}

// Serving reports whether container id has a server.
func (s *Server) Serving(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.servers[id] != nil
}

func closeSocket(d *dns.Server) {
	if d.PacketConn != nil {
		_ = d.PacketConn.Close()
	}
	if d.Listener != nil {
		_ = d.Listener.Close()
	}
}

// Answer is the reply to query q from container cfg.Container, received
// over tcp or udp: its networks' names, else the upstream's answer, else
// SERVFAIL.
func (r *Resolver) Answer(cfg Config, q *dns.Msg, tcp bool) *dns.Msg {
	m := new(dns.Msg)
	switch {
	case q.Opcode != dns.OpcodeQuery:
		return m.SetRcode(q, dns.RcodeNotImplemented)
	case len(q.Question) != 1:
		return m.SetRcode(q, dns.RcodeFormatError)
	}
	rrs, ok := r.local(cfg.Container, q.Question[0])
	if !ok {
		return r.forward(cfg, q, tcp)
	}
	m.SetReply(q)
	m.Authoritative, m.RecursionAvailable = true, true
	m.Answer = rrs
	if !tcp {
		size := dns.MinMsgSize
		if o := q.IsEdns0(); o != nil {
			size = int(o.UDPSize())
		}
		m.Truncate(size)
	}
	return m
}

// forward asks the upstream servers in turn, over the query's protocol
// (tcp again when a udp answer is truncated); SERVFAIL when none answers
// or the container has no way out (only internal networks).
func (r *Resolver) forward(cfg Config, q *dns.Msg, tcp bool) *dns.Msg {
	if _, external := r.scope(cfg.Container); external {
		for _, up := range cfg.Upstream {
			if m := exchange(q, up, tcp); m != nil {
				return m
			}
		}
	}
	m := new(dns.Msg)
	m.SetRcode(q, dns.RcodeServerFailure)
	m.RecursionAvailable = true
	return m
}

// exchange sends q to server up; nil when it does not answer.
func exchange(q *dns.Msg, up netip.AddrPort, tcp bool) *dns.Msg {
	proto := "udp"
	if tcp {
		proto = "tcp"
	}
	c := &dns.Client{Net: proto, Timeout: forwardTimeout}
	m, _, err := c.Exchange(q, up.String())
	if err == nil && m.Truncated && !tcp {
		c.Net = "tcp"
		m, _, err = c.Exchange(q, up.String())
	}
	if err != nil {
		return nil
	}
	return m
}
