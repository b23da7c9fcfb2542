package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
)

// PushStatus says how PushBlob got a blob into a repository.
type PushStatus int

// The outcomes of PushBlob.
const (
	Uploaded PushStatus = iota // sent to the registry
	Exists                     // the repository had it already
	Mounted                    // mounted from another repository of the registry
)

func (s PushStatus) String() string {
	switch s {
	case Uploaded:
		return "uploaded"
	case Exists:
		return "exists"
	case Mounted:
		return "mounted"
	}
	return "PushStatus(" + strconv.Itoa(int(s)) + ")"
}

// PushResult is the outcome of PushBlob.
type PushResult struct {
	Status PushStatus
	// MountedFrom is the repository the blob was mounted from (Mounted).
	MountedFrom reference.Named
}

// target is the repository a push goes to.
type target struct {
	domain, name string
	scopes       []string
}

func newTarget(repo reference.Named) target {
	name := reference.Path(repo)
	return target{domain: reference.Domain(repo), name: name, scopes: []string{pushScope(name)}}
}

// BlobExists reports whether repository repo has the blob dgst.
func (c *Client) BlobExists(ctx context.Context, repo reference.Named, dgst digest.Digest) (bool, error) {
	name := reference.Path(repo)
	ok, err := c.blobExists(ctx, reference.Domain(repo), name, dgst, []string{pullScope(name)})
	if err != nil {
		return false, fmt.Errorf("check blob %s in %s: %w", dgst, reference.TrimNamed(repo), err)
	}
	return ok, nil
}

func (c *Client) blobExists(ctx context.Context, domain, name string, dgst digest.Digest, scopes []string) (bool, error) {
	resp, err := c.do(ctx, &request{
		method: http.MethodHead,
		domain: domain,
		path:   "/v2/" + name + "/blobs/" + dgst.String(),
		scopes: scopes,
	})
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return true, nil
}

// PushBlob makes sure repository repo has the blob desc: it checks for it,
// then tries to mount it from each of mountFrom on the same registry, then
// uploads what open returns (in one PUT, or in PATCH chunks of
// Options.ChunkSize resumed where they broke), finishing with PUT ?digest=
// which the registry verifies. open may be called more than once, each
// time for the whole blob; it may return an io.Seeker to save reads.
func (c *Client) PushBlob(ctx context.Context, repo reference.Named, desc ocispec.Descriptor,
	open func() (io.ReadCloser, error), mountFrom []reference.Named) (PushResult, error) {
	if desc.Size < 0 || desc.Digest.Validate() != nil {
		return PushResult{}, errdefs.InvalidArgument(fmt.Errorf("push blob: bad descriptor %s (%d bytes)", desc.Digest, desc.Size))
	}
	t := newTarget(repo)
	res, err := c.pushBlob(ctx, t, desc, open, mountFrom)
	if err != nil {
		return PushResult{}, fmt.Errorf("push blob %s to %s: %w", desc.Digest, reference.TrimNamed(repo), err)
	}
	return res, nil
}

func (c *Client) pushBlob(ctx context.Context, t target, desc ocispec.Descriptor,
	open func() (io.ReadCloser, error), mountFrom []reference.Named) (PushResult, error) {
	ok, err := c.blobExists(ctx, t.domain, t.name, desc.Digest, t.scopes)
	if err != nil || ok {
		return PushResult{Status: Exists}, err
	}
	location, from, err := c.mount(ctx, t, desc.Digest, mountFrom)
	if err != nil || from != nil {
		return PushResult{Status: Mounted, MountedFrom: from}, err
	}
	attempt := 0
	err = c.retry(ctx, func() error {
		if attempt++; attempt > 1 { // a lost answer may hide a success
			if ok, err := c.blobExists(ctx, t.domain, t.name, desc.Digest, t.scopes); err != nil || ok {
				return err
			}
		}
		loc := location
		location = "" // a failed session is not reused
		return c.upload(ctx, t, desc, open, loc)
	})
	return PushResult{Status: Uploaded}, err
}

