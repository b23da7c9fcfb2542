package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"

	"github.com/corral-dev/corral/api"
)

// fake is every backend at once: each call is recorded as a line and
// answers err (when set) or a canned value.
type fake struct {
	mu    sync.Mutex
	calls []string
	err   error
	body  string // what a call that reads a body read

	events  chan events.Message
	stream  string // the JSON stream of pull, push, load, import, build
	logs    []api.LogMessage
	logsTTY bool
	stats   []container.StatsResponse
	waitCh  chan container.WaitResponse
	attach  func(ctx context.Context, name string, opts api.ContainerAttachOptions) error
	exec    func(ctx context.Context, id string, opts api.ExecStartOptions) error
}

func newFake() *fake { return &fake{stream: `{"status":"ok"}` + "\n"} }

func (f *fake) config() Config {
	return Config{System: f, Images: f, ImageTransfer: f, Registry: f, Builder: f, Containers: f,
		ContainerViews: f, ContainerIO: f, Exec: f, ContainerFiles: f, ContainerAdmin: f, Networks: f,
		Volumes: f, Version: "1.2.3", GitCommit: "abc"}
}

func (f *fake) record(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	return f.err
}

func (f *fake) readBody(r io.Reader) {
	b, _ := io.ReadAll(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.body = string(b)
}

// last is the last call recorded, "" if none.
func (f *fake) last(t *testing.T) string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return ""
	}
	return f.calls[len(f.calls)-1]
}

// js shows filters as their JSON.
func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (f *fake) streamOf() io.ReadCloser { return io.NopCloser(strings.NewReader(f.stream)) }

func (f *fake) Info(context.Context) (system.Info, error) {
	return system.Info{ID: "ID", Name: "host", ServerVersion: "1.2.3", OSType: "linux"}, f.record("Info")
}

func (f *fake) Events(_ context.Context, o api.EventsOptions) (<-chan events.Message, error) {
	ch := f.events
	if ch == nil {
		ch = make(chan events.Message)
		close(ch)
	}
	return ch, f.record("Events since=%d until=%d filters=%s", o.Since.Unix(), o.Until.Unix(), js(o.Filters))
}

func (f *fake) DiskUsage(context.Context) (system.DiskUsage, error) {
	return system.DiskUsage{ImageUsage: &image.DiskUsage{TotalSize: 42, Items: []image.Summary{{ID: "sha256:1"}}}}, f.record("DiskUsage")
}

func (f *fake) ImageList(_ context.Context, o api.ImageListOptions) ([]image.Summary, error) {
	return nil, f.record("ImageList all=%v shared=%v filters=%s", o.All, o.SharedSize, js(o.Filters))
}

func (f *fake) ImageInspect(_ context.Context, ref string) (image.InspectResponse, error) {
	return image.InspectResponse{ID: "sha256:1", RepoTags: []string{ref}}, f.record("ImageInspect %s", ref)
}

func (f *fake) ImageHistory(_ context.Context, ref string) ([]image.HistoryResponseItem, error) {
	return nil, f.record("ImageHistory %s", ref)
}

func (f *fake) ImageTag(_ context.Context, source, target string) error {
	return f.record("ImageTag %s %s", source, target)
}

func (f *fake) ImageRemove(_ context.Context, ref string, o api.ImageRemoveOptions) ([]image.DeleteResponse, error) {
	return []image.DeleteResponse{{Untagged: ref}}, f.record("ImageRemove %s %+v", ref, o)
}

func (f *fake) ImagesPrune(_ context.Context, filters api.Filters) (image.PruneReport, error) {
	return image.PruneReport{SpaceReclaimed: 1}, f.record("ImagesPrune %s", js(filters))
}

func (f *fake) ImagePull(_ context.Context, ref string, o api.ImagePullOptions) (io.ReadCloser, error) {
	return f.streamOf(), f.record("ImagePull %s %+v", ref, o)
}

func (f *fake) ImagePush(_ context.Context, ref string, o api.ImagePushOptions) (io.ReadCloser, error) {
	return f.streamOf(), f.record("ImagePush %s all=%v auth=%s platform=%v", ref, o.All, o.RegistryAuth, o.Platform)
}

func (f *fake) ImageLoad(_ context.Context, input io.Reader, o api.ImageLoadOptions) (io.ReadCloser, error) {
	f.readBody(input)
	return f.streamOf(), f.record("ImageLoad %+v", o)
}

func (f *fake) ImageSave(_ context.Context, refs []string) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("TAR")), f.record("ImageSave %q", refs)
}

func (f *fake) ImageImport(_ context.Context, src io.Reader, ref string, o api.ImageImportOptions) (io.ReadCloser, error) {
	f.readBody(src)
	return f.streamOf(), f.record("ImageImport %q %+v", ref, o)
}

func (f *fake) RegistryLogin(_ context.Context, auth registry.AuthConfig) (registry.AuthResponse, error) {
	return registry.AuthResponse{Status: "Login Succeeded"}, f.record("RegistryLogin %s@%s", auth.Username, auth.ServerAddress)
}

