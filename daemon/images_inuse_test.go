package daemon

import (
	"context"
	"testing"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

func TestImageInUseByContainer(t *testing.T) {
	e := newCtrEnv(t)
	d := &Daemon{ctrs: e.s, images: e.images}
	e.images.users = d.imageUsers
	defer func() { e.images.users = nil }()
	id := e.create("", nil, "true")
	ctx := context.Background()
	if _, err := e.images.ImageRemove(ctx, "busybox", api.ImageRemoveOptions{}); !errdefs.IsConflict(err) {
		t.Fatalf("rmi of an image a container uses: %v", err)
	}
	if _, err := e.images.ImagesPrune(ctx, api.NewFilters("dangling", "false")); err != nil {
		t.Fatal(err)
	}
	e.start(id)
	if code := e.wait(id); code != 0 {
		t.Errorf("container of a pruned image: exit %d", code)
	}
	items, err := e.images.ImageRemove(ctx, "busybox", api.ImageRemoveOptions{Force: true})
	if err != nil || len(items) != 1 || items[0].Untagged == "" {
		t.Errorf("rmi -f: %+v %v", items, err)
	}
	if _, err := e.images.store.Get(ctx, e.inspect(id).Image); err != nil {
		t.Errorf("image of a container deleted by rmi -f: %v", err)
	}
}
