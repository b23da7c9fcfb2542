package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

// The container calls that run processes and carry their streams: create,
// start, attach, resize, wait, logs and exec.

// ContainerCreate is POST /containers/create?name=&platform=. Capabilities
// are sent in their canonical form (CAP_X, sorted, once each), as the
// docker client sends them; the platform needs API 1.41.
func (c *Client) ContainerCreate(ctx context.Context, opts api.ContainerCreateOptions) (container.CreateResponse, error) {
	resp, err := c.doAt(ctx, func(v string) (request, error) { return createRequest(v, opts) })
	var out container.CreateResponse
	err = decodeAnswer(resp, err, "POST /containers/create", &out)
	return out, err
}

// createRequest is the request of ContainerCreate at API version v.
func createRequest(v string, opts api.ContainerCreateOptions) (request, error) {
	q := url.Values{}
	if opts.Name != "" {
		q.Set("name", opts.Name)
	}
	if opts.Platform != "" {
		if compareVersions(v, "1.41") < 0 {
			return request{}, fmt.Errorf(`"specify container image platform" requires API version 1.41, but the daemon API version is %s`, v)
		}
		q.Set("platform", opts.Platform)
	}
	req := container.CreateRequest{Config: opts.Config, NetworkingConfig: opts.NetworkingConfig}
	if opts.HostConfig != nil {
		hc := *opts.HostConfig
		hc.CapAdd = normalizeCapabilities(hc.CapAdd)
		hc.CapDrop = normalizeCapabilities(hc.CapDrop)
		if compareVersions(v, "1.25") < 0 {
			hc.AutoRemove = false
		}
		req.HostConfig = &hc
	}
	body, h, err := jsonBody(req)
	if err != nil {
		return request{}, err
	}
	return request{method: http.MethodPost, path: "/containers/create", query: q, body: body, header: h}, nil
}

