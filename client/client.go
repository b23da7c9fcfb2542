// Package client is the Go client of the Docker Engine API as corral's
// daemon serves it (and dockerd too): HTTP over a unix socket (unix://PATH)
// or TCP (tcp://HOST:PORT), requests at the client's own API version until
// the daemon refuses it, then at the version negotiated with its /_ping,
// errors decoded into errdefs classes with the docker client's wording
// ("Error response from daemon: ..."), and one method per API operation,
// named as the docker client names them.
package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

// Client talks to one daemon. It is safe for concurrent use.
type Client struct {
	host  string
	base  url.URL // scheme and host of every request's URL
	http  *http.Client
	dial  func(context.Context) (net.Conn, error) // to the daemon's address
	early early                                   // see Connect

	// mu guards version: "" until negotiated.
	mu      sync.Mutex
	version string
}

// ResolveHost picks the daemon's address as the docker CLI does: flag
// (--host), then $CORRAL_HOST, then $DOCKER_HOST, then def. explicit
// reports whether a flag or a variable chose it.
func ResolveHost(flag string, getenv func(string) string, def string) (host string, explicit bool) {
	for _, h := range []string{flag, getenv("CORRAL_HOST"), getenv("DOCKER_HOST")} {
		if h != "" {
			return h, true
		}
	}
	return def, false
}

// New returns a client of the daemon at host: unix:///path/to/socket or
// tcp://host[:port] (port 2375 if absent). It connects lazily, or at
// Connect.
func New(host string) (*Client, error) {
	network, addr, err := parseHost(host)
	if err != nil {
		return nil, err
	}
	c := &Client{host: host, base: url.URL{Scheme: "http", Host: addr}}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	c.dial = func(ctx context.Context) (net.Conn, error) {
		return dialer.DialContext(ctx, network, addr)
	}
	tr := &http.Transport{
		DialContext:        c.dialContext,
		IdleConnTimeout:    30 * time.Second,
		DisableCompression: true,
	}
	if network == "unix" {
		c.base.Host = "corral" // ignored by the daemon, as the docker client's "api.moby.localhost"
	}
	c.http = &http.Client{Transport: tr}
	return c, nil
}

func parseHost(host string) (network, addr string, err error) {
	scheme, rest, ok := strings.Cut(host, "://")
	switch {
	case !ok || rest == "":
	case scheme == "unix":
		return "unix", rest, nil
	case scheme == "tcp":
		if _, _, err := net.SplitHostPort(rest); err != nil {
			rest = net.JoinHostPort(rest, "2375")
		}
		return "tcp", rest, nil
	}
	return "", "", errdefs.InvalidArgument(fmt.Errorf("invalid daemon address %q: want unix:///path or tcp://host:port", host))
}

// Host is the daemon's address as given to New.
func (c *Client) Host() string { return c.host }

// Close closes idle connections.
func (c *Client) Close() error {
	if conn := c.early.take(); conn != nil {
		_ = conn.Close()
	}
	c.http.CloseIdleConnections()
	return nil
}

// request is one API call.
type request struct {
	method string
	path   string // without the version prefix
	query  url.Values
	header http.Header
	body   io.Reader
}

// do sends req at the API version (see doAt). A status >= 400 (or 304) is
// the decoded error, with the response closed.
func (c *Client) do(ctx context.Context, req request) (*http.Response, error) {
	if !replayable(req.body) {
		// A body read once cannot be sent again after a refusal: settle the
		// version first.
		v, err := c.negotiate(ctx)
		if err != nil {
			return nil, err
		}
		return c.send(ctx, "/v"+v+req.path, req)
	}
	return c.doAt(ctx, func(string) (request, error) {
		return req, rewind(req.body)
	})
}

// doAt sends the request build makes for an API version. Until a version
// is settled it sends at api.APIVersion without pinging first: that is what
// negotiation picks with any daemon as new as the client, and it spares
// each command line a round trip before its first call. A daemon that
// refuses the version as too new is pinged, and build's request for the
// negotiated version sent; build is then called twice.
func (c *Client) doAt(ctx context.Context, build func(v string) (request, error)) (*http.Response, error) {
	v, settled := c.settledVersion()
	req, err := build(v)
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, "/v"+v+req.path, req)
	switch {
	case settled:
		return resp, err
	case err == nil:
		c.settle(v, resp.Header)
		return resp, nil
	case !isTooNew(err, v):
		return nil, err
	}
	if v, err = c.negotiate(ctx); err != nil {
		return nil, err
	}
	if req, err = build(v); err != nil {
		return nil, err
	}
	return c.send(ctx, "/v"+v+req.path, req)
}

// replayable reports whether a request body can be sent again: none, or
// one that rewind rewinds (the readers http.NewRequest also replays).
func replayable(body io.Reader) bool {
	switch body.(type) {
	case nil, *bytes.Reader, *strings.Reader:
		return true
	}
	return false
}

// rewind puts a replayable body back at its start.
func rewind(body io.Reader) error {
	if s, ok := body.(io.Seeker); ok {
		if _, err := s.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("rewind request body: %w", err)
		}
	}
	return nil
}

// send sends req at path as it is.
func (c *Client) send(ctx context.Context, path string, req request) (*http.Response, error) {
	u := c.base
	u.Path = path
	u.RawQuery = req.query.Encode()
	hr, err := http.NewRequestWithContext(ctx, req.method, u.String(), req.body)
	if err != nil {
		return nil, fmt.Errorf("make request: %w", err)
	}
	for k, vs := range req.header {
		hr.Header[k] = vs
	}
	hr.Header.Set("User-Agent", "corral-client/"+api.APIVersion)
	resp, err := c.http.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, &ConnectError{Host: c.host, Err: err}
	}
	if resp.StatusCode >= 400 || resp.StatusCode == http.StatusNotModified {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

// ConnectError is a failure to reach the daemon.
type ConnectError struct {
	Host string
	Err  error
}

func (e *ConnectError) Error() string {
	if errors.Is(e.Err, syscall.EACCES) {
		return fmt.Sprintf("permission denied while trying to connect to the corral daemon socket at %s: %v", e.Host, e.Err)
	}
	return fmt.Sprintf("Cannot connect to the corral daemon at %s. Is the daemon running?", e.Host)
}

func (e *ConnectError) Unwrap() []error { return []error{e.Err, errdefs.ErrUnavailable} }

// IsDaemonAbsent reports whether err says nothing listens at the daemon's
// address: a socket that does not exist or refuses connections (a daemon
// that died leaves its socket behind).
func IsDaemonAbsent(err error) bool {
	var ce *ConnectError
	if !errors.As(err, &ce) {
		return false
	}
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
}
