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
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

// The container calls that list, inspect, change and remove containers.
// Names and IDs go into paths as given, as the docker client sends them.

func containerPath(name, suffix string) string { return "/containers/" + name + suffix }

// trimID trims the spaces around a container's name or ID and refuses an
// empty one, as the docker client does before sending anything.
func trimID(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", errdefs.InvalidArgument(errors.New("invalid container name or ID: value is empty"))
	}
	return name, nil
}

// postContainer sends POST /containers/{name}{suffix}?query without a body.
func (c *Client) postContainer(ctx context.Context, name, suffix string, query url.Values) error {
	name, err := trimID(name)
	if err != nil {
		return err
	}
	return c.post(ctx, containerPath(name, suffix), query)
}

// post sends POST path?query without a body and discards the answer.
func (c *Client) post(ctx context.Context, path string, query url.Values) error {
	return c.callJSON(ctx, request{method: http.MethodPost, path: path, query: query}, nil)
}

// notModified turns the 304 of a stop of a stopped container (or a start
// of a started one) into success, as the docker client reads it.
func notModified(err error) error {
	if errors.Is(err, errdefs.ErrNotModified) {
		return nil
	}
	return err
}

// ContainerList is GET /containers/json.
func (c *Client) ContainerList(ctx context.Context, opts api.ContainerListOptions) ([]container.Summary, error) {
	q := url.Values{}
	if opts.All {
		q.Set("all", "1")
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Size {
		q.Set("size", "1")
	}
	if err := setFilters(q, opts.Filters); err != nil {
		return nil, err
	}
	var out []container.Summary
	err := c.getJSON(ctx, "/containers/json", q, &out)
	return out, err
}

// ContainerInspect is GET /containers/{name}/json.
func (c *Client) ContainerInspect(ctx context.Context, name string) (container.InspectResponse, error) {
	resp, _, err := c.ContainerInspectWithRaw(ctx, name, false)
	return resp, err
}

// ContainerInspectWithRaw is GET /containers/{name}/json?size=: the
// decoded answer and its JSON as the daemon wrote it (with any field the
// type does not know), which docker inspect prints.
func (c *Client) ContainerInspectWithRaw(ctx context.Context, name string, size bool) (container.InspectResponse, []byte, error) {
	name, err := trimID(name)
	if err != nil {
		return container.InspectResponse{}, nil, err
	}
	q := url.Values{}
	if size {
		q.Set("size", "1")
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, path: containerPath(name, "/json"), query: q})
	if err != nil {
		return container.InspectResponse{}, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return container.InspectResponse{}, nil, fmt.Errorf("read answer of GET %s: %w", containerPath(name, "/json"), err)
	}
	var out container.InspectResponse
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&out); err != nil {
		return container.InspectResponse{}, nil, fmt.Errorf("decode answer of GET %s: %w", containerPath(name, "/json"), err)
	}
	return out, raw, nil
}

// stopQuery is the signal and t parameters of stop and restart.
func stopQuery(opts api.ContainerStopOptions) url.Values {
	q := url.Values{}
	if opts.Signal != "" {
		q.Set("signal", opts.Signal)
	}
	if opts.Timeout != nil {
		q.Set("t", strconv.Itoa(*opts.Timeout))
	}
	return q
}

// ContainerStop is POST /containers/{name}/stop; a container already
// stopped is not an error.
func (c *Client) ContainerStop(ctx context.Context, name string, opts api.ContainerStopOptions) error {
	return notModified(c.postContainer(ctx, name, "/stop", stopQuery(opts)))
}

// ContainerRestart is POST /containers/{name}/restart.
func (c *Client) ContainerRestart(ctx context.Context, name string, opts api.ContainerStopOptions) error {
	return notModified(c.postContainer(ctx, name, "/restart", stopQuery(opts)))
}

// ContainerKill is POST /containers/{name}/kill; signal "" is the
// daemon's default (SIGKILL).
func (c *Client) ContainerKill(ctx context.Context, name, signal string) error {
	q := url.Values{}
	if signal != "" {
		q.Set("signal", signal)
	}
	return c.postContainer(ctx, name, "/kill", q)
}

