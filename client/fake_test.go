package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/system"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/apiserver"
)

// fake is the System, Images, ImageTransfer and Registry backends of an
// apiserver: it records each call as a line and answers err when set.
type fake struct {
	mu    sync.Mutex
	calls []string
	err   error
	body  string // what the last call that reads a body read
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

func (f *fake) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fake) lastBody() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.body
}

func (f *fake) last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return ""
	}
	return f.calls[len(f.calls)-1]
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

const stream = `{"status":"ok"}` + "\n"

func streamOf() io.ReadCloser { return io.NopCloser(strings.NewReader(stream)) }

func (f *fake) Info(context.Context) (system.Info, error) {
	return system.Info{ID: "engine", Images: 2}, f.record("Info")
}

func (f *fake) Events(ctx context.Context, opts api.EventsOptions) (<-chan events.Message, error) {
	if err := f.record("Events %s", js(opts.Filters)); err != nil {
		return nil, err
	}
	ch := make(chan events.Message, 2)
	ch <- events.Message{Type: events.ImageEventType, Action: events.ActionPull, Actor: events.Actor{ID: "busybox:latest"}}
	ch <- events.Message{Type: events.ImageEventType, Action: events.ActionTag, Actor: events.Actor{ID: "sha256:1"}}
	close(ch)
	return ch, nil
}

func (f *fake) DiskUsage(context.Context) (system.DiskUsage, error) {
	return system.DiskUsage{ImageUsage: &image.DiskUsage{TotalCount: 1, TotalSize: 10, Reclaimable: 10,
		Items: []image.Summary{{ID: "sha256:1", Size: 10}}}}, f.record("DiskUsage")
}

func (f *fake) ImageList(_ context.Context, o api.ImageListOptions) ([]image.Summary, error) {
	return []image.Summary{{ID: "sha256:1", RepoTags: []string{"busybox:latest"}}},
		f.record("ImageList all=%v shared=%v %s", o.All, o.SharedSize, js(o.Filters))
}

func (f *fake) ImageInspect(_ context.Context, ref string) (image.InspectResponse, error) {
	return image.InspectResponse{ID: "sha256:1", RepoTags: []string{ref}}, f.record("ImageInspect %s", ref)
}

func (f *fake) ImageHistory(_ context.Context, ref string) ([]image.HistoryResponseItem, error) {
	return []image.HistoryResponseItem{{ID: "sha256:1", Comment: "c"}}, f.record("ImageHistory %s", ref)
}

func (f *fake) ImageTag(_ context.Context, source, target string) error {
	return f.record("ImageTag %s %s", source, target)
}

func (f *fake) ImageRemove(_ context.Context, ref string, o api.ImageRemoveOptions) ([]image.DeleteResponse, error) {
	return []image.DeleteResponse{{Untagged: ref}}, f.record("ImageRemove %s force=%v prune=%v", ref, o.Force, o.PruneChildren)
}

func (f *fake) ImagesPrune(_ context.Context, filters api.Filters) (image.PruneReport, error) {
	return image.PruneReport{SpaceReclaimed: 7}, f.record("ImagesPrune %s", js(filters))
}

func (f *fake) ImagePull(_ context.Context, ref string, o api.ImagePullOptions) (io.ReadCloser, error) {
	return streamOf(), f.record("ImagePull %s auth=%s platform=%s", ref, o.RegistryAuth, o.Platform)
}

func (f *fake) ImagePush(_ context.Context, ref string, o api.ImagePushOptions) (io.ReadCloser, error) {
	return streamOf(), f.record("ImagePush %s all=%v auth=%s platform=%s", ref, o.All, o.RegistryAuth, js(o.Platform))
}

// ImageLoad answers as the daemon's does: the stream starts at once and
// the archive is read after that.
func (f *fake) ImageLoad(_ context.Context, input io.Reader, o api.ImageLoadOptions) (io.ReadCloser, error) {
	if err := f.record("ImageLoad quiet=%v", o.Quiet); err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := io.WriteString(pw, stream)
		if err == nil {
			f.readBody(input)
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}

func (f *fake) ImageSave(_ context.Context, refs []string) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("TAR")), f.record("ImageSave %s", strings.Join(refs, ","))
}

func (f *fake) ImageImport(_ context.Context, src io.Reader, ref string, o api.ImageImportOptions) (io.ReadCloser, error) {
	f.readBody(src)
	return streamOf(), f.record("ImageImport %s msg=%s changes=%s platform=%s", ref, o.Message, js(o.Changes), o.Platform)
}

func (f *fake) RegistryLogin(_ context.Context, auth registry.AuthConfig) (registry.AuthResponse, error) {
	return registry.AuthResponse{Status: "Login Succeeded"}, f.record("RegistryLogin %s %s", auth.ServerAddress, auth.Username)
}

// serve runs an apiserver with f as its backends on a unix socket of the
// test's own and answers a client of it.
func serve(t *testing.T, f *fake) *Client {
	t.Helper()
	srv := apiserver.New(apiserver.Config{System: f, Images: f, ImageTransfer: f, Registry: f, Version: "9.9"})
	sock := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ctx, l)
	}()
	c, err := New("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
	})
	return c
}
