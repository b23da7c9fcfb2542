package registry_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/registry"
	"github.com/corral-dev/corral/registry/registrytest"
)

// creds answers fixed credentials for one host and counts the questions.
type creds struct {
	host, user, secret string
	mu                 sync.Mutex
	asked              []string
}

func (c *creds) Credentials(host string) (string, string, error) {
	c.mu.Lock()
	c.asked = append(c.asked, host)
	c.mu.Unlock()
	if host != c.host {
		return "", "", nil
	}
	return c.user, c.secret, nil
}

func TestBasicAuth(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	reg.RequireBasic("alice", "s3cret")
	im := newTestImage(t, 2000)
	ref := mustRef(t, reg.Host()+"/private/app:v1")

	good := newClient(t, registry.Options{Auth: &creds{host: reg.Host(), user: "alice", secret: "s3cret"}})
	im.push(t, good, ref)
	im.pull(t, good, ref)

	for name, c := range map[string]*registry.Client{
		"anonymous": newClient(t, registry.Options{}),
		"bad":       newClient(t, registry.Options{Auth: &creds{host: reg.Host(), user: "alice", secret: "wrong"}}),
		"otherhost": newClient(t, registry.Options{Auth: &creds{host: "elsewhere", user: "alice", secret: "s3cret"}}),
	} {
		_, err := c.Resolve(ctxFor(t), ref)
		if !errors.Is(err, errdefs.ErrUnauthorized) {
			t.Errorf("%s: error %v, want unauthorized", name, err)
		}
		if err != nil && !strings.Contains(err.Error(), "authentication required") {
			t.Errorf("%s: error %q lacks the registry's message", name, err)
		}
	}
}

func TestBearerAuth(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	reg.RequireBearer("bob", "pw")
	im := newTestImage(t, 2000)
	ref := mustRef(t, reg.Host()+"/team/app:v1")
	cr := &creds{host: reg.Host(), user: "bob", secret: "pw"}
	c := newClient(t, registry.Options{Auth: cr})
	im.push(t, c, ref)
	im.pull(t, c, ref)
	im.pull(t, c, ref)
	// One token for pull,push (the push) and one for pull (the pulls):
	// cached, not asked again.
	if n := reg.CountRequests(http.MethodGet, "/token"); n != 2 {
		t.Errorf("%d token requests, want 2: %q", n, reg.Requests())
	}
	for _, h := range cr.asked {
		if h != reg.Host() {
			t.Errorf("credentials asked for %q", h)
		}
	}

	// Expired tokens: the 401 makes the client fetch a new one.
	reg.ExpireTokens()
	im.pull(t, c, ref)
	if n := reg.CountRequests(http.MethodGet, "/token"); n != 3 {
		t.Errorf("%d token requests after expiry, want 3", n)
	}
}

func TestBearerAnonymous(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	reg.RequireBearer("", "")
	im := newTestImage(t, 100)
	im.addTo(reg, "library/busybox", "latest")
	c := newClient(t, registry.Options{})
	im.pull(t, c, mustRef(t, reg.Host()+"/library/busybox"))
	for _, line := range reg.Requests() {
		if strings.HasPrefix(line, "GET /token") && !strings.Contains(line, "service=registrytest") {
			t.Errorf("token request without the service: %s", line)
		}
	}
}

func TestBearerBadCredentials(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	reg.RequireBearer("bob", "pw")
	c := newClient(t, registry.Options{Auth: &creds{host: reg.Host(), user: "bob", secret: "nope"}})
	_, err := c.Resolve(ctxFor(t), mustRef(t, reg.Host()+"/app:v1"))
	wantClass(t, err, errdefs.ErrUnauthorized, "incorrect username or password")
	if n := reg.CountRequests(http.MethodGet, "/token"); n != 1 {
		t.Errorf("%d token requests, want 1: a 401 is not retried", n)
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	basic := registrytest.New(t)
	basic.RequireBasic("alice", "s3cret")
	bearer := registrytest.New(t)
	bearer.RequireBearer("bob", "pw")
	open := registrytest.New(t)
	c := newClient(t, registry.Options{})
	tests := []struct {
		host, user, secret string
		ok                 bool
		says               string
	}{
		{basic.Host(), "alice", "s3cret", true, ""},
		{basic.Host(), "alice", "bad", false, "authentication required"},
		{bearer.Host(), "bob", "pw", true, ""},
		{bearer.Host(), "bob", "bad", false, "incorrect username or password"},
		{bearer.Host(), "", "", false, "incorrect username or password"},
		{open.Host(), "anyone", "anything", true, ""},
	}
	for _, tt := range tests {
		err := c.Login(ctxFor(t), tt.host, tt.user, tt.secret)
		if tt.ok {
			if err != nil {
				t.Errorf("login %s as %q: %v", tt.host, tt.user, err)
			}
			continue
		}
		if !errors.Is(err, errdefs.ErrUnauthorized) || !strings.Contains(err.Error(), tt.says) || !strings.Contains(err.Error(), "login to "+tt.host) {
			t.Errorf("login %s as %q/%q: %v, want unauthorized saying %q", tt.host, tt.user, tt.secret, err, tt.says)
		}
	}
}

// Many layers pulled at once through one client share one ping and one
// token.
func TestConcurrentPulls(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	reg.RequireBearer("bob", "pw")
	var images []testImage
	for i := range 8 {
		im := newTestImage(t, 10<<10+i)
		im.addTo(reg, "app", "")
		images = append(images, im)
	}
	c := newClient(t, registry.Options{Auth: &creds{host: reg.Host(), user: "bob", secret: "pw"}})
	ref := mustRef(t, reg.Host()+"/app")
	var wg sync.WaitGroup
	errs := make(chan error, len(images))
	for _, im := range images {
		wg.Go(func() {
			got, err := tryFetch(ctxFor(t), c, ref, im.layerDesc)
			if err == nil && len(got) != len(im.layer) {
				err = errors.New("short layer")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := reg.CountRequests(http.MethodGet, "/token"); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
	if n := reg.CountRequests(http.MethodGet, "/v2/"); n != 1+len(images) {
		t.Errorf("%d GETs under /v2/, want one ping and %d blobs", n, len(images))
	}
}