// ContainerRemove is DELETE /containers/{name}.
func (c *Client) ContainerRemove(ctx context.Context, name string, opts api.ContainerRemoveOptions) error {
	name, err := trimID(name)
	if err != nil {
		return err
	}
	q := url.Values{}
	if opts.RemoveVolumes {
		q.Set("v", "1")
	}
	if opts.RemoveLinks {
		q.Set("link", "1")
	}
	if opts.Force {
		q.Set("force", "1")
	}
	return c.callJSON(ctx, request{method: http.MethodDelete, path: containerPath(name, ""), query: q}, nil)
}

// ContainerRename is POST /containers/{name}/rename?name=.
func (c *Client) ContainerRename(ctx context.Context, name, newName string) error {
	return c.postContainer(ctx, name, "/rename", url.Values{"name": {newName}})
}

// ContainerPause is POST /containers/{name}/pause.
func (c *Client) ContainerPause(ctx context.Context, name string) error {
	return c.postContainer(ctx, name, "/pause", nil)
}

// ContainerUnpause is POST /containers/{name}/unpause.
func (c *Client) ContainerUnpause(ctx context.Context, name string) error {
	return c.postContainer(ctx, name, "/unpause", nil)
}

// ContainerTop is GET /containers/{name}/top: psArgs are the arguments of
// ps, sent joined by spaces ("" means the daemon's -ef).
func (c *Client) ContainerTop(ctx context.Context, name string, psArgs []string) (container.TopResponse, error) {
	name, err := trimID(name)
	if err != nil {
		return container.TopResponse{}, err
	}
	q := url.Values{}
	if len(psArgs) > 0 {
		q.Set("ps_args", strings.Join(psArgs, " "))
	}
	var out container.TopResponse
	err = c.getJSON(ctx, containerPath(name, "/top"), q, &out)
	return out, err
}

// ContainerStats is GET /containers/{name}/stats?stream=: a stream of
// JSON container.StatsResponse objects, one a second, or a single one
// (with precpu_stats filled, so it takes the daemon about a second)
// without stream.
func (c *Client) ContainerStats(ctx context.Context, name string, stream bool) (io.ReadCloser, error) {
	name, err := trimID(name)
	if err != nil {
		return nil, err
	}
	q := url.Values{"stream": {"0"}}
	if stream {
		q.Set("stream", "1")
	}
	return c.stream(ctx, request{method: http.MethodGet, path: containerPath(name, "/stats"), query: q})
}

// ContainerStatsOneShot is GET /containers/{name}/stats?stream=0&one-shot=1:
// one sample at once, without precpu_stats.
func (c *Client) ContainerStatsOneShot(ctx context.Context, name string) (io.ReadCloser, error) {
	name, err := trimID(name)
	if err != nil {
		return nil, err
	}
	q := url.Values{"stream": {"0"}, "one-shot": {"1"}}
	return c.stream(ctx, request{method: http.MethodGet, path: containerPath(name, "/stats"), query: q})
}

// ContainerUpdate is POST /containers/{name}/update.
func (c *Client) ContainerUpdate(ctx context.Context, name string, update container.UpdateConfig) (container.UpdateResponse, error) {
	name, err := trimID(name)
	if err != nil {
		return container.UpdateResponse{}, err
	}
	body, h, err := jsonBody(update)
	if err != nil {
		return container.UpdateResponse{}, err
	}
	var out container.UpdateResponse
	err = c.callJSON(ctx, request{method: http.MethodPost, path: containerPath(name, "/update"), body: body, header: h}, &out)
	return out, err
}

// ContainersPrune is POST /containers/prune?filters=.
func (c *Client) ContainersPrune(ctx context.Context, filters api.Filters) (container.PruneReport, error) {
	q := url.Values{}
	if err := setFilters(q, filters); err != nil {
		return container.PruneReport{}, err
	}
	var out container.PruneReport
	err := c.callJSON(ctx, request{method: http.MethodPost, path: "/containers/prune", query: q}, &out)
	return out, err
}
