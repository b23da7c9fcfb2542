package client

import (
	"bufio"
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
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"

	"github.com/corral-dev/corral/api"
)

// Ping is what the daemon says of itself in the headers of /_ping.
type Ping struct {
	// APIVersion is the daemon's Api-Version; "" if it sent none.
	APIVersion     string
	OSType         string
	Experimental   bool
	BuilderVersion string
}

// Ping sends HEAD /_ping (GET if HEAD is refused), unversioned.
func (c *Client) Ping(ctx context.Context) (Ping, error) {
	resp, err := c.send(ctx, "/_ping", request{method: http.MethodHead})
	if err != nil {
		var re *ResponseError
		if !errors.As(err, &re) {
			return Ping{}, err
		}
		if resp, err = c.send(ctx, "/_ping", request{method: http.MethodGet}); err != nil {
			return Ping{}, err
		}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	h := resp.Header
	return Ping{APIVersion: h.Get("Api-Version"), OSType: h.Get("Ostype"),
		Experimental: h.Get("Docker-Experimental") == "true", BuilderVersion: h.Get("Builder-Version")}, nil
}

// negotiate answers the API version of requests, pinging the daemon the
// first time: the lower of its version and api.APIVersion, 1.24 if it
// advertises none (as the docker client does).
func (c *Client) negotiate(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != "" {
		return c.version, nil
	}
	p, err := c.Ping(ctx)
	if err != nil {
		return "", err
	}
	v := "1.24" // what a daemon that names no version speaks
	if p.APIVersion != "" {
		v = lowerVersion(p.APIVersion)
	}
	c.version = v
	return v, nil
}

// lowerVersion is the lower of the daemon's version and api.APIVersion.
func lowerVersion(daemon string) string {
	if compareVersions(daemon, api.APIVersion) > 0 {
		return api.APIVersion
	}
	return daemon
}

// settledVersion answers the negotiated version, or api.APIVersion and
// false before one is settled.
func (c *Client) settledVersion() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != "" {
		return c.version, true
	}
	return api.APIVersion, false
}

// settle fixes the version of the requests that follow, unless one is
// settled already, after the daemon answered a request sent at v: the
// lower of v and the version its answer names (Api-Version, which dockerd,
// corrald and podman send with every answer), as negotiation would have
// chosen. A daemon that accepts any version (podman) is so spoken to at
// its own from the second request on.
func (c *Client) settle(v string, h http.Header) {
	if dv := h.Get("Api-Version"); dv != "" && compareVersions(dv, v) < 0 {
		v = dv
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version == "" {
		c.version = v
	}
}

// isTooNew reports whether err, the answer to a request sent at API
// version sent, may be the daemon's refusal of that version as newer than
// its own: a 400 that says so (dockerd and corrald: "client version 1.47
// is too new. Maximum supported API version is 1.43"; dockerd before
// 17.06: "client is newer than server"), or any 400 from a daemon whose
// Api-Version is older than sent, since the answer to a HEAD request has
// no body to say it. Retrying such a request at the negotiated version is
// what pinging first would have sent.
func isTooNew(err error, sent string) bool {
	var re *ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest {
		return false
	}
	return strings.HasPrefix(re.Message, "client version ") && strings.Contains(re.Message, " is too new") ||
		strings.HasPrefix(re.Message, "client is newer than server") ||
		re.APIVersion != "" && compareVersions(re.APIVersion, sent) < 0
}

// NegotiateAPIVersion pings the daemon, if no request has yet, and fixes
// the API version of the requests that follow.
func (c *Client) NegotiateAPIVersion(ctx context.Context) error {
	_, err := c.negotiate(ctx)
	return err
}

// APIVersion is the negotiated version, "" before the first request.
func (c *Client) APIVersion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

// compareVersions compares dotted versions: -1, 0 or 1.
func compareVersions(a, b string) int {
	as, bs := splitVersion(a), splitVersion(b)
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func splitVersion(v string) []int {
	var out []int
	for _, f := range bytes.Split([]byte(v), []byte(".")) {
		n, _ := strconv.Atoi(string(f))
		out = append(out, n)
	}
	return out
}

// getJSON sends GET path and decodes the answer into out.
func (c *Client) getJSON(ctx context.Context, path string, query url.Values, out any) error {
	return c.callJSON(ctx, request{method: http.MethodGet, path: path, query: query}, out)
}

// callJSON sends req and decodes the answer into out (if not nil).
func (c *Client) callJSON(ctx context.Context, req request, out any) error {
	resp, err := c.do(ctx, req)
	return decodeAnswer(resp, err, req.method+" "+req.path, out)
}

// decodeAnswer decodes the answer resp of the call what into out (if not
// nil) and closes it; err is the call's error, returned as it is.
func decodeAnswer(resp *http.Response, err error, what string, out any) error {
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode answer of %s: %w", what, err)
	}
	return nil
}

// jsonBody is a request body of v's JSON.
func jsonBody(v any) (io.Reader, http.Header, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, nil, fmt.Errorf("encode request: %w", err)
	}
	return bytes.NewReader(b), http.Header{"Content-Type": {"application/json"}}, nil
}