// normalizeCapabilities is caps upper-cased with a CAP_ prefix (but ALL),
// without duplicates, sorted; nil stays nil.
func normalizeCapabilities(caps []string) []string {
	if caps == nil {
		return nil
	}
	seen := map[string]bool{}
	out := []string{}
	for _, c := range caps {
		c = strings.ToUpper(strings.TrimSpace(c))
		if c != "ALL" && !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// ContainerStart is POST /containers/{name}/start; a container already
// running is not an error (304), as the docker client reads it.
func (c *Client) ContainerStart(ctx context.Context, name string) error {
	err := c.callJSON(ctx, request{method: http.MethodPost, path: "/containers/" + name + "/start"}, nil)
	if errors.Is(err, errdefs.ErrNotModified) {
		return nil
	}
	return err
}

// ContainerAttach is POST /containers/{name}/attach, hijacked: the
// connection carries the asked streams until the process ends (or the
// caller closes it). Without a TTY its output is multiplexed (StdCopy).
func (c *Client) ContainerAttach(ctx context.Context, name string, opts api.ContainerAttachOptions) (HijackedResponse, error) {
	q := url.Values{}
	for key, on := range map[string]bool{"stream": opts.Stream, "logs": opts.Logs, "stdin": opts.Stdin,
		"stdout": opts.Stdout, "stderr": opts.Stderr} {
		if on {
			q.Set(key, "1")
		}
	}
	if opts.DetachKeys != "" {
		q.Set("detachKeys", opts.DetachKeys)
	}
	return c.hijack(ctx, request{path: "/containers/" + name + "/attach", query: q,
		header: http.Header{"Content-Type": {"text/plain"}}})
}

// ContainerResize is POST /containers/{name}/resize?h=&w=.
func (c *Client) ContainerResize(ctx context.Context, name string, height, width int) error {
	return c.callJSON(ctx, request{method: http.MethodPost, path: "/containers/" + name + "/resize", query: sizeQuery(height, width)}, nil)
}

func sizeQuery(height, width int) url.Values {
	return url.Values{"h": {strconv.Itoa(height)}, "w": {strconv.Itoa(width)}}
}

// maxWaitError bounds what is read of a /wait answer that is not JSON.
const maxWaitError = 1 << 16

// ContainerWait is POST /containers/{name}/wait?condition=: it returns
// once the daemon has answered 200 (so a start sent after it cannot be
// missed); the result comes later on the first channel, or a failure on
// the second. Condition "" is the daemon's default (not-running). Both
// channels are buffered: nobody has to read them.
func (c *Client) ContainerWait(ctx context.Context, name string, condition container.WaitCondition) (<-chan container.WaitResponse, <-chan error) {
	results, errs := make(chan container.WaitResponse, 1), make(chan error, 1)
	q := url.Values{}
	if condition != "" {
		q.Set("condition", string(condition))
	}
	resp, err := c.do(ctx, request{method: http.MethodPost, path: "/containers/" + name + "/wait", query: q})
	if err != nil {
		errs <- err
		return results, errs
	}
	go func() {
		defer resp.Body.Close()
		var text bytes.Buffer
		var res container.WaitResponse
		if err := json.NewDecoder(io.TeeReader(resp.Body, &text)).Decode(&res); err != nil {
			var syntax *json.SyntaxError
			if errors.As(err, &syntax) {
				// A proxy cut the answer short with a plain text error.
				_, _ = io.Copy(&text, io.LimitReader(resp.Body, maxWaitError))
				err = errors.New(strings.TrimSpace(text.String()))
			}
			errs <- ctxOr(ctx, err)
			return
		}
		results <- res
	}()
	return results, errs
}

// ContainerLogs is GET /containers/{name}/logs: the log as the daemon
// writes it, multiplexed unless the container has a TTY (StdCopy), until
// its end or, with Follow, until the container stops or ctx ends.
func (c *Client) ContainerLogs(ctx context.Context, name string, opts api.ContainerLogsOptions) (io.ReadCloser, error) {
	q := url.Values{}
	for key, on := range map[string]bool{"stdout": opts.Stdout, "stderr": opts.Stderr,
		"timestamps": opts.Timestamps, "details": opts.Details, "follow": opts.Follow} {
		if on {
			q.Set(key, "1")
		}
	}
	setTime(q, "since", opts.Since)
	setTime(q, "until", opts.Until)
	q.Set("tail", "all")
	if opts.Tail >= 0 {
		q.Set("tail", strconv.Itoa(opts.Tail))
	}
	return c.stream(ctx, request{method: http.MethodGet, path: "/containers/" + name + "/logs", query: q})
}

// ExecCreate is POST /containers/{name}/exec; the console size needs API
// 1.42 and is left out before it.
func (c *Client) ExecCreate(ctx context.Context, name string, req container.ExecCreateRequest) (container.ExecCreateResponse, error) {
	resp, err := c.doAt(ctx, func(v string) (request, error) {
		r := req
		if compareVersions(v, "1.42") < 0 {
			r.ConsoleSize = nil
		}
		body, h, err := jsonBody(r)
		return request{method: http.MethodPost, path: "/containers/" + name + "/exec", body: body, header: h}, err
	})
	var out container.ExecCreateResponse
	err = decodeAnswer(resp, err, "POST /containers/"+name+"/exec", &out)
	return out, err
}

// ExecStart is POST /exec/{id}/start. Detached, the process starts and
// the answer is an empty HijackedResponse; otherwise the connection is
// hijacked and carries the streams the exec was created with.
func (c *Client) ExecStart(ctx context.Context, id string, req container.ExecStartRequest) (HijackedResponse, error) {
	v, err := c.negotiate(ctx)
	if err != nil {
		return HijackedResponse{}, err
	}
	if compareVersions(v, "1.42") < 0 {
		req.ConsoleSize = nil
	}
	body, h, err := jsonBody(req)
	if err != nil {
		return HijackedResponse{}, err
	}
	r := request{method: http.MethodPost, path: "/exec/" + id + "/start", body: body, header: h}
	if req.Detach {
		return HijackedResponse{}, c.callJSON(ctx, r, nil)
	}
	return c.hijack(ctx, r)
}

// ExecResize is POST /exec/{id}/resize?h=&w=.
func (c *Client) ExecResize(ctx context.Context, id string, height, width int) error {
	return c.callJSON(ctx, request{method: http.MethodPost, path: "/exec/" + id + "/resize", query: sizeQuery(height, width)}, nil)
}

// ExecInspect is GET /exec/{id}/json.
func (c *Client) ExecInspect(ctx context.Context, id string) (container.ExecInspectResponse, error) {
	var out container.ExecInspectResponse
	err := c.getJSON(ctx, "/exec/"+id+"/json", nil, &out)
	return out, err
}
