package apiserver

import (
	"context"
	"io"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"

	"github.com/corral-dev/corral/api"
)

// The backends: what the server asks of the engine, one interface per area.
// Names and types follow the Docker Engine API's operations. Errors carry
// errdefs classes, which decide the HTTP status; their text is the message
// the client shows. A nil backend in Config makes its routes answer 501.

// System is the engine-wide calls besides /_ping and /version, which the
// server answers from Config.
type System interface {
	// Info is GET /info.
	Info(ctx context.Context) (system.Info, error)
	// Events is GET /events: past events from opts.Since, then live ones.
	// The channel closes after opts.Until or when ctx ends. Bad filters
	// are an error here, before the stream starts.
	Events(ctx context.Context, opts api.EventsOptions) (<-chan events.Message, error)
	// DiskUsage is GET /system/df; the server also writes the pre-1.52
	// form of it (LayersSize, Images, Containers, Volumes, BuildCache).
	DiskUsage(ctx context.Context) (system.DiskUsage, error)
}

// Images is the local image store's calls.
type Images interface {
	ImageList(ctx context.Context, opts api.ImageListOptions) ([]image.Summary, error)
	ImageInspect(ctx context.Context, ref string) (image.InspectResponse, error)
	ImageHistory(ctx context.Context, ref string) ([]image.HistoryResponseItem, error)
	// ImageTag gives source the name target ("repo[:tag]").
	ImageTag(ctx context.Context, source, target string) error
	ImageRemove(ctx context.Context, ref string, opts api.ImageRemoveOptions) ([]image.DeleteResponse, error)
	ImagesPrune(ctx context.Context, filters api.Filters) (image.PruneReport, error)
}

// ImageTransfer is the calls that move images in and out, answering a
// stream: JSON messages (pull, push, load, import) or a tar (save). An
// error returned is an HTTP status; one met later must be written into the
// stream (errorDetail) or be the error of the reader's last Read, which
// breaks the connection.
type ImageTransfer interface {
	// ImagePull pulls ref ("name:tag" or "name@digest").
	ImagePull(ctx context.Context, ref string, opts api.ImagePullOptions) (io.ReadCloser, error)
	ImagePush(ctx context.Context, ref string, opts api.ImagePushOptions) (io.ReadCloser, error)
	ImageLoad(ctx context.Context, input io.Reader, opts api.ImageLoadOptions) (io.ReadCloser, error)
	ImageSave(ctx context.Context, refs []string) (io.ReadCloser, error)
	// ImageImport makes an image of a root filesystem tar, named ref if
	// not "".
	ImageImport(ctx context.Context, source io.Reader, ref string, opts api.ImageImportOptions) (io.ReadCloser, error)
}

// Registry is POST /auth.
type Registry interface {
	RegistryLogin(ctx context.Context, auth registry.AuthConfig) (registry.AuthResponse, error)
}

// Builder is POST /build with the classic builder: it answers a JSON
// message stream ({"stream":...}, {"aux":{"ID":...}}).
type Builder interface {
	Build(ctx context.Context, buildContext io.Reader, opts api.BuildOptions) (io.ReadCloser, error)
	// BuildPrune is POST /build/prune: frees the build cache.
	BuildPrune(ctx context.Context, opts api.BuildPruneOptions) (build.CachePruneReport, error)
}

// Containers is the container lifecycle. Start of a running container and
// stop of a stopped one are errdefs.ErrNotModified (304).
type Containers interface {
	ContainerCreate(ctx context.Context, opts api.ContainerCreateOptions) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, name string) error
	ContainerStop(ctx context.Context, name string, opts api.ContainerStopOptions) error
	ContainerRestart(ctx context.Context, name string, opts api.ContainerStopOptions) error
	// ContainerKill sends signal ("" means SIGKILL).
	ContainerKill(ctx context.Context, name, signal string) error
	ContainerRemove(ctx context.Context, name string, opts api.ContainerRemoveOptions) error
	// ContainerWait checks name and the condition ("" is not-running),
	// then answers a channel that gets one result when the condition is
	// met. The server has flushed its 200 before it waits on the channel;
	// it stops waiting when ctx ends.
	ContainerWait(ctx context.Context, name string, condition container.WaitCondition) (<-chan container.WaitResponse, error)
	ContainerPause(ctx context.Context, name string) error
	ContainerUnpause(ctx context.Context, name string) error
}

