package daemon

import (
	"context"
	"io"

	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/system"

	"github.com/corral-dev/corral/api"
)

// Local is Images called in process by the CLI, as a client of the Engine
// API would see it: an error the engine answers reads "Error response from
// daemon: <message>" (its errdefs class kept), as the docker client shows
// error statuses. It stands in for the API client until the engine runs as
// a daemon.
type Local struct{ *Images }

// daemonError is an error answered by the engine.
type daemonError struct{ err error }

func (e daemonError) Error() string { return "Error response from daemon: " + e.err.Error() }
func (e daemonError) Unwrap() error { return e.err }

func fromDaemon(err error) error {
	if err == nil {
		return nil
	}
	return daemonError{err}
}

func (l Local) ImagePull(ctx context.Context, ref string, opts api.ImagePullOptions) (io.ReadCloser, error) {
	rc, err := l.Images.ImagePull(ctx, ref, opts)
	return rc, fromDaemon(err)
}

func (l Local) ImagePush(ctx context.Context, ref string, opts api.ImagePushOptions) (io.ReadCloser, error) {
	rc, err := l.Images.ImagePush(ctx, ref, opts)
	return rc, fromDaemon(err)
}

func (l Local) ImageList(ctx context.Context, opts api.ImageListOptions) ([]image.Summary, error) {
	v, err := l.Images.ImageList(ctx, opts)
	return v, fromDaemon(err)
}

func (l Local) ImageInspect(ctx context.Context, ref string) (image.InspectResponse, error) {
	v, err := l.Images.ImageInspect(ctx, ref)
	return v, fromDaemon(err)
}

func (l Local) ImageHistory(ctx context.Context, ref string) ([]image.HistoryResponseItem, error) {
	v, err := l.Images.ImageHistory(ctx, ref)
	return v, fromDaemon(err)
}

func (l Local) ImageTag(ctx context.Context, source, target string) error {
	return fromDaemon(l.Images.ImageTag(ctx, source, target))
}

func (l Local) ImageRemove(ctx context.Context, ref string, opts api.ImageRemoveOptions) ([]image.DeleteResponse, error) {
	v, err := l.Images.ImageRemove(ctx, ref, opts)
	return v, fromDaemon(err)
}

func (l Local) ImagesPrune(ctx context.Context, filters api.Filters) (image.PruneReport, error) {
	v, err := l.Images.ImagesPrune(ctx, filters)
	return v, fromDaemon(err)
}

func (l Local) ImageLoad(ctx context.Context, input io.Reader, opts api.ImageLoadOptions) (io.ReadCloser, error) {
	rc, err := l.Images.ImageLoad(ctx, input, opts)
	return rc, fromDaemon(err)
}

func (l Local) ImageSave(ctx context.Context, refs []string) (io.ReadCloser, error) {
	rc, err := l.Images.ImageSave(ctx, refs)
	return rc, fromDaemon(err)
}

func (l Local) ImageImport(ctx context.Context, source io.Reader, ref string, opts api.ImageImportOptions) (io.ReadCloser, error) {
	rc, err := l.Images.ImageImport(ctx, source, ref, opts)
	return rc, fromDaemon(err)
}

func (l Local) RegistryLogin(ctx context.Context, auth registry.AuthConfig) (registry.AuthResponse, error) {
	v, err := l.Images.RegistryLogin(ctx, auth)
	return v, fromDaemon(err)
}

func (l Local) DiskUsage(ctx context.Context) (system.DiskUsage, error) {
	v, err := l.Images.DiskUsage(ctx)
	return v, fromDaemon(err)
}
