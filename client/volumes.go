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

	"github.com/moby/moby/api/types/volume"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

// The volume calls. Names go into paths escaped, as the docker client
// sends them.

func volumePath(name string) string { return "/volumes/" + url.PathEscape(name) }

// trimVolume refuses an empty volume name, as the docker client does.
func trimVolume(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", errdefs.InvalidArgument(errors.New("invalid volume name: value is empty"))
	}
	return name, nil
}

// VolumeCreate is POST /volumes/create.
func (c *Client) VolumeCreate(ctx context.Context, req volume.CreateRequest) (volume.Volume, error) {
	body, h, err := jsonBody(req)
	if err != nil {
		return volume.Volume{}, err
	}
	var v volume.Volume
	err = c.callJSON(ctx, request{method: http.MethodPost, path: "/volumes/create", header: h, body: body}, &v)
	return v, err
}

// VolumeList is GET /volumes.
func (c *Client) VolumeList(ctx context.Context, filters api.Filters) (volume.ListResponse, error) {
	q := url.Values{}
	if err := setFilters(q, filters); err != nil {
		return volume.ListResponse{}, err
	}
	var out volume.ListResponse
	err := c.getJSON(ctx, "/volumes", q, &out)
	return out, err
}

// VolumeInspect is GET /volumes/{name}.
func (c *Client) VolumeInspect(ctx context.Context, name string) (volume.Volume, error) {
	v, _, err := c.VolumeInspectWithRaw(ctx, name)
	return v, err
}

// VolumeInspectWithRaw is GET /volumes/{name}, decoded and as the daemon
// wrote it.
func (c *Client) VolumeInspectWithRaw(ctx context.Context, name string) (volume.Volume, []byte, error) {
	name, err := trimVolume(name)
	if err != nil {
		return volume.Volume{}, nil, err
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, path: volumePath(name)})
	if err != nil {
		return volume.Volume{}, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return volume.Volume{}, nil, fmt.Errorf("read answer of GET %s: %w", volumePath(name), err)
	}
	var v volume.Volume
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&v); err != nil {
		return volume.Volume{}, nil, fmt.Errorf("decode answer of GET %s: %w", volumePath(name), err)
	}
	return v, raw, nil
}

// VolumeRemove is DELETE /volumes/{name}[?force=1].
func (c *Client) VolumeRemove(ctx context.Context, name string, force bool) error {
	name, err := trimVolume(name)
	if err != nil {
		return err
	}
	q := url.Values{}
	if force {
		q.Set("force", "1")
	}
	return c.callJSON(ctx, request{method: http.MethodDelete, path: volumePath(name), query: q}, nil)
}

// VolumesPrune is POST /volumes/prune.
func (c *Client) VolumesPrune(ctx context.Context, filters api.Filters) (volume.PruneReport, error) {
	q := url.Values{}
	if err := setFilters(q, filters); err != nil {
		return volume.PruneReport{}, err
	}
	var out volume.PruneReport
	err := c.callJSON(ctx, request{method: http.MethodPost, path: "/volumes/prune", query: q}, &out)
	return out, err
}

// volumeUsage makes the volumes part of API 1.52's disk usage from the
// older list of volumes.
func volumeUsage(vols []volume.Volume) *volume.DiskUsage {
	du := &volume.DiskUsage{Items: vols, TotalCount: int64(len(vols))}
	for _, v := range vols {
		if v.UsageData == nil || v.UsageData.Size < 0 {
			continue
		}
		du.TotalSize += v.UsageData.Size
		if v.UsageData.RefCount > 0 {
			du.ActiveCount++
		} else {
			du.Reclaimable += v.UsageData.Size
		}
	}
	return du
}
