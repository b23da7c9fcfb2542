package cli

import (
	"context"
	"io"

	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/system"

	"github.com/corral-dev/corral/api"
)

// ImageAPI is the engine's image and registry calls, one method per Docker
// Engine API endpoint, as the docker client names them; client.Client
// implements it over the daemon's socket. Errors carry errdefs classes;
// their text is what the user sees ("Error response from daemon: No such
// image: x:latest").
type ImageAPI interface {
	// ImagePull pulls ref (a familiar or full reference with a tag or
	// digest) and answers the JSON message stream of POST /images/create.
	ImagePull(ctx context.Context, ref string, opts api.ImagePullOptions) (io.ReadCloser, error)
	// ImagePush pushes ref (with a tag) and answers a JSON message stream.
	ImagePush(ctx context.Context, ref string, opts api.ImagePushOptions) (io.ReadCloser, error)
	ImageList(ctx context.Context, opts api.ImageListOptions) ([]image.Summary, error)
	ImageInspect(ctx context.Context, ref string) (image.InspectResponse, error)
	ImageHistory(ctx context.Context, ref string) ([]image.HistoryResponseItem, error)
	ImageTag(ctx context.Context, source, target string) error
	ImageRemove(ctx context.Context, ref string, opts api.ImageRemoveOptions) ([]image.DeleteResponse, error)
	ImagesPrune(ctx context.Context, filters api.Filters) (image.PruneReport, error)
	// ImageLoad reads a docker-archive or OCI archive and answers a JSON
	// message stream ("Loaded image: busybox:latest").
	ImageLoad(ctx context.Context, input io.Reader, opts api.ImageLoadOptions) (io.ReadCloser, error)
	// ImageSave answers a docker-archive tar of the images.
	ImageSave(ctx context.Context, refs []string) (io.ReadCloser, error)
	// ImageImport makes an image of a root filesystem tarball, named ref
	// if not "", and answers a JSON message stream ending in its ID.
	ImageImport(ctx context.Context, source io.Reader, ref string, opts api.ImageImportOptions) (io.ReadCloser, error)
	// RegistryLogin checks credentials against a registry (POST /auth).
	RegistryLogin(ctx context.Context, auth registry.AuthConfig) (registry.AuthResponse, error)
	DiskUsage(ctx context.Context) (system.DiskUsage, error)
}

// Credentials is the user's registry credentials file
// (registry.AuthFile): login and logout change it, pull and push read it to
// send X-Registry-Auth. Hosts are registry domains as written in references
// ("docker.io", "localhost:5000").
type Credentials interface {
	Credentials(host string) (user, secret string, err error)
	Set(host, user, secret string)
	Remove(host string) bool
	Save() error
	Path() string
}
