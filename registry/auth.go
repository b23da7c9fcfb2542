package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/corral-dev/corral/errdefs"
)

// challenge is one parsed WWW-Authenticate challenge.
type challenge struct {
	scheme string            // lower case: "basic", "bearer"
	params map[string]string // keys lower case
}

// parseChallenges parses WWW-Authenticate header values (RFC 7235): a
// scheme followed by comma-separated key=value or key="quoted value"
// parameters, several challenges possibly in one value.
func parseChallenges(values []string) []challenge {
	var out []challenge
	for _, v := range values {
		p := &challengeParser{s: v}
		for {
			p.skip(" \t,")
			scheme := p.token()
			if scheme == "" {
				break
			}
			ch := challenge{scheme: strings.ToLower(scheme), params: map[string]string{}}
			p.params(ch.params)
			out = append(out, ch)
		}
	}
	return out
}

type challengeParser struct {
	s string
	i int
}

func (p *challengeParser) skip(chars string) {
	for p.i < len(p.s) && strings.IndexByte(chars, p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *challengeParser) token() string {
	start := p.i
	for p.i < len(p.s) && strings.IndexByte(" \t,=\"", p.s[p.i]) < 0 {
		p.i++
	}
	return p.s[start:p.i]
}

// params reads key=value pairs until the next challenge's scheme (a token
// not followed by "=") or the end.
func (p *challengeParser) params(into map[string]string) {
	for {
		p.skip(" \t,")
		save := p.i
		key := p.token()
		p.skip(" \t")
		if key == "" || p.i >= len(p.s) || p.s[p.i] != '=' {
			p.i = save
			return
		}
		p.i++
		p.skip(" \t")
		into[strings.ToLower(key)] = p.value()
	}
}

func (p *challengeParser) value() string {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return p.token()
	}
	p.i++
	var b strings.Builder
	for p.i < len(p.s) && p.s[p.i] != '"' {
		if p.s[p.i] == '\\' && p.i+1 < len(p.s) {
			p.i++
		}
		b.WriteByte(p.s[p.i])
		p.i++
	}
	if p.i < len(p.s) {
		p.i++ // closing quote
	}
	return b.String()
}

// pickChallenge prefers bearer over basic and ignores other schemes.
func pickChallenge(h http.Header) *challenge {
	var basic *challenge
	for _, ch := range parseChallenges(h.Values("WWW-Authenticate")) {
		switch ch.scheme {
		case "bearer":
			return &ch
		case "basic":
			if basic == nil {
				basic = &ch
			}
		}
	}
	return basic
}

// Scopes of the token requests.
func pullScope(name string) string { return "repository:" + name + ":pull" }
func pushScope(name string) string { return "repository:" + name + ":pull,push" }

// token is a cached bearer token.
type token struct {
	value   string
	expires time.Time
}

func tokenKey(domain string, scopes []string) string {
	s := slices.Clone(scopes)
	slices.Sort(s)
	return domain + " " + strings.Join(slices.Compact(s), " ")
}

// credentials asks Options.Auth for domain's credentials.
func (c *Client) credentials(domain string) (string, string, error) {
	if c.opts.Auth == nil {
		return "", "", nil
	}
	user, secret, err := c.opts.Auth.Credentials(domain)
	if err != nil {
		return "", "", fmt.Errorf("credentials for %s: %w", domain, err)
	}
	return user, secret, nil
}

