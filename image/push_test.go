package image

import (
	"bytes"
	"context"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestPush(t *testing.T) {
	ctx := context.Background()
	ts := newTestStore(t)
	ti := threeLayers(t, false)
	ti.push(ts.reg, "localhost:5000/a", "latest")
	if _, err := ts.Pull(ctx, "localhost:5000/a", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := ts.Tag(ctx, "localhost:5000/a", "localhost:5000/b:v1"); err != nil {
		t.Fatal(err)
	}
	var ev events
	dgst, err := ts.Push(ctx, "localhost:5000/b:v1", PushOptions{Progress: ev.add})
	if err != nil {
		t.Fatal(err)
	}
	if dgst != ti.manifestDigest() {
		t.Errorf("pushed %s, want %s", dgst, ti.manifestDigest())
	}
	id := ShortID(ti.diffIDs[0])
	if got := ev.actions(id); len(got) != 2 || got[0] != ActionPreparing || got[1] != "Mounted from localhost:5000/a" {
		t.Errorf("layer actions %q", got)
	}
	if !ev.has("v1: digest: " + dgst.String()) {
		t.Errorf("no digest line: %+v", ev.all)
	}
	// The pushed digest is a reference of the image now.
	info, err := ts.Inspect(ctx, "localhost:5000/b:v1")
	if err != nil || !contains(info.RepoDigests, "localhost:5000/b@"+dgst.String()) {
		t.Errorf("repo digests %v %v", info.RepoDigests, err)
	}
	var ev2 events
	if _, err := ts.Push(ctx, "localhost:5000/b:v1", PushOptions{Progress: ev2.add}); err != nil {
		t.Fatal(err)
	}
	if got := ev2.actions(id); len(got) != 2 || got[1] != ActionLayerExists {
		t.Errorf("second push actions %q", got)
	}
	fresh := newTestStore(t)
	fresh.reg = ts.reg
	fresh.Store = fresh.reopen(t)
	img, err := fresh.Pull(ctx, "localhost:5000/b:v1", PullOptions{})
	if err != nil || img.ID != ti.configDigest() {
		t.Fatalf("pull back: %+v %v", img, err)
	}
}

func TestPushImported(t *testing.T) {
	ctx := context.Background()
	ts := newTestStore(t)
	rootfs := layerTar(t, file{name: "hello", body: "hello"})
	if _, err := ts.Import(ctx, bytes.NewReader(rootfs), ImportOptions{Ref: "localhost:5000/imp"}); err != nil {
		t.Fatal(err)
	}
	var ev events
	if _, err := ts.Push(ctx, "localhost:5000/imp", PushOptions{Progress: ev.add}); err != nil {
		t.Fatal(err)
	}
	got := ev.actions(ShortID(digest.FromBytes(rootfs)))
	if len(got) < 2 || got[len(got)-1] != ActionPushed {
		t.Errorf("actions %q", got)
	}
	if _, err := ts.Push(ctx, "localhost:5000/nothing", PushOptions{}); err == nil {
		t.Error("pushed an image that does not exist")
	}
}
