package daemon

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/archive"
	"github.com/corral-dev/corral/build"
	cimage "github.com/corral-dev/corral/image"
)

// Run runs a RUN step as a container of the container service (runtime,
// default security, the network asked), streams its output, and commits
// its changes with the step's config; the container is removed after.
func (e *builderEngine) Run(ctx context.Context, r build.Run) (string, error) {
	cfg := &container.Config{Image: r.Image, Cmd: r.Cmd, Entrypoint: []string{}, Env: r.Env,
		User: r.Config.User, WorkingDir: r.Config.WorkingDir, AttachStdout: true, AttachStderr: true}
	hc := &container.HostConfig{NetworkMode: container.NetworkMode(r.Network), Mounts: r.Mounts}
	created, err := e.ctrs.ContainerCreate(ctx, api.ContainerCreateOptions{Config: cfg, HostConfig: hc})
	if err != nil {
		return "", fmt.Errorf("RUN container: %w", err)
	}
	id := created.ID
	defer func() {
		_ = e.ctrs.ContainerRemove(context.WithoutCancel(ctx), id, api.ContainerRemoveOptions{Force: true})
	}()
	if r.Started != nil {
		r.Started(id)
	}
	code, err := e.runAttached(ctx, id, r.Output)
	if err != nil {
		return "", err
	}
	if code != 0 {
		return "", &build.ExitError{Cmd: r.Cmd, Code: code}
	}
	return e.commitRun(ctx, id, r)
}

// runAttached starts container id with its output copied to out and
// answers its exit code; it gives up when ctx ends (the client left).
func (e *builderEngine) runAttached(ctx context.Context, id string, out io.Writer) (int, error) {
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- e.ctrs.ContainerAttach(ctx, id, api.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true,
			Streams: func(bool) (api.Streams, error) {
				close(ready)
				return api.Streams{Stdout: out, Stderr: out}, nil
			}})
	}()
	select {
	case <-ready:
	case err := <-done:
		return 0, fmt.Errorf("attach to RUN container: %w", err)
	}
	wait, err := e.ctrs.ContainerWait(ctx, id, container.WaitConditionNextExit)
	if err != nil {
		return 0, err
	}
	if err := e.ctrs.ContainerStart(ctx, id); err != nil {
		return 0, fmt.Errorf("start RUN container: %w", err)
	}
	var res container.WaitResponse
	select {
	case res = <-wait:
	case <-ctx.Done(): // the client left: Run's deferred remove kills it
		return 0, fmt.Errorf("RUN: %w", ctx.Err())
	}
	<-done
	if res.Error != nil && res.Error.Message != "" {
		return 0, fmt.Errorf("RUN container: %s", res.Error.Message)
	}
	return int(res.StatusCode), nil
}

// commitRun commits container id's changes as the step's image.
func (e *builderEngine) commitRun(ctx context.Context, id string, r build.Run) (string, error) {
	c, err := e.ctrs.get(id)
	if err != nil {
		return "", err
	}
	upper, lowers, err := e.ctrs.layers(ctx, c)
	if err != nil {
		return "", err
	}
	stubs := slices.Clone(mountPoints)
	for _, m := range r.Mounts {
		stubs = append(stubs, m.Target)
	}
	left, err := archive.Leftovers(upper, lowers, stubs)
	if err != nil {
		return "", err
	}
	img, err := e.images.store.Commit(ctx, cimage.CommitOptions{Parent: r.Image, Upper: upper,
		Exclude: slices.Sorted(maps.Keys(left)), Config: r.Config, CreatedBy: r.CreatedBy, ContainerID: id,
		SourceDateEpoch: r.Epoch})
	if err != nil {
		return "", err
	}
	return img.ID.String(), nil
}

// emptyIfNil is layer, or an empty tar (no new layer) for nil.
func emptyIfNil(layer io.Reader) io.Reader {
	if layer != nil {
		return layer
	}
	var b bytes.Buffer
	_ = tar.NewWriter(&b).Close()
	return &b
}
