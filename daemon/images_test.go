package daemon

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/registry/registrytest"
	"github.com/corral-dev/corral/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Sandbox(m)) }

func newImages(t *testing.T) *Images {
	t.Helper()
	testutil.RequireRoot(t)
	i, err := NewImages(context.Background(), ImagesOptions{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { i.Close() })
	return i
}

// rootfsTar is a small root filesystem tarball with one file.
func rootfsTar(t *testing.T, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "etc/hostname", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(content))},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := io.WriteString(tw, content); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readStream decodes a whole JSON message stream.
func readStream(t *testing.T, rc io.ReadCloser) []jsonstream.Message {
	t.Helper()
	defer rc.Close()
	var out []jsonstream.Message
	dec := json.NewDecoder(rc)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("decode stream: %v", err)
		}
		out = append(out, m)
	}
}

// importImage imports a rootfs as ref and returns the image ID.
func importImage(t *testing.T, i *Images, ref, content string, changes ...string) string {
	t.Helper()
	rc, err := i.ImageImport(context.Background(), bytes.NewReader(rootfsTar(t, content)), ref,
		api.ImageImportOptions{Changes: changes})
	if err != nil {
		t.Fatal(err)
	}
	msgs := readStream(t, rc)
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0].Status, "sha256:") {
		t.Fatalf("import answered %+v", msgs)
	}
	return msgs[0].Status
}

func TestImportListInspect(t *testing.T) {
	i := newImages(t)
	ctx := context.Background()
	id := importImage(t, i, "app:1", "one", "LABEL tier=web", "CMD [\"sh\"]")
	other := importImage(t, i, "", "two")
	if err := i.ImageTag(ctx, "app:1", "localhost:5000/app:v1"); err != nil {
		t.Fatal(err)
	}
	all, err := i.ImageList(ctx, api.ImageListOptions{})
	if err != nil || len(all) != 2 {
		t.Fatalf("list: %v %+v", err, all)
	}
	for _, tc := range []struct {
		filters api.Filters
		want    []string
	}{
		{api.NewFilters("dangling", "true"), []string{other}},
		{api.NewFilters("dangling", "false"), []string{id}},
		{api.NewFilters("reference", "app"), []string{id}},
		{api.NewFilters("reference", "localhost:5000/*"), []string{id}},
		{api.NewFilters("reference", "app:2"), nil},
		{api.NewFilters("label", "tier=web"), []string{id}},
		{api.NewFilters("label", "tier"), []string{id}},
		{api.NewFilters("label", "tier=db"), nil},
	} {
		got, err := i.ImageList(ctx, api.ImageListOptions{Filters: tc.filters})
		var ids []string
		for _, s := range got {
			ids = append(ids, s.ID)
		}
		if err != nil || strings.Join(ids, ",") != strings.Join(tc.want, ",") {
			t.Errorf("filters %v: %v, %v; want %v", tc.filters.Keys(), ids, err, tc.want)
		}
	}
	for _, bad := range []api.Filters{api.NewFilters("bogus", "1"), api.NewFilters("dangling", "maybe")} {
		if _, err := i.ImageList(ctx, api.ImageListOptions{Filters: bad}); !errdefs.IsInvalidArgument(err) {
			t.Errorf("filters %v: %v, want an invalid argument", bad.Keys(), err)
		}
	}
	ins, err := i.ImageInspect(ctx, "app:1")
	if err != nil {
		t.Fatal(err)
	}
	if ins.ID != id || ins.Config == nil || ins.Config.Labels["tier"] != "web" || strings.Join(ins.Config.Cmd, " ") != "sh" ||
		strings.Join(ins.RepoTags, ",") != "app:1,localhost:5000/app:v1" || ins.Os != "linux" || len(ins.RootFS.Layers) != 1 {
		t.Errorf("inspect: %+v", ins)
	}
	hist, err := i.ImageHistory(ctx, id[:19])
	if err != nil || len(hist) != 1 || hist[0].ID != id {
		t.Errorf("history: %+v %v", hist, err)
	}
}

