package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
)

// Docker's schema2 media types (the OCI ones are in ocispec).
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeDockerSchema1      = "application/vnd.docker.distribution.manifest.v1+prettyjws"
)

// manifestAccept is the Accept header of manifest requests.
var manifestAccept = strings.Join([]string{
	ocispec.MediaTypeImageIndex,
	ocispec.MediaTypeImageManifest,
	MediaTypeDockerManifestList,
	MediaTypeDockerManifest,
}, ", ")

// MaxManifestSize bounds the manifests FetchManifest reads.
const MaxManifestSize = 4 << 20

// errNeedGet says a HEAD answer lacked what Resolve needs.
var errNeedGet = errors.New("HEAD answer incomplete")

// Resolve returns the descriptor of the manifest (or index) ref names: by
// digest when ref has one, else by tag ("latest" when it has neither). It
// asks with HEAD and falls back to GET when the registry's HEAD answer is
// incomplete, or refused (a GET answer has the registry's message).
func (c *Client) Resolve(ctx context.Context, ref reference.Named) (ocispec.Descriptor, error) {
	tagOrDigest := refPart(ref)
	desc, err := c.headManifest(ctx, ref, tagOrDigest)
	if err == nil {
		return desc, nil
	}
	if !errors.Is(err, errNeedGet) && !headRefused(err) {
		return ocispec.Descriptor{}, fmt.Errorf("resolve %s: %w", ref, err)
	}
	_, desc, err = c.FetchManifest(ctx, ref, tagOrDigest)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("resolve %s: %w", ref, err)
	}
	return desc, nil
}

// headRefused reports whether the registry refused the HEAD request itself
// (not a token request on its way) with a status a GET may not get, or
// answers with a message.
func headRefused(err error) bool {
	var re *ResponseError
	if !errors.As(err, &re) || re.Method != http.MethodHead {
		return false
	}
	switch re.StatusCode {
	case http.StatusMethodNotAllowed, http.StatusBadRequest, http.StatusNotAcceptable,
		http.StatusUnauthorized, http.StatusForbidden:
		return true
	}
	return false
}

// refPart returns ref's digest, else its tag, else "latest".
func refPart(ref reference.Named) string {
	if d, ok := ref.(reference.Digested); ok {
		return d.Digest().String()
	}
	if t, ok := ref.(reference.Tagged); ok {
		return t.Tag()
	}
	return "latest"
}

func manifestRequest(method string, ref reference.Named, tagOrDigest string) *request {
	name := reference.Path(ref)
	return &request{
		method: method,
		domain: reference.Domain(ref),
		path:   "/v2/" + name + "/manifests/" + tagOrDigest,
		header: http.Header{"Accept": {manifestAccept}},
		scopes: []string{pullScope(name)},
	}
}

func (c *Client) headManifest(ctx context.Context, ref reference.Named, tagOrDigest string) (ocispec.Descriptor, error) {
	resp, err := c.do(ctx, manifestRequest(http.MethodHead, ref, tagOrDigest))
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	resp.Body.Close()
	mediaType := contentType(resp.Header)
	dg, err := digest.Parse(resp.Header.Get("Docker-Content-Digest"))
	if want, werr := digest.Parse(tagOrDigest); werr == nil {
		if err == nil && dg != want {
			return ocispec.Descriptor{}, errdefs.InvalidArgument(fmt.Errorf(
				"registry answered digest %s for %s", dg, want))
		}
		dg, err = want, nil
	}
	if err != nil || resp.ContentLength < 0 || isGenericType(mediaType) {
		return ocispec.Descriptor{}, errNeedGet
	}
	return ocispec.Descriptor{MediaType: mediaType, Digest: dg, Size: resp.ContentLength}, nil
}

// FetchManifest fetches a manifest or index of ref's repository by digest
// or tag (tagOrDigest; "" means ref's own, as Resolve). The content is
// verified against the digest asked for, or against the registry's
// Docker-Content-Digest when fetched by tag. The descriptor's media type is
// the registry's Content-Type, or the body's mediaType when that is generic.
func (c *Client) FetchManifest(ctx context.Context, ref reference.Named, tagOrDigest string) ([]byte, ocispec.Descriptor, error) {
	if tagOrDigest == "" {
		tagOrDigest = refPart(ref)
	}
	body, desc, err := c.fetchManifest(ctx, ref, tagOrDigest)
	if err != nil {
		return nil, ocispec.Descriptor{}, fmt.Errorf("fetch manifest %s of %s: %w",
			tagOrDigest, reference.TrimNamed(ref), err)
	}
	return body, desc, nil
}

func (c *Client) fetchManifest(ctx context.Context, ref reference.Named, tagOrDigest string) ([]byte, ocispec.Descriptor, error) {
	resp, err := c.do(ctx, manifestRequest(http.MethodGet, ref, tagOrDigest))
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestSize+1))
	if err != nil {
		return nil, ocispec.Descriptor{}, fmt.Errorf("read manifest: %w", err)
	}
	if len(body) > MaxManifestSize {
		return nil, ocispec.Descriptor{}, errdefs.InvalidArgument(fmt.Errorf(
			"manifest larger than %d bytes", MaxManifestSize))
	}
	want, err := digest.Parse(tagOrDigest)
	if err != nil { // by tag: the registry's digest, if any, must be the content's
		want, err = digest.Parse(resp.Header.Get("Docker-Content-Digest"))
	}
	dg := digest.FromBytes(body)
	if err == nil {
		if dg, err = digestOf(want.Algorithm(), body); err != nil {
			return nil, ocispec.Descriptor{}, err
		}
		if dg != want {
			return nil, ocispec.Descriptor{}, errdefs.InvalidArgument(fmt.Errorf(
				"manifest digest mismatch: expected %s, got %s", want, dg))
		}
	}
	mediaType := contentType(resp.Header)
	if isGenericType(mediaType) {
		mediaType = sniffMediaType(body)
	}
	return body, ocispec.Descriptor{MediaType: mediaType, Digest: dg, Size: int64(len(body))}, nil
}

func digestOf(alg digest.Algorithm, body []byte) (digest.Digest, error) {
	if !alg.Available() {
		return "", errdefs.InvalidArgument(fmt.Errorf("unsupported digest algorithm %q", alg))
	}
	return alg.FromBytes(body), nil
}

func contentType(h http.Header) string {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

// isGenericType reports whether a Content-Type says nothing of the manifest.
func isGenericType(mt string) bool {
	switch mt {
	case "", "application/json", "text/plain", "application/octet-stream":
		return true
	}
	return false
}

// sniffMediaType guesses a manifest's media type from its content: its
// mediaType field, else its shape (OCI index or manifest, schema1).
func sniffMediaType(body []byte) string {
	var m struct {
		MediaType string          `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
		Config    json.RawMessage `json:"config"`
		FSLayers  json.RawMessage `json:"fsLayers"`
	}
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	switch {
	case m.MediaType != "":
		return m.MediaType
	case m.Manifests != nil:
		return ocispec.MediaTypeImageIndex
	case m.Config != nil:
		return ocispec.MediaTypeImageManifest
	case m.FSLayers != nil:
		return mediaTypeDockerSchema1
	}
	return ""
}
