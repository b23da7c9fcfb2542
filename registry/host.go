package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
)

// host is what a Client knows of one registry.
type host struct {
	domain   string // as in references: docker.io, localhost:5000
	api      string // host[:port] serving the API
	insecure bool   // may use http or unverified TLS

	// mu guards the fields below; it is held while pinging, so that the
	// first requests to a registry wait for one ping.
	mu        sync.Mutex
	base      *url.URL     // scheme://api once a ping succeeded
	client    *http.Client // for base's scheme
	challenge *challenge   // the last authentication challenge, or nil
}

func (h *host) getChallenge() *challenge {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.challenge
}

func (h *host) setChallenge(ch *challenge) {
	h.mu.Lock()
	h.challenge = ch
	h.mu.Unlock()
}

// resolve returns the URL of path (absolute, or relative to the API root)
// with query added.
func (h *host) resolve(path string, query url.Values) (*url.URL, error) {
	ref, err := url.Parse(path)
	if err != nil {
		return nil, fmt.Errorf("bad registry URL %q: %w", path, err)
	}
	u := h.base.ResolveReference(ref)
	if len(query) > 0 {
		q := u.Query()
		for k, vs := range query {
			q[k] = append(q[k], vs...)
		}
		u.RawQuery = q.Encode()
	}
	return u, nil
}

// host returns domain's state, pinging the registry first if no ping has
// succeeded yet.
func (c *Client) host(ctx context.Context, domain string) (*host, error) {
	c.mu.Lock()
	h, ok := c.hosts[domain]
	if !ok {
		api := apiHost(domain)
		h = &host{domain: domain, api: api, insecure: c.isInsecure(api)}
		c.hosts[domain] = h
	}
	c.mu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.base != nil {
		return h, nil
	}
	if err := c.ping(ctx, h); err != nil {
		return nil, fmt.Errorf("ping registry %s: %w", domain, err)
	}
	return h, nil
}

type endpoint struct {
	scheme string
	client *http.Client
}

// ping finds a working scheme with GET /v2/ and records the challenge. A
// secure registry is tried over https only; an insecure one (loopback or
// configured) over https without verifying the certificate, then over
// http, as docker does. Called with h.mu held.
func (c *Client) ping(ctx context.Context, h *host) error {
	candidates := []endpoint{{"https", c.secure}}
	if h.insecure {
		candidates = []endpoint{{"https", c.insecure}, {"http", c.secure}}
	}
	var errs []error
	for i, ep := range candidates {
		last := i == len(candidates)-1
		var resp *http.Response
		err := c.retry(ctx, func() error {
			var err error
			resp, err = c.pingOnce(ctx, h, ep)
			if err != nil && !last && statusOf(err) == 0 {
				return noRetry(err) // not this scheme: try the next at once
			}
			return err
		})
		if err == nil {
			h.base = &url.URL{Scheme: ep.scheme, Host: h.api}
			h.client = ep.client
			h.challenge = pickChallenge(resp.Header)
			return nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil || statusOf(err) != 0 {
			break // the registry answered: no other scheme to try
		}
	}
	return errors.Join(errs...)
}

// pingOnce sends GET /v2/. 200 and 401 are registries; 5xx and 429 are
// ResponseErrors (retried); another status is taken as a registry that
// does not implement the ping.
func (c *Client) pingOnce(ctx context.Context, h *host, ep endpoint) (*http.Response, error) {
	u := &url.URL{Scheme: ep.scheme, Host: h.api, Path: "/v2/"}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, noRetry(err)
	}
	req.Header.Set("User-Agent", c.opts.UserAgent)
	resp, err := ep.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return nil, newResponseError(resp)
	}
	discard(resp)
	return resp, nil
}
