package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/moby/moby/api/types/image"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
)

// imagePath is /images/<ref><suffix>: names keep their slashes, as the
// docker client sends them.
func imagePath(ref, suffix string) string { return "/images/" + ref + suffix }

// authHeader is the X-Registry-Auth header of a pull or push.
func authHeader(auth string) http.Header {
	if auth == "" {
		return nil
	}
	return http.Header{"X-Registry-Auth": {auth}}
}

// stream sends req and answers the body of its answer.
func (c *Client) stream(ctx context.Context, req request) (io.ReadCloser, error) {
	resp, err := c.do(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// ImagePull is POST /images/create?fromImage=: it answers the JSON message
// stream of the pull. A reference without tag or digest pulls :latest
// (every tag with opts.All).
func (c *Client) ImagePull(ctx context.Context, ref string, opts api.ImagePullOptions) (io.ReadCloser, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, errdefs.InvalidArgument(err)
	}
	q := url.Values{"fromImage": {named.Name()}}
	switch r := named.(type) {
	case reference.Digested:
		q.Set("tag", r.Digest().String())
	case reference.Tagged:
		q.Set("tag", r.Tag())
	default:
		if !opts.All {
			q.Set("tag", "latest")
		}
	}
	if opts.Platform != "" {
		q.Set("platform", opts.Platform)
	}
	return c.stream(ctx, request{method: http.MethodPost, path: "/images/create", query: q, header: authHeader(opts.RegistryAuth)})
}

// ImagePush is POST /images/{name}/push?tag=: the JSON message stream of
// the push.
func (c *Client) ImagePush(ctx context.Context, ref string, opts api.ImagePushOptions) (io.ReadCloser, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, errdefs.InvalidArgument(err)
	}
	if _, ok := named.(reference.Canonical); ok {
		return nil, errdefs.InvalidArgument(errors.New("cannot push a digest reference"))
	}
	q := url.Values{}
	if t, ok := named.(reference.Tagged); ok {
		q.Set("tag", t.Tag())
	} else if !opts.All {
		q.Set("tag", "latest")
	}
	if opts.Platform != nil {
		b, err := json.Marshal(opts.Platform)
		if err != nil {
			return nil, fmt.Errorf("encode platform: %w", err)
		}
		q.Set("platform", string(b))
	}
	return c.stream(ctx, request{method: http.MethodPost, path: imagePath(named.Name(), "/push"), query: q,
		header: authHeader(opts.RegistryAuth)})
}

// ImageList is GET /images/json.
func (c *Client) ImageList(ctx context.Context, opts api.ImageListOptions) ([]image.Summary, error) {
	q := url.Values{}
	if opts.All {
		q.Set("all", "1")
	}
	if opts.SharedSize {
		q.Set("shared-size", "1")
	}
	if err := setFilters(q, opts.Filters); err != nil {
		return nil, err
	}
	var out []image.Summary
	err := c.getJSON(ctx, "/images/json", q, &out)
	return out, err
}

func setFilters(q url.Values, f api.Filters) error {
	if f.Len() == 0 {
		return nil
	}
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode filters: %w", err)
	}
	q.Set("filters", string(b))
	return nil
}

// ImageInspect is GET /images/{name}/json.
func (c *Client) ImageInspect(ctx context.Context, ref string) (image.InspectResponse, error) {
	var out image.InspectResponse
	err := c.getJSON(ctx, imagePath(ref, "/json"), nil, &out)
	return out, err
}

// ImageHistory is GET /images/{name}/history.
func (c *Client) ImageHistory(ctx context.Context, ref string) ([]image.HistoryResponseItem, error) {
	var out []image.HistoryResponseItem
	err := c.getJSON(ctx, imagePath(ref, "/history"), nil, &out)
	return out, err
}

// ImageTag is POST /images/{source}/tag?repo=&tag=: source gets the name
// target (":latest" if it has no tag).
func (c *Client) ImageTag(ctx context.Context, source, target string) error {
	named, err := reference.ParseNormalizedNamed(target)
	if err != nil {
		return errdefs.InvalidArgument(err)
	}
	if _, ok := named.(reference.Canonical); ok {
		return errdefs.InvalidArgument(errors.New("refusing to create a tag with a digest reference"))
	}
	named = reference.TagNameOnly(named)
	q := url.Values{"repo": {named.Name()}}
	if t, ok := named.(reference.Tagged); ok {
		q.Set("tag", t.Tag())
	}
	return c.callJSON(ctx, request{method: http.MethodPost, path: imagePath(source, "/tag"), query: q}, nil)
}

// ImageRemove is DELETE /images/{name}.
func (c *Client) ImageRemove(ctx context.Context, ref string, opts api.ImageRemoveOptions) ([]image.DeleteResponse, error) {
	q := url.Values{}
	if opts.Force {
		q.Set("force", "1")
	}
	if !opts.PruneChildren {
		q.Set("noprune", "1")
	}
	var out []image.DeleteResponse
	err := c.callJSON(ctx, request{method: http.MethodDelete, path: imagePath(ref, ""), query: q}, &out)
	return out, err
}

// ImagesPrune is POST /images/prune.
func (c *Client) ImagesPrune(ctx context.Context, filters api.Filters) (image.PruneReport, error) {
	q := url.Values{}
	if err := setFilters(q, filters); err != nil {
		return image.PruneReport{}, err
	}
	var out image.PruneReport
	err := c.callJSON(ctx, request{method: http.MethodPost, path: "/images/prune", query: q}, &out)
	return out, err
}

// ImageLoad is POST /images/load: input is a docker-archive or OCI
// archive; the answer is a JSON message stream.
func (c *Client) ImageLoad(ctx context.Context, input io.Reader, opts api.ImageLoadOptions) (io.ReadCloser, error) {
	q := url.Values{}
	if opts.Quiet {
		q.Set("quiet", "1")
	}
	return c.stream(ctx, request{method: http.MethodPost, path: "/images/load", query: q, body: input,
		header: http.Header{"Content-Type": {"application/x-tar"}}})
}

// ImageSave is GET /images/get?names=: a docker-archive tar of the images.
func (c *Client) ImageSave(ctx context.Context, refs []string) (io.ReadCloser, error) {
	return c.stream(ctx, request{method: http.MethodGet, path: "/images/get", query: url.Values{"names": refs}})
}

// ImageImport is POST /images/create?fromSrc=-: an image of the root
// filesystem tarball source, named ref if not "".
func (c *Client) ImageImport(ctx context.Context, source io.Reader, ref string, opts api.ImageImportOptions) (io.ReadCloser, error) {
	q := url.Values{"fromSrc": {"-"}}
	if ref != "" {
		if _, err := reference.ParseNormalizedNamed(ref); err != nil {
			return nil, errdefs.InvalidArgument(err)
		}
		q.Set("repo", ref)
	}
	if opts.Message != "" {
		q.Set("message", opts.Message)
	}
	if opts.Platform != "" {
		q.Set("platform", opts.Platform)
	}
	for _, ch := range opts.Changes {
		q.Add("changes", ch)
	}
	return c.stream(ctx, request{method: http.MethodPost, path: "/images/create", query: q, body: source,
		header: http.Header{"Content-Type": {"application/x-tar"}}})
}
