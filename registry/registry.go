// Package registry is corral's client of the distribution API v2 (the
// protocol of Docker Hub, distribution's registry, and every OCI registry):
// resolving tags, fetching manifests and blobs, pushing them, and the basic
// and bearer-token authentication flows, with retries and resumed downloads.
// AuthFile keeps credentials in docker's config.json "auths" format.
//
// A Client is safe for concurrent use; it keeps per registry the scheme that
// worked, the last authentication challenge and cached tokens.
package registry

import (
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Defaults of Options' zero values.
const (
	DefaultRetries   = 3
	DefaultBackoff   = 250 * time.Millisecond
	DefaultChunkSize = 16 << 20
	defaultUserAgent = "corral"
	maxBackoff       = 10 * time.Second
)

// Credentials supplies the user name and secret (password or token) for a
// registry host as written in references ("docker.io" for Docker Hub,
// "localhost:5000"). No credentials is "", "", nil.
type Credentials interface {
	Credentials(host string) (user, secret string, err error)
}

// Options configures a Client. The zero value is usable.
type Options struct {
	// Auth supplies credentials; nil means anonymous.
	Auth Credentials
	// Insecure lists registries that may be reached over plain http or
	// https with an unverified certificate: "host", "host:port" or a CIDR
	// such as "10.0.0.0/8". Loopback hosts are always insecure.
	Insecure []string
	// Transport sends the requests; nil means a clone of
	// http.DefaultTransport keeping more idle connections per host and
	// without transparent gzip. An *http.Transport is cloned with TLS
	// verification off for insecure hosts; another RoundTripper is used
	// as is for every host.
	Transport http.RoundTripper
	// Retries is how many times a request failing with a 5xx or 429 status
	// or a connection error is retried, and how many times in a row a broken
	// blob download is resumed: 0 means DefaultRetries, negative none.
	Retries int
	// Backoff is the first delay between retries, doubled each time (with
	// jitter, at most 10s); 0 means DefaultBackoff.
	Backoff time.Duration
	// ChunkSize is the size of each PATCH of a chunked blob upload; blobs
	// no larger go up in one PUT. 0 means DefaultChunkSize.
	ChunkSize int64
	// UserAgent is sent with every request; "" means "corral".
	UserAgent string
}

// Client talks to registries.
type Client struct {
	opts     Options
	secure   *http.Client // verifies TLS
	insecure *http.Client // for insecure hosts: TLS not verified
	flight   singleflight.Group

	// mu guards hosts and tokens.
	mu     sync.Mutex
	hosts  map[string]*host // by reference domain
	tokens map[string]token // by tokenKey
}

// New returns a Client configured by opts.
func New(opts Options) *Client {
	if opts.Retries == 0 {
		opts.Retries = DefaultRetries
	} else if opts.Retries < 0 {
		opts.Retries = 0
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = DefaultChunkSize
	}
	if opts.UserAgent == "" {
		opts.UserAgent = defaultUserAgent
	}
	rt := opts.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// Pulls fetch several layers at once from one host: keep their
		// connections. Blobs are compressed already, and byte offsets
		// (Range on resume) must be the registry's.
		t.MaxIdleConnsPerHost = 16
		t.DisableCompression = true
		rt = t
	}
	return &Client{
		opts:     opts,
		secure:   &http.Client{Transport: rt},
		insecure: &http.Client{Transport: insecureTransport(rt)},
		hosts:    map[string]*host{},
		tokens:   map[string]token{},
	}
}

// insecureTransport returns rt with TLS verification off when rt is an
// *http.Transport; any other RoundTripper is used as given.
func insecureTransport(rt http.RoundTripper) http.RoundTripper {
	t, ok := rt.(*http.Transport)
	if !ok {
		return rt
	}
	t = t.Clone()
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	t.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // only for hosts configured insecure
	return t
}

// Docker Hub's names: references say docker.io, the API is served by
// registry-1.docker.io, and docker keys its credentials by the v1 index URL.
const (
	dockerHubDomain = "docker.io"
	dockerHubAPI    = "registry-1.docker.io"
	dockerHubIndex  = "index.docker.io"
	// DockerHubAuthKey is the key of Docker Hub's entry in an auth file.
	DockerHubAuthKey = "https://index.docker.io/v1/"
)

// apiHost returns the host serving the API of the registry named domain.
func apiHost(domain string) string {
	switch domain {
	case dockerHubDomain, dockerHubIndex:
		return dockerHubAPI
	}
	return domain
}

// isDockerHub reports whether host names Docker Hub in any of its spellings.
func isDockerHub(host string) bool {
	switch host {
	case dockerHubDomain, dockerHubAPI, dockerHubIndex:
		return true
	}
	return false
}

// isInsecure reports whether host (with or without a port) may be reached
// without verified TLS: loopback hosts and those matching Options.Insecure.
func (c *Client) isInsecure(host string) bool {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.Trim(name, "[]")
	ip := net.ParseIP(name)
	if name == "localhost" || (ip != nil && ip.IsLoopback()) {
		return true
	}
	for _, entry := range c.opts.Insecure {
		if entry == host || entry == name {
			return true
		}
		if _, cidr, err := net.ParseCIDR(entry); err == nil && ip != nil && cidr.Contains(ip) {
			return true
		}
	}
	return false
}
