package client

import (
	"context"
	"encoding/base64"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

// reader answers a function reading a whole stream answer, for
// read(c.ImagePull(...)).
func reader(t *testing.T) func(io.ReadCloser, error) string {
	return func(rc io.ReadCloser, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
}

// TestImageCalls checks that every image call reaches the backend with
// its arguments, through the real API server.
func TestImageCalls(t *testing.T) {
	t.Parallel()
	f := &fake{}
	c := serve(t, f)
	ctx := context.Background()
	readAll := reader(t)
	auth := base64.URLEncoding.EncodeToString([]byte(`{"username":"u","password":"p"}`))
	check := func(want string) {
		t.Helper()
		if got := f.last(); got != want {
			t.Errorf("backend got  %q\nwant %q", got, want)
		}
	}

	list, err := c.ImageList(ctx, api.ImageListOptions{All: true, SharedSize: true, Filters: api.NewFilters("dangling", "true")})
	if err != nil || len(list) != 1 || list[0].RepoTags[0] != "busybox:latest" {
		t.Errorf("list: %v %v", list, err)
	}
	check(`ImageList all=true shared=true {"dangling":{"true":true}}`)
	if img, err := c.ImageInspect(ctx, "localhost:5000/a/b:1"); err != nil || img.ID != "sha256:1" {
		t.Errorf("inspect: %v %v", img, err)
	}
	check("ImageInspect localhost:5000/a/b:1")
	if h, err := c.ImageHistory(ctx, "sha256:abc"); err != nil || len(h) != 1 {
		t.Errorf("history: %v %v", h, err)
	}
	check("ImageHistory sha256:abc")
	if err := c.ImageTag(ctx, "busybox", "localhost:5000/x/bb"); err != nil {
		t.Error(err)
	}
	check("ImageTag busybox localhost:5000/x/bb:latest")
	if err := c.ImageTag(ctx, "busybox", "x@sha256:"+strings.Repeat("a", 64)); !errdefs.IsInvalidArgument(err) {
		t.Errorf("tag with a digest: %v", err)
	}
	if _, err := c.ImageRemove(ctx, "busybox:1", api.ImageRemoveOptions{Force: true}); err != nil {
		t.Error(err)
	}
	check("ImageRemove busybox:1 force=true prune=false")
	if _, err := c.ImageRemove(ctx, "busybox:1", api.ImageRemoveOptions{PruneChildren: true}); err != nil {
		t.Error(err)
	}
	check("ImageRemove busybox:1 force=false prune=true")
	if rep, err := c.ImagesPrune(ctx, api.NewFilters("until", "1h")); err != nil || rep.SpaceReclaimed != 7 {
		t.Errorf("prune: %v %v", rep, err)
	}
	check(`ImagesPrune {"until":{"1h":true}}`)

	if out := readAll(c.ImagePull(ctx, "busybox", api.ImagePullOptions{RegistryAuth: auth, Platform: "linux/arm64"})); out != stream {
		t.Errorf("pull stream %q", out)
	}
	check("ImagePull docker.io/library/busybox:latest auth=" + auth + " platform=linux/arm64")
	readAll(c.ImagePull(ctx, "localhost:5000/x@sha256:"+strings.Repeat("b", 64), api.ImagePullOptions{}))
	check("ImagePull localhost:5000/x@sha256:" + strings.Repeat("b", 64) + " auth= platform=")
	readAll(c.ImagePush(ctx, "localhost:5000/x/bb:2", api.ImagePushOptions{RegistryAuth: auth,
		Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}}))
	check(`ImagePush localhost:5000/x/bb:2 all=false auth=` + auth + ` platform={"architecture":"amd64","os":"linux"}`)
	readAll(c.ImagePush(ctx, "localhost:5000/x/bb", api.ImagePushOptions{All: true}))
	check(`ImagePush localhost:5000/x/bb all=true auth= platform=null`)
}

func TestImageStreams(t *testing.T) {
	t.Parallel()
	f := &fake{}
	c := serve(t, f)
	ctx := context.Background()
	readAll := reader(t)
	// An archive of unknown length (sent chunked, as a file is), bigger
	// than what net/http discards of a body left unread when the answer
	// starts.
	archive := strings.Repeat("ARCHIVE.", 1<<17)
	input := struct{ io.Reader }{strings.NewReader(archive)}
	if out := readAll(c.ImageLoad(ctx, input, api.ImageLoadOptions{Quiet: true})); out != stream {
		t.Errorf("load stream %q", out)
	}
	if f.last() != "ImageLoad quiet=true" || f.lastBody() != archive {
		t.Errorf("load: %q, body of %d bytes, want %d", f.last(), len(f.lastBody()), len(archive))
	}
	if out := readAll(c.ImageSave(ctx, []string{"a:1", "b"})); out != "TAR" {
		t.Errorf("save: %q", out)
	}
	if f.last() != "ImageSave a:1,b" {
		t.Errorf("save: %q", f.last())
	}
	opts := api.ImageImportOptions{Message: "m", Changes: []string{`CMD ["sh"]`, "ENV A=1"}, Platform: "linux/amd64"}
	readAll(c.ImageImport(ctx, strings.NewReader("ROOTFS"), "busybox:1.0", opts))
	if want := `ImageImport busybox:1.0 msg=m changes=["CMD [\"sh\"]","ENV A=1"] platform=linux/amd64`; f.last() != want || f.lastBody() != "ROOTFS" {
		t.Errorf("import: %q body %q", f.last(), f.lastBody())
	}
	readAll(c.ImageImport(ctx, strings.NewReader(""), "", api.ImageImportOptions{}))
	if want := `ImageImport  msg= changes=null platform=`; f.last() != want {
		t.Errorf("import without a name: %q", f.last())
	}
}

func TestSystemCalls(t *testing.T) {
	t.Parallel()
	f := &fake{}
	c := serve(t, f)
	ctx := context.Background()
	if info, err := c.Info(ctx); err != nil || info.ID != "engine" || info.Images != 2 {
		t.Errorf("info: %+v %v", info, err)
	}
	if v, err := c.ServerVersion(ctx); err != nil || v.Version != "9.9" || v.APIVersion != api.APIVersion {
		t.Errorf("version: %+v %v", v, err)
	}
	if du, err := c.DiskUsage(ctx); err != nil || du.ImageUsage == nil || du.ImageUsage.TotalSize != 10 || len(du.ImageUsage.Items) != 1 {
		t.Errorf("df: %+v %v", du, err)
	}
	resp, err := c.RegistryLogin(ctx, registry.AuthConfig{ServerAddress: "localhost:5000", Username: "u", Password: "p"})
	if err != nil || resp.Status != "Login Succeeded" || f.last() != "RegistryLogin localhost:5000 u" {
		t.Errorf("login: %v %v %q", resp, err, f.last())
	}
	p, err := c.Ping(ctx)
	if err != nil || p.APIVersion != api.APIVersion || p.OSType != "linux" || p.BuilderVersion != "1" {
		t.Errorf("ping: %+v %v", p, err)
	}
	ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	msgs, errs := c.Events(ectx, api.EventsOptions{Filters: api.NewFilters("type", "image")})
	var got []string
	for m := range msgs {
		got = append(got, string(m.Action)+" "+m.Actor.ID)
	}
	if err := <-errs; err != nil || strings.Join(got, ",") != "pull busybox:latest,tag sha256:1" {
		t.Errorf("events: %v %v", got, err)
	}
	if f.last() != `Events {"type":{"image":true}}` {
		t.Errorf("events filters: %q", f.last())
	}
	f.setErr(errdefs.NotFound(errNoSuch))
	if _, err := c.Info(ctx); !errdefs.IsNotFound(err) || err.Error() != "Error response from daemon: no such thing" {
		t.Errorf("info error: %v", err)
	}
}

type noSuch struct{}

func (noSuch) Error() string { return "no such thing" }

var errNoSuch = noSuch{}
