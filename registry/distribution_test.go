package registry_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
	"github.com/corral-dev/corral/registry"
)

// distributionBinary is Debian's docker-registry (distribution 2.8).
const distributionBinary = "/usr/bin/docker-registry"

// testHtpasswd is "tester" with password "corral-test-pw" (bcrypt, cost 4).
const testHtpasswd = "tester:$2b$04$ifGs.k1ANTErx2tjp0bv8Ok6NkmUKwkIuVebCs6S61DDbz5dSqwau\n"

// startDistribution runs docker-registry on 127.0.0.1 with its storage in
// a temporary directory, basic auth when htpasswd is set; it returns the
// registry's host:port. The process is killed when the test ends.
func startDistribution(t *testing.T, htpasswd bool) string {
	t.Helper()
	if _, err := os.Stat(distributionBinary); err != nil {
		t.Skipf("docker-registry not installed (apt-get install docker-registry): %v", err)
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"+
		"storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n"+
		"http:\n  addr: %s\n  secret: corral-test-secret\n", filepath.Join(dir, "data"), addr)
	if htpasswd {
		pw := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(pw, []byte(testHtpasswd), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: corral-test\n    path: %s\n", pw)
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	cmd := exec.Command(distributionBinary, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start docker-registry: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	waitReady(t, addr, exited, &out)
	return addr
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitReady polls GET /v2/ until the registry answers.
func waitReady(t *testing.T, addr string, exited <-chan error, out *lockedBuffer) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("docker-registry exited: %v\n%s", err, out.String())
		default:
		}
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("docker-registry not ready on %s after 15s\n%s", addr, out.String())
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestDistribution pushes an image to a real registry (chunked upload,
// existing-blob checks, cross-repository mount, OCI and Docker manifests,
// an index) and pulls it back with identical digests.
func TestDistribution(t *testing.T) {
	t.Parallel()
	host := startDistribution(t, false)
	im := newTestImage(t, 300<<10)
	counter := &countingTransport{rt: http.DefaultTransport}
	c := newClient(t, registry.Options{ChunkSize: 64 << 10, Transport: counter})
	ref := mustRef(t, host+"/corral/test:v1")
	for _, res := range im.push(t, c, ref) {
		if res.Status != registry.Uploaded {
			t.Errorf("push: %v, want Uploaded", res.Status)
		}
	}
	if n := counter.count(http.MethodPatch); n != 5 {
		t.Errorf("%d PATCHes for 300KiB in 64KiB chunks, want 5", n)
	}
	im.pull(t, newClient(t, registry.Options{}), ref)
	for _, res := range im.push(t, c, ref) {
		if res.Status != registry.Exists {
			t.Errorf("push again: %v, want Exists", res.Status)
		}
	}

	other := mustRef(t, host+"/corral/other:v1")
	res, err := c.PushBlob(ctxFor(t), other, im.layerDesc, opener(im.layer), []reference.Named{ref})
	if err != nil || res.Status != registry.Mounted || res.MountedFrom.String() != host+"/corral/test" {
		t.Fatalf("mount: %+v %v", res, err)
	}

	_, err = c.Resolve(ctxFor(t), mustRef(t, host+"/corral/test:nope"))
	wantClass(t, err, errdefs.ErrNotFound, "manifest unknown")
	_, err = tryFetch(ctxFor(t), c, ref, ocispec.Descriptor{Digest: digest.FromString("x"), Size: 1})
	wantClass(t, err, errdefs.ErrNotFound, "blob unknown")

	testDistributionMediaTypes(t, c, host, im)
}

// testDistributionMediaTypes stores a Docker schema2 manifest and an OCI
// index and resolves each to its own media type.
func testDistributionMediaTypes(t *testing.T, c *registry.Client, host string, im testImage) {
	docker, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     registry.MediaTypeDockerManifest,
		"config": map[string]any{"mediaType": "application/vnd.docker.container.image.v1+json",
			"digest": im.configDesc.Digest, "size": im.configDesc.Size},
		"layers": []map[string]any{{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
			"digest": im.layerDesc.Digest, "size": im.layerDesc.Size}},
	})
	if err != nil {
		t.Fatal(err)
	}
	index, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{{MediaType: im.manifestDesc.MediaType, Digest: im.manifestDesc.Digest,
			Size: im.manifestDesc.Size, Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		tag, mediaType string
		body           []byte
	}{{"docker", registry.MediaTypeDockerManifest, docker}, {"index", ocispec.MediaTypeImageIndex, index}} {
		ref := mustRef(t, host+"/corral/test:"+m.tag)
		dg, err := c.PushManifest(ctxFor(t), ref, m.mediaType, m.body)
		if err != nil {
			t.Fatalf("push %s: %v", m.tag, err)
		}
		desc, err := c.Resolve(ctxFor(t), ref)
		if err != nil || desc.Digest != dg || desc.MediaType != m.mediaType || desc.Size != int64(len(m.body)) {
			t.Fatalf("resolve %s: %+v %v", m.tag, desc, err)
		}
		body, _, err := c.FetchManifest(ctxFor(t), ref, "")
		if err != nil || !bytes.Equal(body, m.body) {
			t.Fatalf("fetch %s: %v", m.tag, err)
		}
	}
}

// TestDistributionAuth logs in to a real registry with htpasswd (basic)
// authentication and pushes and pulls with the stored credentials.
func TestDistributionAuth(t *testing.T) {
	t.Parallel()
	host := startDistribution(t, true)
	c := newClient(t, registry.Options{})
	err := c.Login(ctxFor(t), host, "tester", "wrong")
	if !errors.Is(err, errdefs.ErrUnauthorized) {
		t.Fatalf("login with a bad password: %v, want unauthorized", err)
	}
	t.Logf("bad login says: %v", err)
	if err := c.Login(ctxFor(t), host, "tester", "corral-test-pw"); err != nil {
		t.Fatalf("login: %v", err)
	}

	im := newTestImage(t, 10<<10)
	ref := mustRef(t, host+"/private/app:v1")
	_, err = c.PushBlob(ctxFor(t), ref, im.layerDesc, opener(im.layer), nil)
	wantClass(t, err, errdefs.ErrUnauthorized)

	auth, err := registry.LoadAuthFile(filepath.Join(t.TempDir(), "auth.json"))
	if err != nil {
		t.Fatal(err)
	}
	auth.Set(host, "tester", "corral-test-pw")
	c = newClient(t, registry.Options{Auth: auth})
	im.push(t, c, ref)
	im.pull(t, c, ref)
}

// countingTransport counts requests by method.
type countingTransport struct {
	rt http.RoundTripper
	mu sync.Mutex
	n  map[string]int
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[req.Method]++
	c.mu.Unlock()
	return c.rt.RoundTrip(req)
}

func (c *countingTransport) count(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[method]
}
