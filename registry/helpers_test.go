package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/internal/reference"
	"github.com/corral-dev/corral/registry"
	"github.com/corral-dev/corral/registry/registrytest"
)

// newClient returns a client with fast retries.
func newClient(t *testing.T, opts registry.Options) *registry.Client {
	t.Helper()
	if opts.Backoff == 0 {
		opts.Backoff = time.Millisecond
	}
	return registry.New(opts)
}

func mustRef(t *testing.T, s string) reference.Named {
	t.Helper()
	ref, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return ref
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testImage is a one-layer OCI image.
type testImage struct {
	layer, config, manifest []byte
	layerDesc, configDesc   ocispec.Descriptor
	manifestDesc            ocispec.Descriptor
}

func newTestImage(t *testing.T, layerSize int) testImage {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(layerSize), 42))
	im := testImage{layer: make([]byte, layerSize)}
	for i := range im.layer {
		im.layer[i] = byte(rng.Uint32())
	}
	im.config = []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` +
		digest.FromBytes(im.layer).String() + `"]}}`)
	im.layerDesc = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer,
		Digest: digest.FromBytes(im.layer), Size: int64(len(im.layer))}
	im.configDesc = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig,
		Digest: digest.FromBytes(im.config), Size: int64(len(im.config))}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    im.configDesc,
		Layers:    []ocispec.Descriptor{im.layerDesc},
	}
	var err error
	if im.manifest, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	im.manifestDesc = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest,
		Digest: digest.FromBytes(im.manifest), Size: int64(len(im.manifest))}
	return im
}

// addTo stores the image in the fake registry directly.
func (im testImage) addTo(reg *registrytest.Registry, repo, tag string) {
	reg.AddBlob(repo, im.layer)
	reg.AddBlob(repo, im.config)
	reg.AddManifest(repo, tag, im.manifestDesc.MediaType, im.manifest)
}

// push sends the image through the client.
func (im testImage) push(t *testing.T, c *registry.Client, ref reference.Named) []registry.PushResult {
	t.Helper()
	ctx := ctxFor(t)
	var results []registry.PushResult
	for _, b := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{{im.layerDesc, im.layer}, {im.configDesc, im.config}} {
		res, err := c.PushBlob(ctx, ref, b.desc, opener(b.data), nil)
		if err != nil {
			t.Fatalf("push blob: %v", err)
		}
		results = append(results, res)
	}
	got, err := c.PushManifest(ctx, ref, im.manifestDesc.MediaType, im.manifest)
	if err != nil {
		t.Fatalf("push manifest: %v", err)
	}
	if got != im.manifestDesc.Digest {
		t.Fatalf("push manifest: digest %s, want %s", got, im.manifestDesc.Digest)
	}
	return results
}

// pull fetches the image ref names through the client and checks it.
func (im testImage) pull(t *testing.T, c *registry.Client, ref reference.Named) {
	t.Helper()
	ctx := ctxFor(t)
	desc, err := c.Resolve(ctx, ref)
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	if desc.Digest != im.manifestDesc.Digest || desc.Size != im.manifestDesc.Size || desc.MediaType != im.manifestDesc.MediaType {
		t.Fatalf("resolve: %+v, want %+v", desc, im.manifestDesc)
	}
	body, mdesc, err := c.FetchManifest(ctx, ref, desc.Digest.String())
	if err != nil || !bytes.Equal(body, im.manifest) || mdesc.Digest != desc.Digest {
		t.Fatalf("fetch manifest: %v (%+v)", err, mdesc)
	}
	for _, b := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{{im.configDesc, im.config}, {im.layerDesc, im.layer}} {
		if got := fetchAll(t, c, ref, b.desc); !bytes.Equal(got, b.data) {
			t.Fatalf("blob %s: got %d bytes, want %d", b.desc.Digest, len(got), len(b.data))
		}
	}
}

// fetchAll reads a blob through VerifyReader.
func fetchAll(t *testing.T, c *registry.Client, ref reference.Named, desc ocispec.Descriptor) []byte {
	t.Helper()
	data, err := tryFetch(ctxFor(t), c, ref, desc)
	if err != nil {
		t.Fatalf("fetch blob %s: %v", desc.Digest, err)
	}
	return data
}

func tryFetch(ctx context.Context, c *registry.Client, ref reference.Named, desc ocispec.Descriptor) ([]byte, error) {
	rc, err := c.FetchBlob(ctx, ref, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(registry.VerifyReader(rc, desc))
}

func opener(data []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
}

// wantClass fails unless err is of class and its message has each of
// the words.
func wantClass(t *testing.T, err, class error, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", class)
	}
	if !errors.Is(err, class) {
		t.Fatalf("error %q is not of class %v", err, class)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q does not say %q", err, w)
		}
	}
}