// mount tries a cross-repository mount from each candidate; it returns the
// repository mounted from, or the upload session the registry opened
// instead (if any).
func (c *Client) mount(ctx context.Context, t target, dgst digest.Digest, from []reference.Named) (string, reference.Named, error) {
	var location string
	for _, src := range from {
		srcName := reference.Path(src)
		if reference.Domain(src) != t.domain || srcName == t.name {
			continue
		}
		resp, err := c.do(ctx, &request{
			method: http.MethodPost,
			domain: t.domain,
			path:   "/v2/" + t.name + "/blobs/uploads/",
			query:  url.Values{"mount": {dgst.String()}, "from": {srcName}},
			scopes: append([]string{pullScope(srcName)}, t.scopes...),
		})
		if ctx.Err() != nil {
			return "", nil, ctx.Err()
		}
		if err != nil {
			continue // not allowed to read src, or no mounts: upload
		}
		discard(resp)
		if location != "" {
			c.cancelUpload(ctx, t, location)
		}
		location = resp.Header.Get("Location")
		if resp.StatusCode == http.StatusCreated {
			return "", reference.TrimNamed(src), nil
		}
	}
	return location, nil, nil
}

// cancelUpload deletes an upload session, best effort.
func (c *Client) cancelUpload(ctx context.Context, t target, location string) {
	resp, err := c.do(ctx, &request{method: http.MethodDelete, domain: t.domain, path: location, scopes: t.scopes, once: true})
	if err == nil {
		discard(resp)
	}
}

// startUpload opens an upload session and returns its location.
func (c *Client) startUpload(ctx context.Context, t target) (string, error) {
	resp, err := c.do(ctx, &request{
		method: http.MethodPost,
		domain: t.domain,
		path:   "/v2/" + t.name + "/blobs/uploads/",
		scopes: t.scopes,
	})
	if err != nil {
		return "", fmt.Errorf("start upload: %w", err)
	}
	discard(resp)
	location := resp.Header.Get("Location")
	if location == "" {
		return "", errors.New("start upload: registry gave no location")
	}
	return location, nil
}

// upload sends the blob over one session (opened first if location is "").
func (c *Client) upload(ctx context.Context, t target, desc ocispec.Descriptor, open func() (io.ReadCloser, error), location string) error {
	if location == "" {
		var err error
		if location, err = c.startUpload(ctx, t); err != nil {
			return err
		}
	}
	if desc.Size <= c.opts.ChunkSize {
		return c.finishUpload(ctx, t, location, desc, open)
	}
	u := &chunkedUpload{c: c, t: t, desc: desc, open: open, location: location}
	return u.run(ctx)
}

// finishUpload closes the session with PUT ?digest=, sending the whole blob
// when open is not nil.
func (c *Client) finishUpload(ctx context.Context, t target, location string, desc ocispec.Descriptor, open func() (io.ReadCloser, error)) error {
	r := &request{
		method: http.MethodPut,
		domain: t.domain,
		path:   location,
		query:  url.Values{"digest": {desc.Digest.String()}},
		header: http.Header{"Content-Type": {"application/octet-stream"}},
		scopes: t.scopes,
	}
	if open != nil && desc.Size > 0 {
		r.body, r.size, r.once = open, desc.Size, true
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return fmt.Errorf("finish upload: %w", err)
	}
	discard(resp)
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != desc.Digest.String() {
		return errdefs.InvalidArgument(fmt.Errorf("registry stored digest %s, expected %s", got, desc.Digest))
	}
	return nil
}

// PushManifest stores a manifest or index under ref's tag, or under its
// digest when ref has one ("latest" when neither), and returns its digest.
func (c *Client) PushManifest(ctx context.Context, ref reference.Named, mediaType string, body []byte) (digest.Digest, error) {
	tagOrDigest := refPart(ref)
	dg := digest.FromBytes(body)
	if want, err := digest.Parse(tagOrDigest); err == nil {
		if dg, err = digestOf(want.Algorithm(), body); err != nil {
			return "", err
		}
		if dg != want {
			return "", errdefs.InvalidArgument(fmt.Errorf("push manifest %s: content has digest %s", ref, dg))
		}
	}
	t := newTarget(ref)
	resp, err := c.do(ctx, &request{
		method: http.MethodPut,
		domain: t.domain,
		path:   "/v2/" + t.name + "/manifests/" + tagOrDigest,
		header: http.Header{"Content-Type": {mediaType}},
		body:   func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil },
		size:   int64(len(body)),
		scopes: t.scopes,
	})
	if err != nil {
		return "", fmt.Errorf("push manifest %s: %w", ref, err)
	}
	discard(resp)
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != dg.String() {
		return "", errdefs.InvalidArgument(fmt.Errorf("push manifest %s: registry stored digest %s, expected %s", ref, got, dg))
	}
	return dg, nil
}