func (f *fake) Build(_ context.Context, ctxTar io.Reader, o api.BuildOptions) (io.ReadCloser, error) {
	f.readBody(ctxTar)
	return f.streamOf(), f.record("Build t=%q file=%s args=%s labels=%v rm=%v nocache=%v", o.Tags, o.Dockerfile, js(o.BuildArgs), o.Labels, o.Remove, o.NoCache)
}

func (f *fake) BuildPrune(_ context.Context, o api.BuildPruneOptions) (build.CachePruneReport, error) {
	return build.CachePruneReport{}, f.record("BuildPrune all=%v", o.All)
}

func (f *fake) ContainerCreate(_ context.Context, o api.ContainerCreateOptions) (container.CreateResponse, error) {
	return container.CreateResponse{ID: "c1"}, f.record("ContainerCreate name=%s platform=%s image=%s cmd=%q host=%v",
		o.Name, o.Platform, o.Config.Image, o.Config.Cmd, o.HostConfig != nil)
}

func (f *fake) ContainerStart(_ context.Context, name string) error {
	return f.record("ContainerStart %s", name)
}

func showStop(o api.ContainerStopOptions) string {
	t := "nil"
	if o.Timeout != nil {
		t = fmt.Sprint(*o.Timeout)
	}
	return "signal=" + o.Signal + " t=" + t
}

func (f *fake) ContainerStop(_ context.Context, name string, o api.ContainerStopOptions) error {
	return f.record("ContainerStop %s %s", name, showStop(o))
}

func (f *fake) ContainerRestart(_ context.Context, name string, o api.ContainerStopOptions) error {
	return f.record("ContainerRestart %s %s", name, showStop(o))
}

func (f *fake) ContainerKill(_ context.Context, name, signal string) error {
	return f.record("ContainerKill %s %s", name, signal)
}

func (f *fake) ContainerRemove(_ context.Context, name string, o api.ContainerRemoveOptions) error {
	return f.record("ContainerRemove %s %+v", name, o)
}

func (f *fake) ContainerWait(_ context.Context, name string, cond container.WaitCondition) (<-chan container.WaitResponse, error) {
	ch := f.waitCh
	if ch == nil {
		ch = make(chan container.WaitResponse, 1)
		ch <- container.WaitResponse{StatusCode: 3}
	}
	return ch, f.record("ContainerWait %s %s", name, cond)
}

func (f *fake) ContainerPause(_ context.Context, name string) error {
	return f.record("ContainerPause %s", name)
}

func (f *fake) ContainerUnpause(_ context.Context, name string) error {
	return f.record("ContainerUnpause %s", name)
}

func (f *fake) ContainerList(_ context.Context, o api.ContainerListOptions) ([]container.Summary, error) {
	return nil, f.record("ContainerList all=%v limit=%d size=%v filters=%s", o.All, o.Limit, o.Size, js(o.Filters))
}

func (f *fake) ContainerInspect(_ context.Context, name string, size bool) (container.InspectResponse, error) {
	return container.InspectResponse{ID: "c1", Name: "/" + name, Config: &container.Config{}}, f.record("ContainerInspect %s size=%v", name, size)
}

func (f *fake) ContainerTop(_ context.Context, name, psArgs string) (container.TopResponse, error) {
	return container.TopResponse{Titles: []string{"PID"}}, f.record("ContainerTop %s %s", name, psArgs)
}

func (f *fake) ContainerChanges(_ context.Context, name string) ([]container.FilesystemChange, error) {
	return nil, f.record("ContainerChanges %s", name)
}

func (f *fake) ContainerStats(_ context.Context, name string, o api.ContainerStatsOptions) (<-chan container.StatsResponse, error) {
	ch := make(chan container.StatsResponse, len(f.stats))
	for _, s := range f.stats {
		ch <- s
	}
	close(ch)
	return ch, f.record("ContainerStats %s %+v", name, o)
}

func (f *fake) ContainerLogs(_ context.Context, name string, o api.ContainerLogsOptions) (<-chan api.LogMessage, bool, error) {
	ch := make(chan api.LogMessage, len(f.logs))
	for _, m := range f.logs {
		ch <- m
	}
	close(ch)
	return ch, f.logsTTY, f.record("ContainerLogs %s follow=%v out=%v err=%v ts=%v tail=%d since=%d", name,
		o.Follow, o.Stdout, o.Stderr, o.Timestamps, o.Tail, o.Since.Unix())
}

func (f *fake) ContainerAttach(ctx context.Context, name string, o api.ContainerAttachOptions) error {
	if err := f.record("ContainerAttach %s stream=%v logs=%v in=%v out=%v err=%v keys=%s", name, o.Stream, o.Logs,
		o.Stdin, o.Stdout, o.Stderr, o.DetachKeys); err != nil {
		return err
	}
	if f.attach != nil {
		return f.attach(ctx, name, o)
	}
	return nil
}

func (f *fake) ContainerResize(_ context.Context, name string, h, w int) error {
	return f.record("ContainerResize %s %dx%d", name, h, w)
}

