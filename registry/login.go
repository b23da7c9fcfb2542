package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/corral-dev/corral/errdefs"
)

// staticCredentials answers one host's credentials.
type staticCredentials struct{ host, user, secret string }

func (s staticCredentials) Credentials(host string) (string, string, error) {
	if host != s.host {
		return "", "", nil
	}
	return s.user, s.secret, nil
}

// Login checks user and secret against the registry domain (as written in
// references: "docker.io", "localhost:5000") with GET /v2/ through its
// authentication flow, basic or bearer token. Bad credentials are an error
// of class errdefs.ErrUnauthorized carrying the registry's message. A
// registry that asks for no authentication accepts any. Login stores
// nothing: save the credentials in an AuthFile when it succeeds.
func (c *Client) Login(ctx context.Context, domain, user, secret string) error {
	opts := c.opts
	opts.Auth = staticCredentials{host: domain, user: user, secret: secret}
	lc := &Client{
		opts:     opts,
		secure:   c.secure,
		insecure: c.insecure,
		hosts:    map[string]*host{},
		tokens:   map[string]token{},
	}
	resp, err := lc.do(ctx, &request{method: http.MethodGet, domain: domain, path: "/v2/"})
	if err != nil {
		if errors.Is(err, errdefs.ErrUnauthorized) || errors.Is(err, errdefs.ErrForbidden) {
			err = errdefs.Unauthorized(err)
		}
		return fmt.Errorf("login to %s: %w", domain, err)
	}
	discard(resp)
	return nil
}