func TestNoSuchImage(t *testing.T) {
	i := newImages(t)
	ctx := context.Background()
	_, err := i.ImageInspect(ctx, "nope")
	if !errdefs.IsNotFound(err) || err.Error() != "No such image: nope:latest" {
		t.Errorf("inspect: %v", err)
	}
	if _, err := i.ImageRemove(ctx, "localhost:5000/x:1", api.ImageRemoveOptions{}); err == nil ||
		err.Error() != "No such image: localhost:5000/x:1" {
		t.Errorf("remove: %v", err)
	}
	if err := i.ImageTag(ctx, "nope", "x"); !errdefs.IsNotFound(err) {
		t.Errorf("tag: %v", err)
	}
	if _, err := i.ImageSave(ctx, []string{"nope"}); !errdefs.IsNotFound(err) {
		t.Errorf("save: %v", err)
	}
	_, err = i.ImagePush(ctx, "localhost:5000/nope:1", api.ImagePushOptions{})
	if err == nil || err.Error() != "An image does not exist locally with the tag: localhost:5000/nope" {
		t.Errorf("push: %v", err)
	}
}

func TestSaveLoadRemovePrune(t *testing.T) {
	i := newImages(t)
	ctx := context.Background()
	id := importImage(t, i, "app:1", "one")
	rc, err := i.ImageSave(ctx, []string{"app:1"})
	if err != nil {
		t.Fatal(err)
	}
	archive, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || len(archive) == 0 {
		t.Fatalf("save: %v", err)
	}
	dels, err := i.ImageRemove(ctx, "app:1", api.ImageRemoveOptions{})
	if err != nil || len(dels) < 2 || dels[0].Untagged != "app:1" || dels[1].Deleted != id {
		t.Fatalf("remove: %+v %v", dels, err)
	}
	rc, err = i.ImageLoad(ctx, bytes.NewReader(archive), api.ImageLoadOptions{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	if msgs := readStream(t, rc); len(msgs) != 1 || msgs[0].Stream != "Loaded image: app:1\n" {
		t.Errorf("load: %+v", msgs)
	}
	// A bad archive is an error message in the stream, as dockerd answers.
	rc, err = i.ImageLoad(ctx, strings.NewReader("not a tar"), api.ImageLoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if msgs := readStream(t, rc); len(msgs) == 0 || msgs[len(msgs)-1].Error == nil {
		t.Errorf("bad load: %+v", msgs)
	}
	importImage(t, i, "", "dangling")
	rep, err := i.ImagesPrune(ctx, api.NewFilters("dangling", "true"))
	if err != nil || len(rep.ImagesDeleted) == 0 || rep.SpaceReclaimed == 0 {
		t.Errorf("prune: %+v %v", rep, err)
	}
	left, _ := i.ImageList(ctx, api.ImageListOptions{})
	if len(left) != 1 || left[0].ID != id {
		t.Errorf("after prune: %+v", left)
	}
	du, err := i.DiskUsage(ctx)
	if err != nil || du.ImageUsage == nil || len(du.ImageUsage.Items) != 1 || du.ImageUsage.TotalSize <= 0 {
		t.Errorf("disk usage: %+v %v", du.ImageUsage, err)
	}
}

func encodeAuth(user, pass, server string) string {
	b, _ := json.Marshal(registry.AuthConfig{Username: user, Password: pass, ServerAddress: server})
	return base64.URLEncoding.EncodeToString(b)
}

func TestPushPullWithAuth(t *testing.T) {
	reg := registrytest.New(t)
	reg.RequireBasic("me", "secret")
	i := newImages(t)
	ctx := context.Background()
	ref := reg.Host() + "/app:1"
	id := importImage(t, i, ref, "one")
	// Without credentials the push fails in the stream (the push started).
	rc, err := i.ImagePush(ctx, ref, api.ImagePushOptions{})
	if err == nil {
		msgs := readStream(t, rc)
		if last := msgs[len(msgs)-1]; last.Error == nil {
			t.Errorf("anonymous push succeeded: %+v", msgs)
		}
	}
	rc, err = i.ImagePush(ctx, ref, api.ImagePushOptions{RegistryAuth: encodeAuth("me", "secret", reg.Host())})
	if err != nil {
		t.Fatal(err)
	}
	msgs := readStream(t, rc)
	last := msgs[len(msgs)-1]
	if last.Aux == nil || !strings.HasPrefix(msgs[0].Status, "The push refers to repository [") {
		t.Fatalf("push stream: %+v", msgs)
	}
	var aux pushAux
	if err := json.Unmarshal(*last.Aux, &aux); err != nil || aux.Tag != "1" || !strings.HasPrefix(aux.Digest, "sha256:") || aux.Size == 0 {
		t.Errorf("push aux %s: %+v %v", *last.Aux, aux, err)
	}
	// Pull into a fresh store.
	j := newImages(t)
	if _, err := j.ImagePull(ctx, ref, api.ImagePullOptions{}); err == nil {
		t.Error("anonymous pull succeeded")
	}
	rc, err = j.ImagePull(ctx, ref, api.ImagePullOptions{RegistryAuth: encodeAuth("me", "secret", reg.Host())})
	if err != nil {
		t.Fatal(err)
	}
	msgs = readStream(t, rc)
	if msgs[0].Status != "Pulling from app" || msgs[0].ID != "1" ||
		msgs[len(msgs)-1].Status != "Status: Downloaded newer image for "+ref {
		t.Errorf("pull stream: %+v", msgs)
	}
	for _, m := range msgs {
		if m.ID != "" && m.ID != "1" && m.Progress == nil {
			t.Errorf("layer message without progressDetail: %+v", m)
		}
	}
	ins, err := j.ImageInspect(ctx, ref)
	if err != nil || ins.ID != id || len(ins.RepoDigests) != 1 || !strings.HasSuffix(ins.RepoDigests[0], aux.Digest) {
		t.Errorf("pulled image: %+v %v (pushed %s)", ins, err, aux.Digest)
	}
	// An unknown tag is the call's error, not a stream.
	if _, err := j.ImagePull(ctx, reg.Host()+"/app:nope", api.ImagePullOptions{
		RegistryAuth: encodeAuth("me", "secret", reg.Host())}); err == nil {
		t.Error("pull of an unknown tag started a stream")
	}
	if _, err := j.RegistryLogin(ctx, registry.AuthConfig{Username: "me", Password: "bad", ServerAddress: reg.Host()}); !errors.Is(err, errdefs.ErrUnauthorized) {
		t.Errorf("login with a bad password: %v", err)
	}
	resp, err := j.RegistryLogin(ctx, registry.AuthConfig{Username: "me", Password: "secret", ServerAddress: "http://" + reg.Host() + "/"})
	if err != nil || resp.Status != "Login Succeeded" {
		t.Errorf("login: %+v %v", resp, err)
	}
}

func TestDecodeAuth(t *testing.T) {
	for _, s := range []string{"", "e30=", "e30", encodeAuth("u", "p", "h")} {
		if _, err := decodeAuth(s); err != nil {
			t.Errorf("decodeAuth(%q): %v", s, err)
		}
	}
	for _, s := range []string{"!!!", base64.URLEncoding.EncodeToString([]byte("[1]"))} {
		if _, err := decodeAuth(s); !errdefs.IsInvalidArgument(err) {
			t.Errorf("decodeAuth(%q) = %v, want invalid argument", s, err)
		}
	}
}

// TestPullCancel closes a pull's stream early: the pull stops, Close waits
// for it, and the next pull succeeds.
func TestPullCancel(t *testing.T) {
	reg := registrytest.New(t)
	i := newImages(t)
	ctx := context.Background()
	ref := reg.Host() + "/slow:1"
	importImage(t, i, ref, strings.Repeat("x", 1<<20))
	rc, err := i.ImagePush(ctx, ref, api.ImagePushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	readStream(t, rc)
	j := newImages(t)
	reg.Latency(200 * time.Millisecond)
	rc, err = j.ImagePull(ctx, ref, api.ImagePullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var first jsonstream.Message
	if err := json.NewDecoder(rc).Decode(&first); err != nil || first.Status != "Pulling from slow" {
		t.Fatalf("first message %+v, %v", first, err)
	}
	start := time.Now()
	if err := rc.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("close took %v", d)
	}
	reg.Latency(0)
	rc, err = j.ImagePull(ctx, ref, api.ImagePullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	msgs := readStream(t, rc)
	if last := msgs[len(msgs)-1]; last.Status != "Status: Downloaded newer image for "+ref {
		t.Errorf("pull after a cancelled one: %+v", msgs)
	}
}