func (f *fake) ExecCreate(_ context.Context, name string, req container.ExecCreateRequest) (container.ExecCreateResponse, error) {
	return container.ExecCreateResponse{ID: "e1"}, f.record("ExecCreate %s cmd=%q tty=%v", name, req.Cmd, req.Tty)
}

func (f *fake) ExecStart(ctx context.Context, id string, o api.ExecStartOptions) error {
	if err := f.record("ExecStart %s detach=%v tty=%v", id, o.Detach, o.Tty); err != nil {
		return err
	}
	if f.exec != nil {
		return f.exec(ctx, id, o)
	}
	return nil
}

func (f *fake) ExecResize(_ context.Context, id string, h, w int) error {
	return f.record("ExecResize %s %dx%d", id, h, w)
}

func (f *fake) ExecInspect(_ context.Context, id string) (container.ExecInspectResponse, error) {
	code := 0
	return container.ExecInspectResponse{ID: id, ExitCode: &code}, f.record("ExecInspect %s", id)
}

func (f *fake) ContainerStatPath(_ context.Context, name, path string) (container.PathStat, error) {
	return container.PathStat{Name: "tmp", Mode: 1 << 31}, f.record("ContainerStatPath %s %s", name, path)
}

func (f *fake) ContainerArchivePath(_ context.Context, name, path string) (io.ReadCloser, container.PathStat, error) {
	return io.NopCloser(strings.NewReader("TAR")), container.PathStat{Name: "hostname", Size: 3}, f.record("ContainerArchivePath %s %s", name, path)
}

func (f *fake) ContainerExtractToDir(_ context.Context, name, path string, o api.ArchiveExtractOptions, content io.Reader) error {
	f.readBody(content)
	return f.record("ContainerExtractToDir %s %s %+v", name, path, o)
}

func (f *fake) ContainerExport(_ context.Context, name string) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("TAR")), f.record("ContainerExport %s", name)
}

func (f *fake) ContainerRename(_ context.Context, name, newName string) error {
	return f.record("ContainerRename %s %s", name, newName)
}

func (f *fake) ContainerUpdate(_ context.Context, name string, u container.UpdateConfig) (container.UpdateResponse, error) {
	return container.UpdateResponse{}, f.record("ContainerUpdate %s memory=%d restart=%s", name, u.Memory, u.RestartPolicy.Name)
}

func (f *fake) ContainersPrune(_ context.Context, filters api.Filters) (container.PruneReport, error) {
	return container.PruneReport{}, f.record("ContainersPrune %s", js(filters))
}

func (f *fake) ContainerCommit(_ context.Context, o api.ContainerCommitOptions) (string, error) {
	return "sha256:2", f.record("ContainerCommit %s %s:%s pause=%v changes=%q config=%v", o.Container, o.Repo, o.Tag,
		o.Pause, o.Changes, o.Config != nil)
}

func (f *fake) NetworkList(_ context.Context, filters api.Filters) ([]network.Summary, error) {
	return nil, f.record("NetworkList %s", js(filters))
}

func (f *fake) NetworkInspect(_ context.Context, name string, verbose bool) (network.Inspect, error) {
	return network.Inspect{}, f.record("NetworkInspect %s %v", name, verbose)
}

func (f *fake) NetworkCreate(_ context.Context, req network.CreateRequest) (network.CreateResponse, error) {
	return network.CreateResponse{ID: "n1"}, f.record("NetworkCreate %s driver=%s labels=%v", req.Name, req.Driver, req.Labels)
}

func (f *fake) NetworkRemove(_ context.Context, name string) error {
	return f.record("NetworkRemove %s", name)
}

func (f *fake) NetworkConnect(_ context.Context, name string, req network.ConnectRequest) error {
	aliases := []string(nil)
	if req.EndpointConfig != nil {
		aliases = req.EndpointConfig.Aliases
	}
	return f.record("NetworkConnect %s %s %q", name, req.Container, aliases)
}

func (f *fake) NetworkDisconnect(_ context.Context, name string, req network.DisconnectRequest) error {
	return f.record("NetworkDisconnect %s %s force=%v", name, req.Container, req.Force)
}

func (f *fake) NetworksPrune(_ context.Context, filters api.Filters) (network.PruneReport, error) {
	return network.PruneReport{}, f.record("NetworksPrune %s", js(filters))
}

func (f *fake) VolumeList(_ context.Context, filters api.Filters) (volume.ListResponse, error) {
	return volume.ListResponse{}, f.record("VolumeList %s", js(filters))
}

func (f *fake) VolumeInspect(_ context.Context, name string) (volume.Volume, error) {
	return volume.Volume{Name: name}, f.record("VolumeInspect %s", name)
}

func (f *fake) VolumeCreate(_ context.Context, req volume.CreateRequest) (volume.Volume, error) {
	return volume.Volume{Name: req.Name}, f.record("VolumeCreate %s %s", req.Name, req.Driver)
}

func (f *fake) VolumeRemove(_ context.Context, name string, force bool) error {
	return f.record("VolumeRemove %s force=%v", name, force)
}

func (f *fake) VolumesPrune(_ context.Context, filters api.Filters) (volume.PruneReport, error) {
	return volume.PruneReport{}, f.record("VolumesPrune %s", js(filters))
}
