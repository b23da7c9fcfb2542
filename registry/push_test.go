package registry_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
	"github.com/corral-dev/corral/registry"
	"github.com/corral-dev/corral/registry/registrytest"
)

func TestPushRoundTrip(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	im := newTestImage(t, 50<<10)
	c := newClient(t, registry.Options{})
	ref := mustRef(t, reg.Host()+"/team/app:v1")
	for _, res := range im.push(t, c, ref) {
		if res.Status != registry.Uploaded {
			t.Errorf("first push: status %v, want Uploaded", res.Status)
		}
	}
	if got, ok := reg.Blob("team/app", im.layerDesc.Digest); !ok || !bytes.Equal(got, im.layer) {
		t.Fatal("layer not stored")
	}
	if mt, body, ok := reg.Manifest("team/app", "v1"); !ok || mt != im.manifestDesc.MediaType || !bytes.Equal(body, im.manifest) {
		t.Fatalf("manifest not stored under its tag (%q)", mt)
	}
	if n := reg.CountRequests(http.MethodPatch, ""); n != 0 {
		t.Errorf("%d PATCHes for small blobs, want 0 (one PUT each)", n)
	}
	im.pull(t, newClient(t, registry.Options{}), ref)
	for _, res := range im.push(t, c, ref) {
		if res.Status != registry.Exists {
			t.Errorf("second push: status %v, want Exists", res.Status)
		}
	}
	ok, err := c.BlobExists(ctxFor(t), ref, im.configDesc.Digest)
	if err != nil || !ok {
		t.Fatalf("BlobExists = %v, %v", ok, err)
	}
	ok, err = c.BlobExists(ctxFor(t), ref, digest.FromString("nothing"))
	if err != nil || ok {
		t.Fatalf("BlobExists(missing) = %v, %v", ok, err)
	}
}

func TestPushChunked(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	im := newTestImage(t, 4500)
	c := newClient(t, registry.Options{ChunkSize: 1000})
	ref := mustRef(t, reg.Host()+"/app:v1")
	im.push(t, c, ref)
	if got, _ := reg.Blob("app", im.layerDesc.Digest); !bytes.Equal(got, im.layer) {
		t.Fatal("layer not stored")
	}
	if n := reg.CountRequests(http.MethodPatch, "/blobs/uploads/"); n != 5 {
		t.Errorf("%d PATCHes of 1000 bytes for 4500 bytes, want 5", n)
	}
}

// A failing PATCH is resumed from the offset the registry reports, reading
// the source again from there.
func TestPushChunkedResumes(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	im := newTestImage(t, 4500)
	c := newClient(t, registry.Options{ChunkSize: 1000})
	ref := mustRef(t, reg.Host()+"/app:v1")
	if _, err := c.BlobExists(ctxFor(t), ref, im.layerDesc.Digest); err != nil {
		t.Fatal(err)
	}
	reg.FailNextMatching(2, http.StatusInternalServerError, http.MethodPatch, "")
	var opens atomic.Int32
	open := func() (io.ReadCloser, error) {
		opens.Add(1)
		return io.NopCloser(bytes.NewReader(im.layer)), nil
	}
	res, err := c.PushBlob(ctxFor(t), ref, im.layerDesc, open, nil)
	if err != nil || res.Status != registry.Uploaded {
		t.Fatalf("push: %v %v", res, err)
	}
	if got, _ := reg.Blob("app", im.layerDesc.Digest); !bytes.Equal(got, im.layer) {
		t.Fatal("layer not stored intact")
	}
	if n := reg.CountRequests(http.MethodGet, "/blobs/uploads/"); n != 2 {
		t.Errorf("%d upload status requests, want 2", n)
	}
	if n := opens.Load(); n != 3 {
		t.Errorf("source opened %d times, want 3", n)
	}
}

func TestPushRetriesMonolithic(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	im := newTestImage(t, 2000)
	c := newClient(t, registry.Options{})
	reg.FailNextMatching(2, http.StatusServiceUnavailable, http.MethodPut, "/blobs/uploads/")
	im.push(t, c, mustRef(t, reg.Host()+"/app:v1"))
	if n := reg.CountRequests(http.MethodPost, "/blobs/uploads/"); n != 4 {
		t.Errorf("%d upload sessions, want 4 (layer: 3, config: 1)", n)
	}
}

