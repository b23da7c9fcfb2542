package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"sync"
	"time"

	"github.com/moby/moby/api/types/mount"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/image"
)

// Images is the image store as the builder uses it.
type Images interface {
	// Image answers the image ref names (errdefs.ErrNotFound if none).
	Image(ctx context.Context, ref string) (image.InspectResult, error)
	// Commit makes a new image of c and answers its ID.
	Commit(ctx context.Context, c Commit) (string, error)
	// Tag names image id ref.
	Tag(ctx context.Context, id, ref string) error
}

// Mounter shows an image's root filesystem, read-only, for COPY --from,
// --chown names and WORKDIR.
type Mounter interface {
	Mount(ctx context.Context, id string) (dir string, release func(), err error)
}

// Runner runs a RUN step in a container and commits what it changed.
type Runner interface {
	// Run answers the new image's ID; a command that exits non-zero is an
	// *ExitError.
	Run(ctx context.Context, r Run) (string, error)
}

// Cache is the layer cache: the image a step with a given key made.
type Cache interface {
	CacheGet(ctx context.Context, key string) (id string, ok bool, err error)
	CachePut(ctx context.Context, key, id string) error
}

// Puller fetches an image from its registry into the store (build
// --pull).
type Puller interface {
	// Pull pulls ref with the credentials of regConfig (the
	// X-Registry-Config header, "" for none), writing progress lines to out.
	Pull(ctx context.Context, ref, regConfig string, out io.Writer) error
}

// Commit is a step that makes an image without running anything.
type Commit struct {
	// Parent is the image the step starts from; "" is scratch.
	Parent string
	// Layer is the new layer's tar; nil makes no layer (config only).
	Layer     io.Reader
	Config    image.ContainerConfig
	CreatedBy string
	// Epoch is SOURCE_DATE_EPOCH: the image's times, layer times clamped.
	Epoch *time.Time
}

// Run is a RUN step.
type Run struct {
	Image string
	// Config is the image config the result gets; its User and WorkingDir
	// are the command's.
	Config image.ContainerConfig
	// Cmd is the command, the shell already prepended for the shell form;
	// Env its environment (the config's and the build args).
	Cmd     []string
	Env     []string
	Network string
	// Mounts are RUN --mount's, sources on the host; their targets are
	// left out of the commit.
	Mounts    []mount.Mount
	CreatedBy string
	Output    io.Writer
	// Epoch is SOURCE_DATE_EPOCH, as for Commit.
	Epoch *time.Time
	// Started, if not nil, is told the container's ID once it exists.
	Started func(id string)
}

// ExitError is a RUN command that failed.
type ExitError struct {
	Cmd  []string
	Code int
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("The command '%s' returned a non-zero code: %d", joinCmd(e.Cmd), e.Code)
}

// Options are the parts of the engine a Builder uses.
type Options struct {
	Images Images
	Mounts Mounter
	Runner Runner
	Cache  Cache
	// Puller pulls the FROM images of a build with --pull; nil refuses
	// --pull.
	Puller Puller
	// TempDir holds the unpacked build contexts ("" is os.TempDir()).
	TempDir string
	// CacheMounts holds the dirs of RUN --mount=type=cache, kept across
	// builds ("" refuses cache mounts).
	CacheMounts string
}

// Builder builds images from Dockerfiles.
type Builder struct {
	opts  Options
	locks cacheLocks
	// active is held shared by each build, exclusively by a prune of the
	// cache mounts.
	active sync.RWMutex
}

// New answers a Builder on the engine parts of opts.
func New(opts Options) *Builder {
	return &Builder{opts: opts}
}

// Build runs the build of the context tar r with opts and answers the
// classic builder's JSON message stream; errors, even those of the
// Dockerfile, come in it as errorDetail (the caller has already answered
// 200). Nothing is tagged unless every step succeeded.
func (b *Builder) Build(ctx context.Context, r io.Reader, opts api.BuildOptions) (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() {
		p := newProgress(pw, opts.Quiet)
		b.active.RLock()
		defer b.active.RUnlock()
		if err := b.build(ctx, r, opts, p); err != nil {
			p.fail(err)
		}
		pw.Close()
	}()
	return pr, nil
}

func (b *Builder) build(ctx context.Context, r io.Reader, opts api.BuildOptions, p *progress) error {
	if err := checkRequest(opts); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(b.opts.TempDir, "build-")
	if err != nil {
		return fmt.Errorf("build context dir: %w", err)
	}
	defer os.RemoveAll(dir)
	bctx, err := readContext(ctx, r, dir, opts.Dockerfile)
	if err != nil {
		return err
	}
	df, err := readDockerfile(bctx, opts.Dockerfile)
	if err != nil {
		return err
	}
	j := newJob(b, df, bctx, opts, p)
	defer j.closeSecrets()
	if j.epoch, err = sourceDateEpoch(opts.BuildArgs); err != nil {
		return err
	}
	id, err := j.run(ctx)
	if err != nil {
		return err
	}
	return j.finish(ctx, id)
}

// checkRequest refuses options the builder cannot honour, before any work.
func checkRequest(opts api.BuildOptions) error {
	if opts.Platform != "" {
		want, err := image.ParsePlatform(opts.Platform)
		if err != nil {
			return errdefs.InvalidArgument(fmt.Errorf("platform %q: %w", opts.Platform, err))
		}
		host := image.DefaultPlatform()
		if want.OS != host.OS || want.Architecture != host.Architecture {
			return errdefs.InvalidArgument(fmt.Errorf("platform %s: only the host's platform %s/%s can be built", opts.Platform, host.OS, host.Architecture))
		}
	}
	for _, t := range opts.Tags {
		if _, err := image.ParseReference(t); err != nil {
			return errdefs.InvalidArgument(fmt.Errorf("invalid tag %q: %w", t, err))
		}
	}
	return nil
}

// readDockerfile reads and parses the Dockerfile named (default
// "Dockerfile") in the context; it is read even if .dockerignore lists it.
func readDockerfile(bctx *source, name string) (*Dockerfile, error) {
	if name == "" {
		name = "Dockerfile"
	}
	rel, err := bctx.clean(name)
	if err != nil {
		return nil, err
	}
	hp, err := bctx.resolve(rel)
	if err == nil {
		var src []byte
		if src, err = os.ReadFile(hp); err == nil {
			return Parse(path.Base(rel), src)
		}
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, errdefs.InvalidArgument(fmt.Errorf("cannot locate specified Dockerfile: %s", name))
	}
	return nil, fmt.Errorf("read %s: %w", name, err)
}

// sourceDateEpoch is the build arg SOURCE_DATE_EPOCH (unix seconds), nil
// if unset.
func sourceDateEpoch(args map[string]*string) (*time.Time, error) {
	v, ok := args["SOURCE_DATE_EPOCH"]
	if !ok || v == nil || *v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(*v, 10, 64)
	if err != nil || n < 0 {
		return nil, errdefs.InvalidArgument(fmt.Errorf("invalid SOURCE_DATE_EPOCH %q: want unix seconds", *v))
	}
	t := time.Unix(n, 0).UTC()
	return &t, nil
}
