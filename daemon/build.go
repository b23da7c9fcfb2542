package daemon

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"

	"github.com/corral-dev/corral/build"
	"github.com/corral-dev/corral/errdefs"
	cimage "github.com/corral-dev/corral/image"
	"github.com/corral-dev/corral/internal/reference"
	"github.com/corral-dev/corral/snapshot"
)

// builderEngine lends the builder (package build) the engine's parts: the
// image store for images, mounts and the layer cache, the container
// service to run RUN steps with the runtime and default security.
type builderEngine struct {
	images *Images
	ctrs   *Containers
	dir    string // scratch space: contexts and mounts
}

// Builder answers the Dockerfile builder of POST /build (one per daemon:
// it guards its cache mounts).
func (d *Daemon) Builder() *Builds {
	d.builderOnce.Do(func() {
		e := &builderEngine{images: d.images, ctrs: d.ctrs, dir: filepath.Join(d.root, "build")}
		d.builder = &Builds{images: d.images, Builder: build.New(build.Options{Images: e, Mounts: e,
			Runner: e, Cache: e, Puller: e, TempDir: e.tempDir(), CacheMounts: d.cacheMountsDir()})}
	})
	return d.builder
}

// cacheMountsDir holds the dirs of RUN --mount=type=cache, kept across
// builds and restarts until builder prune.
func (d *Daemon) cacheMountsDir() string {
	return filepath.Join(d.root, "buildmounts")
}

// tempDir is where build contexts are unpacked; what a crash left there is
// removed first, the image views it had mounted unmounted before.
func (e *builderEngine) tempDir() string {
	if mnts, err := filepath.Glob(filepath.Join(e.dir, "mnt-*")); err == nil {
		for _, m := range mnts {
			_ = snapshot.UnmountAll(m)
			_ = e.images.store.Snapshotter().Remove(context.Background(), "build-view-"+filepath.Base(m))
		}
	}
	for _, pat := range []string{"secrets-*", "rw-*/m"} { // RUN --mount tmpfs and overlays
		if mnts, err := filepath.Glob(filepath.Join(e.dir, pat)); err == nil {
			for _, m := range mnts {
				_ = snapshot.UnmountAll(m)
			}
		}
	}
	_ = os.RemoveAll(e.dir)
	_ = os.MkdirAll(e.dir, 0o700)
	return e.dir
}

func (e *builderEngine) Image(ctx context.Context, ref string) (cimage.InspectResult, error) {
	img, err := e.images.store.Inspect(ctx, ref)
	if err != nil {
		return img, fmt.Errorf("image %s: %w", ref, err)
	}
	return img, nil
}

func (e *builderEngine) Commit(ctx context.Context, c build.Commit) (string, error) {
	img, err := e.images.store.Commit(ctx, cimage.CommitOptions{Parent: c.Parent, Layer: emptyIfNil(c.Layer),
		Config: c.Config, CreatedBy: c.CreatedBy, SourceDateEpoch: c.Epoch})
	if err != nil {
		return "", err
	}
	return img.ID.String(), nil
}

func (e *builderEngine) Tag(ctx context.Context, id, ref string) error {
	return e.images.ImageTag(ctx, id, ref)
}

func (e *builderEngine) CacheGet(ctx context.Context, key string) (string, bool, error) {
	img, ok, err := e.images.store.CacheGet(ctx, key)
	return img.ID.String(), ok, err
}

func (e *builderEngine) CachePut(_ context.Context, key, id string) error {
	return e.images.store.CachePut(key, digest.Digest(id))
}

// Mount mounts a read-only view of image id's layers.
func (e *builderEngine) Mount(ctx context.Context, id string) (string, func(), error) {
	img, err := e.images.store.Inspect(ctx, id)
	if err != nil {
		return "", nil, err
	}
	diffs := make([]digest.Digest, len(img.RootFS.Layers))
	for i, l := range img.RootFS.Layers {
		diffs[i] = digest.Digest(l)
	}
	parent := ""
	if chain := cimage.ChainIDs(diffs); len(chain) > 0 {
		parent = chain[len(chain)-1].String()
	}
	dir, err := os.MkdirTemp(e.dir, "mnt-")
	if err != nil {
		return "", nil, fmt.Errorf("build mount point: %w", err)
	}
	key := "build-view-" + filepath.Base(dir)
	sn := e.images.store.Snapshotter()
	mounts, err := sn.View(ctx, key, parent)
	if err == nil {
		err = snapshot.MountAll(mounts, dir)
	}
	release := func() {
		_ = snapshot.UnmountAll(dir)
		_ = sn.Remove(context.WithoutCancel(ctx), key)
		_ = os.Remove(dir)
	}
	if err != nil {
		release()
		return "", nil, fmt.Errorf("mount image %s: %w", id, err)
	}
	return dir, release, nil
}

// Pull is build --pull: the image pull of POST /images/create with the
// credentials the X-Registry-Config header holds for ref's registry.
func (e *builderEngine) Pull(ctx context.Context, ref, regConfig string, out io.Writer) error {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return errdefs.InvalidArgument(err)
	}
	named = reference.TagNameOnly(named)
	auth, err := authFor(regConfig, reference.Domain(named))
	if err != nil {
		return err
	}
	name := reference.FamiliarString(named)
	prev, _ := e.images.store.Get(ctx, named.String())
	fmt.Fprintf(out, "Pulling %s\n", name)
	img, err := e.images.store.Pull(withAuth(ctx, auth), named.String(), cimage.PullOptions{})
	if err != nil {
		return manifestNotFound(named, err)
	}
	e.images.events.image(events.ActionPull, name, reference.FamiliarName(named))
	status := "Downloaded newer image"
	if prev.ID == img.ID {
		status = "Image is up to date"
	}
	fmt.Fprintf(out, "Digest: %s\nStatus: %s for %s\n", img.Manifest, status, name)
	return nil
}
