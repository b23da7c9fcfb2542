package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
)

// The calls on a container's filesystem: cp (stat, get and put archive),
// export, diff and commit.

// pathStatHeader carries the stat of an archive's path: base64 of its JSON.
const pathStatHeader = "X-Docker-Container-Path-Stat"

// ContainerStatPath is HEAD /containers/{name}/archive?path=: the stat of
// path in the container (a symlink's with its target resolved).
func (c *Client) ContainerStatPath(ctx context.Context, name, path string) (container.PathStat, error) {
	name, err := trimID(name)
	if err != nil {
		return container.PathStat{}, err
	}
	resp, err := c.do(ctx, request{method: http.MethodHead, path: containerPath(name, "/archive"),
		query: url.Values{"path": {path}}})
	if err != nil {
		return container.PathStat{}, err
	}
	resp.Body.Close()
	return pathStatOf(resp.Header)
}

// CopyFromContainer is GET /containers/{name}/archive?path=: a tar of path
// in the container, and its stat. The caller closes the tar.
func (c *Client) CopyFromContainer(ctx context.Context, name, srcPath string) (io.ReadCloser, container.PathStat, error) {
	name, err := trimID(name)
	if err != nil {
		return nil, container.PathStat{}, err
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, path: containerPath(name, "/archive"),
		query: url.Values{"path": {srcPath}}})
	if err != nil {
		return nil, container.PathStat{}, err
	}
	st, err := pathStatOf(resp.Header)
	if err != nil {
		resp.Body.Close()
		return nil, st, fmt.Errorf("unable to get resource stat from response: %w", err)
	}
	return resp.Body, st, nil
}

// pathStatOf decodes the stat header.
func pathStatOf(h http.Header) (container.PathStat, error) {
	var st container.PathStat
	dec := json.NewDecoder(base64.NewDecoder(base64.StdEncoding, strings.NewReader(h.Get(pathStatHeader))))
	if err := dec.Decode(&st); err != nil {
		return st, fmt.Errorf("unable to decode container path stat header: %w", err)
	}
	return st, nil
}

// CopyToContainer is PUT /containers/{name}/archive?path=: the tar content
// is extracted into the directory dstPath of the container.
func (c *Client) CopyToContainer(ctx context.Context, name, dstPath string, content io.Reader, opts api.ArchiveExtractOptions) error {
	name, err := trimID(name)
	if err != nil {
		return err
	}
	q := url.Values{"path": {dstPath}}
	if opts.NoOverwriteDirNonDir {
		q.Set("noOverwriteDirNonDir", "true")
	}
	if opts.CopyUIDGID {
		q.Set("copyUIDGID", "true")
	}
	return c.callJSON(ctx, request{method: http.MethodPut, path: containerPath(name, "/archive"), query: q,
		body: content, header: http.Header{"Content-Type": {"application/x-tar"}}}, nil)
}

// ContainerExport is GET /containers/{name}/export: a tar of the
// container's root filesystem. The caller closes it.
func (c *Client) ContainerExport(ctx context.Context, name string) (io.ReadCloser, error) {
	name, err := trimID(name)
	if err != nil {
		return nil, err
	}
	return c.stream(ctx, request{method: http.MethodGet, path: containerPath(name, "/export")})
}

// ContainerDiff is GET /containers/{name}/changes: what the container
// changed in its image's filesystem.
func (c *Client) ContainerDiff(ctx context.Context, name string) ([]container.FilesystemChange, error) {
	name, err := trimID(name)
	if err != nil {
		return nil, err
	}
	var out []container.FilesystemChange
	err = c.getJSON(ctx, containerPath(name, "/changes"), nil, &out)
	return out, err
}

// ContainerCommit is POST /commit?container=: a new image of the
// container. opts.Repo may be a whole reference ("repo:tag", as the
// docker client's Reference) when opts.Tag is ""; it is normalised as the
// docker client does ("x" is "docker.io/library/x", tag latest), a digest
// refused. opts.Container is not used: name is the container.
func (c *Client) ContainerCommit(ctx context.Context, name string, opts api.ContainerCommitOptions) (container.CommitResponse, error) {
	name, err := trimID(name)
	if err != nil {
		return container.CommitResponse{}, err
	}
	repo, tag, err := commitRef(opts.Repo, opts.Tag)
	if err != nil {
		return container.CommitResponse{}, err
	}
	q := url.Values{"container": {name}, "repo": {repo}, "tag": {tag}, "comment": {opts.Comment},
		"author": {opts.Author}}
	for _, ch := range opts.Changes {
		q.Add("changes", ch)
	}
	if !opts.Pause {
		q.Set("pause", "0")
	}
	req := request{method: http.MethodPost, path: "/commit", query: q}
	if opts.Config != nil {
		if req.body, req.header, err = jsonBody(opts.Config); err != nil {
			return container.CommitResponse{}, err
		}
	}
	var out container.CommitResponse
	err = c.callJSON(ctx, req, &out)
	return out, err
}

// commitRef splits what names a commit into repository and tag.
func commitRef(repo, tag string) (string, string, error) {
	if repo == "" {
		return "", "", nil // a tag alone names nothing
	}
	if tag != "" {
		repo += ":" + tag
	}
	ref, err := reference.ParseNormalizedNamed(repo)
	if err != nil {
		return "", "", errdefs.InvalidArgument(err)
	}
	if _, ok := ref.(reference.Canonical); ok {
		return "", "", errdefs.InvalidArgument(errors.New("refusing to create a tag with a digest reference"))
	}
	ref = reference.TagNameOnly(ref)
	if t, ok := ref.(reference.Tagged); ok {
		tag = t.Tag()
	}
	return ref.Name(), tag, nil
}
