package daemon

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/registry"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
	cregistry "github.com/corral-dev/corral/registry"
)

// authKey keys a request's registry credentials in its context.
type authKey struct{}

// withAuth returns ctx carrying the credentials of one request.
func withAuth(ctx context.Context, auth registry.AuthConfig) context.Context {
	return context.WithValue(ctx, authKey{}, auth)
}

// decodeAuth reads an X-Registry-Auth value: base64url (padded or not) of a
// JSON AuthConfig; "" is no credentials.
func decodeAuth(s string) (registry.AuthConfig, error) {
	var auth registry.AuthConfig
	if s == "" {
		return auth, nil
	}
	raw, err := base64.URLEncoding.DecodeString(s)
	if err != nil {
		if raw, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
			return auth, errdefs.InvalidArgument(errors.New("invalid X-Registry-Auth header: must be a valid base64url-encoded string"))
		}
	}
	if err := json.Unmarshal(raw, &auth); err != nil {
		return auth, errdefs.InvalidArgument(fmt.Errorf("invalid X-Registry-Auth header: invalid JSON: %w", err))
	}
	return auth, nil
}

// authFor answers the credentials an X-Registry-Config value (base64 of
// JSON, registry address → AuthConfig, as the docker CLI sends with a
// build) holds for the registry domain; none if it holds none.
func authFor(header, domain string) (registry.AuthConfig, error) {
	if header == "" {
		return registry.AuthConfig{}, nil
	}
	raw, err := base64.URLEncoding.DecodeString(header)
	if err != nil {
		if raw, err = base64.StdEncoding.DecodeString(header); err != nil {
			return registry.AuthConfig{}, errdefs.InvalidArgument(errors.New("invalid X-Registry-Config header: must be base64"))
		}
	}
	var byHost map[string]registry.AuthConfig
	if err := json.Unmarshal(raw, &byHost); err != nil {
		return registry.AuthConfig{}, errdefs.InvalidArgument(fmt.Errorf("invalid X-Registry-Config header: %w", err))
	}
	for k, a := range byHost {
		host, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://"), "/")
		if host == domain || (domain == "docker.io" && (host == "index.docker.io" || host == "registry-1.docker.io")) {
			return a, nil
		}
	}
	return registry.AuthConfig{}, nil
}

// registries is the image store's registry: every call goes through a
// registry client holding the credentials its context carries (one client
// per set of credentials, so that cached tokens are reused).
type registries struct {
	insecure []string

	mu      sync.Mutex
	clients map[registry.AuthConfig]*cregistry.Client
}

func newRegistries(insecure []string) *registries {
	return &registries{insecure: insecure, clients: map[registry.AuthConfig]*cregistry.Client{}}
}

func (r *registries) client(ctx context.Context) *cregistry.Client {
	auth, _ := ctx.Value(authKey{}).(registry.AuthConfig)
	key := registry.AuthConfig{Username: auth.Username, Password: auth.Password}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.clients[key]
	if !ok {
		opts := cregistry.Options{Insecure: r.insecure, UserAgent: "corral"}
		if key.Username != "" || key.Password != "" {
			opts.Auth = requestCredentials{user: key.Username, secret: key.Password}
		}
		c = cregistry.New(opts)
		r.clients[key] = c
	}
	return c
}

// requestCredentials are the credentials a client sent with a request; they
// are for the registry the request names, whatever host asks.
type requestCredentials struct{ user, secret string }

func (c requestCredentials) Credentials(string) (string, string, error) { return c.user, c.secret, nil }

func (r *registries) Resolve(ctx context.Context, ref reference.Named) (ocispec.Descriptor, error) {
	return r.client(ctx).Resolve(ctx, ref)
}

func (r *registries) FetchManifest(ctx context.Context, ref reference.Named, dgstOrTag string) ([]byte, ocispec.Descriptor, error) {
	return r.client(ctx).FetchManifest(ctx, ref, dgstOrTag)
}

func (r *registries) FetchBlob(ctx context.Context, repo reference.Named, desc ocispec.Descriptor) (io.ReadCloser, error) {
	return r.client(ctx).FetchBlob(ctx, repo, desc)
}

func (r *registries) BlobExists(ctx context.Context, repo reference.Named, dgst digest.Digest) (bool, error) {
	return r.client(ctx).BlobExists(ctx, repo, dgst)
}

func (r *registries) PushBlob(ctx context.Context, repo reference.Named, desc ocispec.Descriptor,
	open func() (io.ReadCloser, error), mountFrom []reference.Named) (cregistry.PushResult, error) {
	return r.client(ctx).PushBlob(ctx, repo, desc, open, mountFrom)
}

func (r *registries) PushManifest(ctx context.Context, ref reference.Named, mediaType string, body []byte) (digest.Digest, error) {
	return r.client(ctx).PushManifest(ctx, ref, mediaType, body)
}

// RegistryLogin is POST /auth: it checks the credentials against the
// registry and stores nothing (the client keeps them).
func (i *Images) RegistryLogin(ctx context.Context, auth registry.AuthConfig) (registry.AuthResponse, error) {
	domain := loginDomain(auth.ServerAddress)
	c := i.reg.client(ctx)
	if err := c.Login(ctx, domain, auth.Username, auth.Password); err != nil {
		if errors.Is(err, errdefs.ErrUnauthorized) {
			return registry.AuthResponse{}, errdefs.Unauthorized(fmt.Errorf("login attempt to %s failed: %w", domain, unwrapAll(err)))
		}
		return registry.AuthResponse{}, err
	}
	return registry.AuthResponse{Status: "Login Succeeded"}, nil
}

// loginDomain turns a login's server address into a registry domain as
// references write it: Docker Hub's index URL is docker.io.
func loginDomain(server string) string {
	switch server {
	case "", "https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io":
		return "docker.io"
	}
	if strings.Contains(server, "://") {
		if u, err := url.Parse(server); err == nil && u.Hostname() != "" {
			if u.Port() == "" {
				return u.Hostname()
			}
			return net.JoinHostPort(u.Hostname(), u.Port())
		}
	}
	host, _, _ := strings.Cut(server, "/")
	return host
}

// unwrapAll drops the "login to x:" prefixes of a wrapped error, keeping
// the registry's own answer.
func unwrapAll(err error) error {
	var re *cregistry.ResponseError
	if errors.As(err, &re) {
		return re
	}
	return err
}
