package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"

	"github.com/corral-dev/corral/api"
	"github.com/moby/moby/api/types/build"
)

// ImageBuild is POST /build with the classic builder (version=1): the
// context tar buildContext goes up as the body; the answer is the JSON
// message stream of the build.
func (c *Client) ImageBuild(ctx context.Context, buildContext io.Reader, opts api.BuildOptions) (io.ReadCloser, error) {
	q := url.Values{"version": {"1"}, "t": opts.Tags, "rm": {"1"}}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("dockerfile", opts.Dockerfile)
	set("target", opts.Target)
	set("platform", opts.Platform)
	set("networkmode", opts.NetworkMode)
	for k, b := range map[string]bool{"nocache": opts.NoCache, "pull": opts.Pull, "q": opts.Quiet} {
		if b {
			q.Set(k, "1")
		}
	}
	for k, v := range map[string]any{"buildargs": opts.BuildArgs, "labels": opts.Labels} {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		q.Set(k, string(b))
	}
	h := http.Header{"Content-Type": {"application/x-tar"}}
	if len(opts.Secrets) > 0 {
		b, err := json.Marshal(opts.Secrets)
		if err != nil {
			return nil, err
		}
		h.Set(api.BuildSecretsHeader, base64.StdEncoding.EncodeToString(b))
	}
	return c.stream(ctx, request{method: http.MethodPost, path: "/build", query: q, body: buildContext, header: h})
}

// BuildCachePrune is POST /build/prune: frees the build cache (all: every
// entry, not only those no image keeps).
func (c *Client) BuildCachePrune(ctx context.Context, all bool) (build.CachePruneReport, error) {
	q := url.Values{}
	if all {
		q.Set("all", "1")
	}
	var out build.CachePruneReport
	err := c.callJSON(ctx, request{method: http.MethodPost, path: "/build/prune", query: q}, &out)
	return out, err
}
