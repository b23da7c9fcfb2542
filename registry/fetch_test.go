package registry_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
	"github.com/corral-dev/corral/registry"
	"github.com/corral-dev/corral/registry/registrytest"
)

func TestResolveAndFetch(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	im := newTestImage(t, 100<<10)
	im.addTo(reg, "library/app", "v1")
	c := newClient(t, registry.Options{})
	im.pull(t, c, mustRef(t, reg.Host()+"/library/app:v1"))

	// By digest, and with no tag at all ("latest").
	byDigest, err := reference.WithDigest(mustRef(t, reg.Host()+"/library/app"), im.manifestDesc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	im.pull(t, c, byDigest)
	reg.AddManifest("library/app", "latest", im.manifestDesc.MediaType, im.manifest)
	im.pull(t, c, mustRef(t, reg.Host()+"/library/app"))
	if n := reg.CountRequests(http.MethodGet, "/v2/library/app/manifests/v1"); n != 0 {
		t.Errorf("%d GETs of the manifest by tag, want 0 (HEAD resolves)", n)
	}
}

func TestResolveNotFound(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	c := newClient(t, registry.Options{})
	_, err := c.Resolve(ctxFor(t), mustRef(t, reg.Host()+"/nope:latest"))
	wantClass(t, err, errdefs.ErrNotFound, "manifest unknown", "nope")
	_, _, err = c.FetchManifest(ctxFor(t), mustRef(t, reg.Host()+"/nope"), "v1")
	wantClass(t, err, errdefs.ErrNotFound, "manifest unknown")
	if n := reg.CountRequests(http.MethodHead, "/manifests/"); n != 1 {
		t.Errorf("%d HEADs, want 1: a 404 is not retried", n)
	}
}

func TestResolveFallsBackToGet(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	im := newTestImage(t, 10)
	im.addTo(reg, "app", "v1")
	reg.FailNextMatching(1, http.StatusMethodNotAllowed, http.MethodHead, "/manifests/")
	c := newClient(t, registry.Options{})
	desc, err := c.Resolve(ctxFor(t), mustRef(t, reg.Host()+"/app:v1"))
	if err != nil || desc.Digest != im.manifestDesc.Digest {
		t.Fatalf("resolve: %v %+v", err, desc)
	}
	if n := reg.CountRequests(http.MethodGet, "/manifests/v1"); n != 1 {
		t.Errorf("%d GETs, want 1", n)
	}
}

// A registry that answers a generic Content-Type: the media type comes from
// the body.
func TestResolveSniffsMediaType(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	im := newTestImage(t, 10)
	reg.AddBlob("app", im.layer)
	reg.AddBlob("app", im.config)
	reg.AddManifest("app", "v1", "application/json", im.manifest)
	c := newClient(t, registry.Options{})
	desc, err := c.Resolve(ctxFor(t), mustRef(t, reg.Host()+"/app:v1"))
	if err != nil || desc.MediaType != ocispec.MediaTypeImageManifest || desc.Digest != im.manifestDesc.Digest {
		t.Fatalf("resolve: %v %+v", err, desc)
	}
}

func TestFetchManifestWrongDigest(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	im := newTestImage(t, 10)
	im.addTo(reg, "app", "v1")
	reg.CorruptBlob(im.manifestDesc.Digest)
	c := newClient(t, registry.Options{})
	ref := mustRef(t, reg.Host()+"/app")
	_, _, err := c.FetchManifest(ctxFor(t), ref, im.manifestDesc.Digest.String())
	wantClass(t, err, errdefs.ErrInvalidArgument, "digest mismatch", "expected "+im.manifestDesc.Digest.String())
	// By tag: the body must match the registry's Docker-Content-Digest.
	_, _, err = c.FetchManifest(ctxFor(t), ref, "v1")
	wantClass(t, err, errdefs.ErrInvalidArgument, "digest mismatch")
}

func TestFetchBlobWrongDigest(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	im := newTestImage(t, 1000)
	im.addTo(reg, "app", "v1")
	reg.CorruptBlob(im.layerDesc.Digest)
	c := newClient(t, registry.Options{})
	_, err := tryFetch(ctxFor(t), c, mustRef(t, reg.Host()+"/app"), im.layerDesc)
	wantClass(t, err, errdefs.ErrInvalidArgument, "digest mismatch", "expected "+im.layerDesc.Digest.String(), "got sha256:")
}

func TestVerifyReaderSize(t *testing.T) {
	t.Parallel()
	im := newTestImage(t, 100)
	short := im.layerDesc
	short.Size--
	_, err := io.ReadAll(registry.VerifyReader(strings.NewReader(string(im.layer)), short))
	wantClass(t, err, errdefs.ErrInvalidArgument, "size mismatch", "expected 99")
	long := im.layerDesc
	long.Size++
	_, err = io.ReadAll(registry.VerifyReader(strings.NewReader(string(im.layer)), long))
	wantClass(t, err, errdefs.ErrInvalidArgument, "size mismatch", "expected 101, got 100")
}

func TestFetchBlobTruncatedResumes(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	im := newTestImage(t, 1<<20)
	im.addTo(reg, "app", "v1")
	reg.TruncateBlobs(3)
	c := newClient(t, registry.Options{})
	fetchAll(t, c, mustRef(t, reg.Host()+"/app"), im.layerDesc)
	ranges := 0
	for _, line := range reg.Requests() {
		if strings.HasPrefix(line, "GET /v2/app/blobs/") {
			ranges++
		}
	}
	if ranges != 4 {
		t.Errorf("%d blob GETs, want 4 (one, then three resumed): %q", ranges, reg.Requests())
	}
}

// Without Range support a broken download starts again, skipping what was
// read already.
func TestFetchBlobTruncatedNoRange(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	im := newTestImage(t, 300<<10)
	im.addTo(reg, "app", "v1")
	reg.DisableRange(true)
	reg.TruncateBlobs(2)
	c := newClient(t, registry.Options{})
	fetchAll(t, c, mustRef(t, reg.Host()+"/app"), im.layerDesc)
}

func TestFetchBlobTruncatedGivesUp(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	im := newTestImage(t, 64<<10)
	im.addTo(reg, "app", "v1")
	reg.DisableRange(true) // every attempt breaks at the same byte: no progress
	reg.TruncateBlobs(100)
	c := newClient(t, registry.Options{Retries: 2})
	_, err := tryFetch(ctxFor(t), c, mustRef(t, reg.Host()+"/app"), im.layerDesc)
	wantClass(t, err, errdefs.ErrUnavailable, "broken at byte 32768 of 65536", im.layerDesc.Digest.String())
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("error %q does not wrap io.ErrUnexpectedEOF", err)
	}
	if n := reg.CountRequests(http.MethodGet, "/blobs/"); n != 3 {
		t.Errorf("%d blob GETs, want 3 (1 + 2 retries)", n)
	}
}

