package registry_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/corral-dev/corral/registry"
	"github.com/corral-dev/corral/registry/registrytest"
)

// redirectTransport dials every address to the fake registry, so that a
// non-loopback registry name can be tested without the network.
func redirectTransport(reg *registrytest.Registry) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, reg.Host())
	}
	return tr
}

// A registry that is neither loopback nor configured insecure is spoken
// to over verified https only: never plain http.
func TestSecureHostNeverPlainHTTP(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t) // plain http
	im := newTestImage(t, 100)
	im.addTo(reg, "app", "v1")
	c := newClient(t, registry.Options{Transport: redirectTransport(reg)})
	_, err := c.Resolve(ctxFor(t), mustRef(t, "registry.example.com/app:v1"))
	if err == nil || !strings.Contains(err.Error(), "HTTP response to HTTPS client") {
		t.Fatalf("resolve over http: %v, want refused", err)
	}
	if n := len(reg.Requests()); n != 0 {
		t.Fatalf("%d requests reached the plain http registry: %q", n, reg.Requests())
	}

	// Configured insecure: https is tried, then http.
	c = newClient(t, registry.Options{Transport: redirectTransport(reg), Insecure: []string{"registry.example.com"}})
	im.pull(t, c, mustRef(t, "registry.example.com/app:v1"))
}

// A certificate that does not verify is refused at once (not retried) for
// a secure host, and accepted for an insecure one.
func TestUnverifiedTLS(t *testing.T) {
	t.Parallel()
	reg := registrytest.NewTLS(t)
	im := newTestImage(t, 100)
	im.addTo(reg, "app", "v1")
	c := newClient(t, registry.Options{Transport: redirectTransport(reg)})
	_, err := c.Resolve(ctxFor(t), mustRef(t, "registry.example.com/app:v1"))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("resolve: %v, want a certificate error", err)
	}
	c = newClient(t, registry.Options{Transport: redirectTransport(reg), Insecure: []string{"registry.example.com"}})
	im.pull(t, c, mustRef(t, "registry.example.com/app:v1"))
}

// Loopback registries are insecure: plain http (the other tests) and https
// with a self-signed certificate both work, and bearer tokens too.
func TestLoopbackTLS(t *testing.T) {
	t.Parallel()
	reg := registrytest.NewTLS(t)
	reg.RequireBearer("u", "p")
	im := newTestImage(t, 100)
	ref := mustRef(t, reg.Host()+"/app:v1")
	c := newClient(t, registry.Options{Auth: &creds{host: reg.Host(), user: "u", secret: "p"}})
	im.push(t, c, ref)
	im.pull(t, c, ref)
}

// Docker Hub references go to registry-1.docker.io, with credentials asked
// for docker.io.
func TestDockerHubHost(t *testing.T) {
	t.Parallel()
	reg := registrytest.NewTLS(t)
	reg.RequireBasic("hubuser", "pw")
	im := newTestImage(t, 100)
	im.addTo(reg, "library/busybox", "latest")
	tr := redirectTransport(reg)
	var mu sync.Mutex
	var hosts []string
	inner := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		hosts = append(hosts, addr)
		mu.Unlock()
		return inner(ctx, network, addr)
	}
	cr := &creds{host: "docker.io", user: "hubuser", secret: "pw"}
	c := newClient(t, registry.Options{Transport: tr, Auth: cr, Insecure: []string{"registry-1.docker.io"}})
	im.pull(t, c, mustRef(t, "busybox"))
	mu.Lock()
	defer mu.Unlock()
	for _, h := range hosts {
		if h != "registry-1.docker.io:443" {
			t.Errorf("dialed %s", h)
		}
	}
	if len(cr.asked) == 0 || cr.asked[0] != "docker.io" {
		t.Errorf("credentials asked for %q, want docker.io", cr.asked)
	}
}