// authorize sets req's Authorization for h's current challenge.
func (c *Client) authorize(ctx context.Context, h *host, req *http.Request, scopes []string) error {
	ch := h.getChallenge()
	if ch == nil {
		return nil
	}
	switch ch.scheme {
	case "basic":
		user, secret, err := c.credentials(h.domain)
		if err != nil {
			return err
		}
		if user != "" || secret != "" {
			req.SetBasicAuth(user, secret)
		}
	case "bearer":
		tok, err := c.token(ctx, h, *ch, scopes)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return nil
}

// token returns a cached token for scopes or fetches one; concurrent
// requests for the same token share one fetch.
func (c *Client) token(ctx context.Context, h *host, ch challenge, scopes []string) (string, error) {
	key := tokenKey(h.domain, scopes)
	c.mu.Lock()
	t, ok := c.tokens[key]
	c.mu.Unlock()
	if ok && time.Now().Before(t.expires) {
		return t.value, nil
	}
	v, err, _ := c.flight.Do(key, func() (any, error) {
		t, err := c.fetchToken(ctx, h, ch, scopes)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.tokens[key] = t
		c.mu.Unlock()
		return t.value, nil
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

func (c *Client) dropToken(domain string, scopes []string) {
	c.mu.Lock()
	delete(c.tokens, tokenKey(domain, scopes))
	c.mu.Unlock()
}

// fetchToken asks the challenge's realm for a token (the distribution token
// flow: GET realm?service=...&scope=..., basic credentials when configured).
func (c *Client) fetchToken(ctx context.Context, h *host, ch challenge, scopes []string) (token, error) {
	user, secret, err := c.credentials(h.domain)
	if err != nil {
		return token{}, err
	}
	realm, err := c.realmURL(ch, user != "" || secret != "")
	if err != nil {
		return token{}, err
	}
	q := realm.Query()
	if svc := ch.params["service"]; svc != "" {
		q.Set("service", svc)
	}
	for _, s := range scopes {
		q.Add("scope", s)
	}
	if user != "" {
		q.Set("account", user)
	}
	realm.RawQuery = q.Encode()
	var t token
	err = c.retry(ctx, func() error {
		var err error
		t, err = c.tokenRequest(ctx, realm, user, secret)
		return err
	})
	if err != nil {
		return token{}, fmt.Errorf("get token from %s: %w", realm.Host, err)
	}
	return t, nil
}

// realmURL checks the realm: http or https, and never plain http with
// credentials unless the realm's host is insecure (loopback or configured).
func (c *Client) realmURL(ch challenge, withCreds bool) (*url.URL, error) {
	realm, err := url.Parse(ch.params["realm"])
	if err != nil || realm.Host == "" || (realm.Scheme != "https" && realm.Scheme != "http") {
		return nil, errdefs.InvalidArgument(fmt.Errorf("bad token realm %q", ch.params["realm"]))
	}
	if realm.Scheme == "http" && withCreds && !c.isInsecure(realm.Host) {
		return nil, errdefs.Wrap(errdefs.ErrForbidden,
			fmt.Errorf("refusing to send credentials over plain http to token realm %s", realm.Host))
	}
	return realm, nil
}

func (c *Client) tokenRequest(ctx context.Context, realm *url.URL, user, secret string) (token, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, realm.String(), nil)
	if err != nil {
		return token{}, noRetry(err)
	}
	req.Header.Set("User-Agent", c.opts.UserAgent)
	if user != "" || secret != "" {
		req.SetBasicAuth(user, secret)
	}
	client := c.secure
	if c.isInsecure(realm.Host) {
		client = c.insecure
	}
	resp, err := client.Do(req)
	if err != nil {
		return token{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return token{}, newResponseError(resp)
	}
	defer resp.Body.Close()
	return decodeToken(resp.Body)
}

func decodeToken(r io.Reader) (token, error) {
	var answer struct {
		Token       string    `json:"token"`
		AccessToken string    `json:"access_token"`
		ExpiresIn   int       `json:"expires_in"`
		IssuedAt    time.Time `json:"issued_at"`
	}
	if err := json.NewDecoder(io.LimitReader(r, 1<<20)).Decode(&answer); err != nil {
		return token{}, noRetry(fmt.Errorf("decode token answer: %w", err))
	}
	t := token{value: answer.Token}
	if t.value == "" {
		t.value = answer.AccessToken
	}
	if t.value == "" {
		return token{}, noRetry(fmt.Errorf("token answer has no token"))
	}
	// The spec's default lifetime is 60s; renew 10% early. issued_at is
	// the server's clock, so the lifetime counts from now.
	life := time.Duration(answer.ExpiresIn) * time.Second
	if life <= 0 {
		life = 60 * time.Second
	}
	t.expires = time.Now().Add(life - life/10)
	return t, nil
}