func TestRetriesServerErrors(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	im := newTestImage(t, 1000)
	im.addTo(reg, "app", "v1")
	reg.FailNext(3, http.StatusInternalServerError)
	c := newClient(t, registry.Options{})
	im.pull(t, c, mustRef(t, reg.Host()+"/app:v1"))

	reg.FailNextMatching(2, http.StatusServiceUnavailable, http.MethodGet, "/blobs/")
	reg.FailNextMatching(1, http.StatusTooManyRequests, http.MethodHead, "/manifests/")
	im.pull(t, c, mustRef(t, reg.Host()+"/app:v1"))
}

func TestRetriesExhausted(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	im := newTestImage(t, 10)
	im.addTo(reg, "app", "v1")
	c := newClient(t, registry.Options{Retries: -1})
	ref := mustRef(t, reg.Host()+"/app:v1")
	if _, err := c.Resolve(ctxFor(t), ref); err != nil { // ping done
		t.Fatal(err)
	}
	reg.FailNext(1, http.StatusBadGateway)
	_, err := c.Resolve(ctxFor(t), ref)
	wantClass(t, err, errdefs.ErrUnavailable, "502 Bad Gateway")

	c = newClient(t, registry.Options{Retries: 2})
	reg.FailNext(10, http.StatusInternalServerError)
	_, err = c.Resolve(ctxFor(t), ref)
	wantClass(t, err, errdefs.ErrUnavailable, "500", "unknown: injected failure")
}

func TestSlowRegistryDeadline(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	reg.Latency(5 * time.Second)
	c := newClient(t, registry.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Resolve(ctx, mustRef(t, reg.Host()+"/app:v1"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v after a 200ms deadline", d)
	}
}

// A blob read is bound to the context FetchBlob got.
func TestFetchBlobCanceledMidway(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	im := newTestImage(t, 4<<20)
	im.addTo(reg, "app", "v1")
	c := newClient(t, registry.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	rc, err := c.FetchBlob(ctx, mustRef(t, reg.Host()+"/app"), im.layerDesc)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, 1024)
	if _, err := io.ReadFull(rc, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = io.ReadAll(rc)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v, want context.Canceled", err)
	}
}

func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := newClient(t, registry.Options{Retries: 2})
	_, err = c.Resolve(ctxFor(t), mustRef(t, addr+"/app:v1"))
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "ping registry") {
		t.Fatalf("error %v, want connection refused from the ping", err)
	}
}