func TestPushMount(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	reg.RequireBearer("", "")
	im := newTestImage(t, 3000)
	im.addTo(reg, "base", "v1")
	c := newClient(t, registry.Options{})
	ref := mustRef(t, reg.Host()+"/derived:v1")
	from := []reference.Named{mustRef(t, "docker.io/library/other"), mustRef(t, reg.Host()+"/base")}
	res, err := c.PushBlob(ctxFor(t), ref, im.layerDesc, opener(im.layer), from)
	if err != nil || res.Status != registry.Mounted || res.MountedFrom.String() != reg.Host()+"/base" {
		t.Fatalf("push: %+v %v", res, err)
	}
	if _, ok := reg.Blob("derived", im.layerDesc.Digest); !ok {
		t.Fatal("blob not mounted")
	}
	if n := reg.CountRequests(http.MethodPut, "") + reg.CountRequests(http.MethodPatch, ""); n != 0 {
		t.Errorf("%d uploads, want none", n)
	}
	// The token asked for covers both repositories.
	found := false
	for _, line := range reg.Requests() {
		if strings.HasPrefix(line, "GET /token") && strings.Contains(line, "repository%3Abase%3Apull&") &&
			strings.Contains(line, "repository%3Aderived%3Apull%2Cpush") {
			found = true
		}
	}
	if !found {
		t.Errorf("no token request for both scopes: %q", reg.Requests())
	}
}

// A mount the registry refuses opens an upload session, which the push
// uses.
func TestPushMountRefused(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	im := newTestImage(t, 3000)
	c := newClient(t, registry.Options{})
	ref := mustRef(t, reg.Host()+"/derived:v1")
	res, err := c.PushBlob(ctxFor(t), ref, im.layerDesc, opener(im.layer), []reference.Named{mustRef(t, reg.Host()+"/base")})
	if err != nil || res.Status != registry.Uploaded {
		t.Fatalf("push: %+v %v", res, err)
	}
	if n := reg.CountRequests(http.MethodPost, "/blobs/uploads/"); n != 1 {
		t.Errorf("%d POSTs, want 1 (the mount's session is reused)", n)
	}
}

func TestPushBlobWrongDigest(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	im := newTestImage(t, 3000)
	c := newClient(t, registry.Options{})
	desc := im.layerDesc
	desc.Digest = digest.FromString("something else")
	_, err := c.PushBlob(ctxFor(t), mustRef(t, reg.Host()+"/app"), desc, opener(im.layer), nil)
	wantClass(t, err, errdefs.ErrInvalidArgument, "digest invalid", desc.Digest.String())
	if n := reg.CountRequests(http.MethodPost, "/blobs/uploads/"); n != 1 {
		t.Errorf("%d sessions, want 1: a digest error is not retried", n)
	}
}

func TestPushManifestErrors(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	im := newTestImage(t, 100)
	c := newClient(t, registry.Options{})
	ref := mustRef(t, reg.Host()+"/app:v1")
	_, err := c.PushManifest(ctxFor(t), ref, im.manifestDesc.MediaType, im.manifest)
	wantClass(t, err, errdefs.ErrInvalidArgument, "manifest blob unknown", im.layerDesc.Digest.String())

	wrong, err := reference.WithDigest(reference.TrimNamed(ref), digest.FromString("x"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PushManifest(ctxFor(t), wrong, im.manifestDesc.MediaType, im.manifest)
	wantClass(t, err, errdefs.ErrInvalidArgument, "content has digest")
}

// Pushing by digest (an index's children) stores no tag.
func TestPushManifestByDigest(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	im := newTestImage(t, 100)
	im.addTo(reg, "app", "")
	c := newClient(t, registry.Options{})
	ref, err := reference.WithDigest(mustRef(t, reg.Host()+"/app"), im.manifestDesc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PushManifest(ctxFor(t), ref, im.manifestDesc.MediaType, im.manifest); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := reg.Manifest("app", "latest"); ok {
		t.Fatal("a push by digest tagged latest")
	}
}