// Info is GET /info.
func (c *Client) Info(ctx context.Context) (system.Info, error) {
	var info system.Info
	err := c.getJSON(ctx, "/info", nil, &info)
	return info, err
}

// ServerVersion is GET /version.
func (c *Client) ServerVersion(ctx context.Context) (system.VersionResponse, error) {
	var v system.VersionResponse
	err := c.getJSON(ctx, "/version", nil, &v)
	return v, err
}

// diskUsage reads both forms of GET /system/df: API 1.52's and the older
// one dockerd answers at the versions corral negotiates.
type diskUsage struct {
	system.DiskUsage
	LayersSize int64
	Images     []image.Summary
	Containers []container.Summary
	Volumes    []volume.Volume
	BuildCache []build.CacheRecord
}

// DiskUsage is GET /system/df.
func (c *Client) DiskUsage(ctx context.Context) (system.DiskUsage, error) {
	var du diskUsage
	if err := c.getJSON(ctx, "/system/df", nil, &du); err != nil {
		return system.DiskUsage{}, err
	}
	if du.VolumeUsage == nil && du.Volumes != nil {
		du.VolumeUsage = volumeUsage(du.Volumes)
	}
	if du.ImageUsage == nil {
		du.ImageUsage = &image.DiskUsage{TotalCount: int64(len(du.Images)), TotalSize: du.LayersSize, Items: du.Images}
		for _, s := range du.Images {
			if s.Containers <= 0 {
				du.ImageUsage.Reclaimable += s.Size - max(s.SharedSize, 0)
			}
		}
	}
	if du.BuildCacheUsage == nil && len(du.BuildCache) > 0 {
		du.BuildCacheUsage = api.BuildCacheUsage(du.BuildCache)
	}
	return du.DiskUsage, nil
}

// RegistryLogin is POST /auth: the daemon checks the credentials.
func (c *Client) RegistryLogin(ctx context.Context, auth registry.AuthConfig) (registry.AuthResponse, error) {
	body, h, err := jsonBody(auth)
	if err != nil {
		return registry.AuthResponse{}, err
	}
	var out registry.AuthResponse
	err = c.callJSON(ctx, request{method: http.MethodPost, path: "/auth", body: body, header: h}, &out)
	return out, err
}

// Events is GET /events: the events as they come, until ctx ends or
// opts.Until passes. The error channel gets one value (nil at a clean end)
// when the stream ends; both channels are then closed.
func (c *Client) Events(ctx context.Context, opts api.EventsOptions) (<-chan events.Message, <-chan error) {
	msgs, errs := make(chan events.Message), make(chan error, 1)
	q := url.Values{}
	setTime(q, "since", opts.Since)
	setTime(q, "until", opts.Until)
	if opts.Filters.Len() > 0 {
		b, _ := json.Marshal(opts.Filters)
		q.Set("filters", string(b))
	}
	go func() {
		defer close(msgs)
		defer close(errs)
		errs <- c.readEvents(ctx, q, msgs)
	}()
	return msgs, errs
}

func (c *Client) readEvents(ctx context.Context, q url.Values, out chan<- events.Message) error {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: "/events", query: q})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
	for {
		var m events.Message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read events: %w", err)
		}
		select {
		case out <- m:
		case <-ctx.Done():
			return nil
		}
	}
}

// setTime sets a since/until parameter as the docker client writes it.
func setTime(q url.Values, key string, t time.Time) {
	if !t.IsZero() {
		q.Set(key, fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()))
	}
}