// ContainerViews is what the engine shows of containers.
type ContainerViews interface {
	ContainerList(ctx context.Context, opts api.ContainerListOptions) ([]container.Summary, error)
	ContainerInspect(ctx context.Context, name string, size bool) (container.InspectResponse, error)
	ContainerTop(ctx context.Context, name, psArgs string) (container.TopResponse, error)
	ContainerChanges(ctx context.Context, name string) ([]container.FilesystemChange, error)
	// ContainerStats answers samples until ctx ends (one sample without
	// opts.Stream), then closes the channel.
	ContainerStats(ctx context.Context, name string, opts api.ContainerStatsOptions) (<-chan container.StatsResponse, error)
	// ContainerLogs answers the log lines and whether the container has a
	// TTY (then the server writes raw bytes, else frames). The channel
	// closes at the end of the log or, with Follow, when the container
	// stops or ctx ends.
	ContainerLogs(ctx context.Context, name string, opts api.ContainerLogsOptions) (<-chan api.LogMessage, bool, error)
}

// ContainerIO is the calls that carry a container's standard streams.
type ContainerIO interface {
	// ContainerAttach checks name, calls opts.Streams, and copies until
	// the streams end (the process exits, the client detaches or leaves).
	// The attach may come before start: output is delivered from the
	// first byte.
	ContainerAttach(ctx context.Context, name string, opts api.ContainerAttachOptions) error
	ContainerResize(ctx context.Context, name string, height, width int) error
}

// Exec is the exec calls.
type Exec interface {
	ExecCreate(ctx context.Context, name string, req container.ExecCreateRequest) (container.ExecCreateResponse, error)
	// ExecStart runs the process; without Detach it checks id, calls
	// opts.Streams and returns when the process has exited and its output
	// was copied.
	ExecStart(ctx context.Context, id string, opts api.ExecStartOptions) error
	ExecResize(ctx context.Context, id string, height, width int) error
	ExecInspect(ctx context.Context, id string) (container.ExecInspectResponse, error)
}

// ContainerFiles is the calls on a container's filesystem.
type ContainerFiles interface {
	ContainerStatPath(ctx context.Context, name, path string) (container.PathStat, error)
	// ContainerArchivePath answers a tar of path and its stat.
	ContainerArchivePath(ctx context.Context, name, path string) (io.ReadCloser, container.PathStat, error)
	// ContainerExtractToDir extracts the tar content into the directory
	// path.
	ContainerExtractToDir(ctx context.Context, name, path string, opts api.ArchiveExtractOptions, content io.Reader) error
	ContainerExport(ctx context.Context, name string) (io.ReadCloser, error)
}

// ContainerAdmin is the remaining container calls.
type ContainerAdmin interface {
	ContainerRename(ctx context.Context, name, newName string) error
	ContainerUpdate(ctx context.Context, name string, update container.UpdateConfig) (container.UpdateResponse, error)
	ContainersPrune(ctx context.Context, filters api.Filters) (container.PruneReport, error)
	// ContainerCommit answers the new image's ID.
	ContainerCommit(ctx context.Context, opts api.ContainerCommitOptions) (string, error)
}

// Networks is the network calls.
type Networks interface {
	NetworkList(ctx context.Context, filters api.Filters) ([]network.Summary, error)
	NetworkInspect(ctx context.Context, name string, verbose bool) (network.Inspect, error)
	NetworkCreate(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error)
	NetworkRemove(ctx context.Context, name string) error
	NetworkConnect(ctx context.Context, name string, req network.ConnectRequest) error
	NetworkDisconnect(ctx context.Context, name string, req network.DisconnectRequest) error
	NetworksPrune(ctx context.Context, filters api.Filters) (network.PruneReport, error)
}

// Volumes is the volume calls.
type Volumes interface {
	VolumeList(ctx context.Context, filters api.Filters) (volume.ListResponse, error)
	VolumeInspect(ctx context.Context, name string) (volume.Volume, error)
	VolumeCreate(ctx context.Context, req volume.CreateRequest) (volume.Volume, error)
	VolumeRemove(ctx context.Context, name string, force bool) error
	VolumesPrune(ctx context.Context, filters api.Filters) (volume.PruneReport, error)
}

// Secrets is the secret calls, in the swarm shapes the docker CLI uses; no
// answer carries a secret's value.
type Secrets interface {
	SecretList(ctx context.Context, filters api.Filters) ([]swarm.Secret, error)
	// SecretInspect finds the secret by ID, name or ID prefix.
	SecretInspect(ctx context.Context, ref string) (swarm.Secret, error)
	SecretCreate(ctx context.Context, spec swarm.SecretSpec) (swarm.SecretCreateResponse, error)
	// SecretRemove refuses a secret a container uses (errdefs.ErrConflict).
	SecretRemove(ctx context.Context, ref string) error
}
