package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/moby/moby/api/types/swarm"

	"github.com/corral-dev/corral/api"
)

// SecretCreate is POST /secrets/create; the value travels base64 in the
// body's Data and is answered by the new secret's ID only.
func (c *Client) SecretCreate(ctx context.Context, spec swarm.SecretSpec) (swarm.SecretCreateResponse, error) {
	body, h, err := jsonBody(spec)
	if err != nil {
		return swarm.SecretCreateResponse{}, err
	}
	var out swarm.SecretCreateResponse
	err = c.callJSON(ctx, request{method: http.MethodPost, path: "/secrets/create", header: h, body: body}, &out)
	return out, err
}

// SecretList is GET /secrets?filters=.
func (c *Client) SecretList(ctx context.Context, filters api.Filters) ([]swarm.Secret, error) {
	q := url.Values{}
	if err := setFilters(q, filters); err != nil {
		return nil, err
	}
	var out []swarm.Secret
	err := c.getJSON(ctx, "/secrets", q, &out)
	return out, err
}

// SecretInspect is GET /secrets/{id}: by ID, name or ID prefix.
func (c *Client) SecretInspect(ctx context.Context, ref string) (swarm.Secret, error) {
	var out swarm.Secret
	err := c.getJSON(ctx, "/secrets/"+url.PathEscape(ref), nil, &out)
	return out, err
}

// SecretRemove is DELETE /secrets/{id}.
func (c *Client) SecretRemove(ctx context.Context, ref string) error {
	return c.callJSON(ctx, request{method: http.MethodDelete, path: "/secrets/" + url.PathEscape(ref)}, nil)
}
