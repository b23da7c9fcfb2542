package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// request is one registry API call; do sends it with authentication and
// retries.
type request struct {
	method string
	domain string
	path   string // "/v2/..." or an absolute URL (an upload's Location)
	query  url.Values
	header http.Header
	// body opens the body anew for each attempt; nil means none.
	body func() (io.ReadCloser, error)
	size int64 // the body's length
	// scopes are the token scopes the call needs.
	scopes []string
	// once disables retries (the body cannot be sent twice).
	once bool
}

// do sends r and returns a response with a 2xx status, or an error: a
// *ResponseError for other statuses. Failures that may pass (5xx, 429,
// broken connections) are retried with backoff unless r.once.
func (c *Client) do(ctx context.Context, r *request) (*http.Response, error) {
	h, err := c.host(ctx, r.domain)
	if err != nil {
		return nil, err
	}
	var resp *http.Response
	send := func() error {
		var err error
		resp, err = c.attempt(ctx, h, r)
		return err
	}
	if r.once {
		err = send()
	} else {
		err = c.retry(ctx, send)
	}
	return resp, err
}

// attempt sends r; a 401 with a challenge (a first one, an expired token,
// a token lacking the scope the challenge names) is answered once with new
// credentials.
func (c *Client) attempt(ctx context.Context, h *host, r *request) (*http.Response, error) {
	scopes := r.scopes
	resp, err := c.send(ctx, h, r, scopes)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized && !r.once {
		if ch := pickChallenge(resp.Header); ch != nil {
			discard(resp)
			c.dropToken(h.domain, scopes)
			h.setChallenge(ch)
			if s := ch.params["scope"]; s != "" && ch.params["error"] == "insufficient_scope" {
				scopes = append(append([]string{}, scopes...), strings.Fields(s)...)
				c.dropToken(h.domain, scopes)
			}
			if resp, err = c.send(ctx, h, r, scopes); err != nil {
				return nil, err
			}
		}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, newResponseError(resp)
	}
	return resp, nil
}

// send sends r once.
func (c *Client) send(ctx context.Context, h *host, r *request, scopes []string) (*http.Response, error) {
	u, err := h.resolve(r.path, r.query)
	if err != nil {
		return nil, noRetry(err)
	}
	body := io.ReadCloser(http.NoBody)
	if r.body != nil && r.size != 0 {
		if body, err = r.body(); err != nil {
			return nil, noRetry(err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		body.Close()
		return nil, noRetry(err)
	}
	req.ContentLength = r.size
	for k, v := range r.header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", c.opts.UserAgent)
	if u.Host == h.base.Host { // never send credentials to another host
		if err := c.authorize(ctx, h, req, scopes); err != nil {
			body.Close()
			return nil, err
		}
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, u.Path, err)
	}
	return resp, nil
}

// retry calls fn until it succeeds, fails for good, or Options.Retries
// retries are spent, sleeping with exponential backoff in between.
func (c *Client) retry(ctx context.Context, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || attempt >= c.opts.Retries || !retriable(ctx, err) {
			return err
		}
		if err := c.sleep(ctx, attempt, err); err != nil {
			return err
		}
	}
}

// sleep waits before retry number attempt+1 (Retry-After when the registry
// asked for longer) or until ctx ends.
func (c *Client) sleep(ctx context.Context, attempt int, last error) error {
	d := c.opts.Backoff << min(attempt, 16)
	d = min(d, maxBackoff)
	d = d/2 + rand.N(d/2+1) // jitter: spread clients that failed together
	var re *ResponseError
	if errors.As(last, &re) && re.RetryAfter > d {
		d = re.RetryAfter
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w (while waiting to retry after: %v)", ctx.Err(), last)
	}
}

// retriable reports whether err may pass on a new attempt: statuses 429
// and 5xx (but 501, 505), and connection errors other than certificate
// problems. Nothing is retried once ctx is done.
func retriable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var nr noRetryError
	if errors.As(err, &nr) {
		return false
	}
	if code := statusOf(err); code != 0 {
		return code == http.StatusTooManyRequests ||
			(code >= 500 && code != http.StatusNotImplemented && code != http.StatusHTTPVersionNotSupported)
	}
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	return !errors.As(err, &certErr) && !errors.As(err, &unknownAuth) && !errors.As(err, &hostErr)
}

// noRetryError marks an error that a new attempt cannot fix.
type noRetryError struct{ err error }

func (e noRetryError) Error() string { return e.err.Error() }
func (e noRetryError) Unwrap() error { return e.err }

func noRetry(err error) error { return noRetryError{err} }

// discard drains a little of resp's body, so that the connection can be
// reused, and closes it.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}
