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
	"strings"

	"github.com/moby/moby/api/types/network"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

// The network calls. Names go into paths escaped.

// networkPath is the path of network name, refused when empty.
func networkPath(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", errdefs.InvalidArgument(errors.New("invalid network name: value is empty"))
	}
	return "/networks/" + url.PathEscape(name), nil
}

// NetworkCreate is POST /networks/create.
func (c *Client) NetworkCreate(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error) {
	body, h, err := jsonBody(req)
	if err != nil {
		return network.CreateResponse{}, err
	}
	var out network.CreateResponse
	err = c.callJSON(ctx, request{method: http.MethodPost, path: "/networks/create", header: h, body: body}, &out)
	return out, err
}

// NetworkList is GET /networks.
func (c *Client) NetworkList(ctx context.Context, filters api.Filters) ([]network.Summary, error) {
	q := url.Values{}
	if err := setFilters(q, filters); err != nil {
		return nil, err
	}
	var out []network.Summary
	err := c.getJSON(ctx, "/networks", q, &out)
	return out, err
}

// NetworkInspectWithRaw is GET /networks/{name}, decoded and as the
// daemon wrote it.
func (c *Client) NetworkInspectWithRaw(ctx context.Context, name string, verbose bool) (network.Inspect, []byte, error) {
	p, err := networkPath(name)
	if err != nil {
		return network.Inspect{}, nil, err
	}
	q := url.Values{}
	if verbose {
		q.Set("verbose", "true")
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, path: p, query: q})
	if err != nil {
		return network.Inspect{}, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return network.Inspect{}, nil, fmt.Errorf("read answer of GET %s: %w", p, err)
	}
	var n network.Inspect
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&n); err != nil {
		return network.Inspect{}, nil, fmt.Errorf("decode answer of GET %s: %w", p, err)
	}
	return n, raw, nil
}

// NetworkRemove is DELETE /networks/{name}.
func (c *Client) NetworkRemove(ctx context.Context, name string) error {
	p, err := networkPath(name)
	if err != nil {
		return err
	}
	return c.callJSON(ctx, request{method: http.MethodDelete, path: p}, nil)
}

// NetworkConnect is POST /networks/{name}/connect.
func (c *Client) NetworkConnect(ctx context.Context, name string, req network.ConnectRequest) error {
	return c.networkPost(ctx, name, "/connect", req)
}

// NetworkDisconnect is POST /networks/{name}/disconnect.
func (c *Client) NetworkDisconnect(ctx context.Context, name string, req network.DisconnectRequest) error {
	return c.networkPost(ctx, name, "/disconnect", req)
}

func (c *Client) networkPost(ctx context.Context, name, verb string, req any) error {
	p, err := networkPath(name)
	if err != nil {
		return err
	}
	body, h, err := jsonBody(req)
	if err != nil {
		return err
	}
	return c.callJSON(ctx, request{method: http.MethodPost, path: p + verb, header: h, body: body}, nil)
}

// NetworksPrune is POST /networks/prune.
func (c *Client) NetworksPrune(ctx context.Context, filters api.Filters) (network.PruneReport, error) {
	q := url.Values{}
	if err := setFilters(q, filters); err != nil {
		return network.PruneReport{}, err
	}
	var out network.PruneReport
	err := c.callJSON(ctx, request{method: http.MethodPost, path: "/networks/prune", query: q}, &out)
	return out, err
}
