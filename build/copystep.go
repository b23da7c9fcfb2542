package build

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/corral-dev/corral/errdefs"
)

// copyArgs are a COPY's or an ADD's arguments, expanded.
type copyArgs struct {
	sd                 instructions.SourcesAndDest
	from, chown, chmod string
	add                bool
	text               string
}

// copy is COPY and ADD: the files named, from the context or from a stage
// or image (--from), as a new layer on s.
func (j *job) copy(ctx context.Context, s *state, a copyArgs) error {
	src, release, err := j.copySource(ctx, a.from)
	if err != nil {
		return err
	}
	defer release()
	spec, err := j.copySpec(s, src, a)
	if err != nil {
		return err
	}
	sum, err := spec.sourceDigest()
	if err != nil {
		return err
	}
	key := j.key(s, a.text, sum)
	return j.cached(ctx, s, key, func() (string, error) {
		if err := j.resolveDest(ctx, s, spec, a); err != nil {
			return "", err
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(spec.writeTar(pw)) }()
		defer pr.Close()
		return j.b.opts.Images.Commit(ctx, Commit{Parent: s.id, Epoch: j.epoch, Layer: pr, Config: s.cfg.Clone(),
			CreatedBy: "/bin/sh -c #(nop) " + a.text})
	})
}

// copySource is the tree a copy reads: the context, or the root filesystem
// of the stage or image from names.
func (j *job) copySource(ctx context.Context, from string) (*source, func(), error) {
	if from == "" {
		return j.bctx, func() {}, nil
	}
	id, what := "", "stage "+from
	if k := j.df.stageRef(from); k >= 0 {
		id = j.result(k).id
	} else {
		img, err := j.b.opts.Images.Image(ctx, from)
		if err != nil {
			return nil, nil, fmt.Errorf("COPY --from=%s: %w", from, err)
		}
		id, what = img.ID, "image "+from
	}
	if id == "" {
		return nil, nil, errdefs.InvalidArgument(fmt.Errorf("COPY --from=%s: the stage is empty (scratch)", from))
	}
	dir, release, err := j.b.opts.Mounts.Mount(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return &source{dir: dir, what: what}, release, nil
}

// copySpec resolves the sources, owner and mode of a copy.
func (j *job) copySpec(s *state, src *source, a copyArgs) (*copySpec, error) {
	spec := &copySpec{src: src, unpack: a.add, inline: a.sd.SourceContents, uid: -1, gid: -1,
		keepOwner: a.from != "" && a.chown == ""}
	wild := false
	for _, p := range a.sd.SourcePaths {
		if a.add && isURL(p) {
			return nil, errdefs.InvalidArgument(fmt.Errorf("ADD %s: remote URLs are not supported (no network during builds)", p))
		}
		m, err := src.match(p)
		if err != nil {
			return nil, err
		}
		wild = wild || hasWildcard(p)
		spec.srcs = append(spec.srcs, m...)
	}
	dest := a.sd.DestPath
	if !path.IsAbs(dest) {
		dest = path.Join("/", s.cfg.WorkingDir, dest)
	}
	spec.dest = path.Clean(dest)
	spec.dirDest = strings.HasSuffix(a.sd.DestPath, "/") || len(spec.srcs)+len(spec.inline) > 1 || wild
	if a.chmod != "" {
		m, err := strconv.ParseInt(a.chmod, 8, 32)
		if err != nil || m < 0 || m > 0o7777 {
			return nil, errdefs.InvalidArgument(fmt.Errorf("invalid --chmod %q: want an octal mode", a.chmod))
		}
		spec.mode = &m
	}
	return spec, nil
}

// resolveDest settles what the cache key did not need: the owner (names
// looked up in the image's passwd and group files) and whether dest is a
// directory already.
func (j *job) resolveDest(ctx context.Context, s *state, spec *copySpec, a copyArgs) error {
	spec.uid, spec.gid = 0, 0
	needRoot := !spec.dirDest || a.chown != ""
	if !needRoot || s.id == "" {
		if a.chown != "" {
			spec.newDirs = missingDirs("", spec.target())
		}
		return spec.setOwner(a.chown, "")
	}
	root, release, err := j.b.opts.Mounts.Mount(ctx, s.id)
	if err != nil {
		return err
	}
	defer release()
	if hp, err := securejoin.SecureJoin(root, spec.dest); err == nil {
		if fi, err := os.Stat(hp); err == nil && fi.IsDir() {
			spec.dirDest = true
		}
	}
	if a.chown != "" {
		spec.newDirs = missingDirs(root, spec.target())
	}
	return spec.setOwner(a.chown, root)
}

// target is the directory the copy's files go into: dest itself when it
// is a directory or a directory is copied to it, else dest's parent.
func (c *copySpec) target() string {
	if c.dirDest {
		return c.dest
	}
	for _, rel := range c.srcs {
		if fi, err := c.src.lstat(rel); err == nil && fi.IsDir() {
			return c.dest
		}
	}
	return path.Dir(c.dest)
}

func isURL(p string) bool {
	return strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") || strings.HasPrefix(p, "git@")
}

// workdir is WORKDIR: the config's working dir, made in the image when
// missing.
func (j *job) workdir(ctx context.Context, s *state, c *instructions.WorkdirCommand) error {
	dir := c.Path
	if !path.IsAbs(dir) {
		dir = path.Join("/", s.cfg.WorkingDir, dir)
	}
	s.cfg.WorkingDir = path.Clean(dir)
	key := j.key(s, c.String(), configDigest(s.cfg))
	return j.cached(ctx, s, key, func() (string, error) {
		layer, err := j.workdirLayer(ctx, s)
		if err != nil {
			return "", err
		}
		return j.b.opts.Images.Commit(ctx, Commit{Parent: s.id, Epoch: j.epoch, Layer: layer, Config: s.cfg.Clone(),
			CreatedBy: "/bin/sh -c #(nop) " + c.String()})
	})
}

// workdirLayer is a layer holding the parts of the working dir the image
// lacks, owned by the USER in force (as BuildKit and buildah make them),
// or nil when the image has it.
func (j *job) workdirLayer(ctx context.Context, s *state) (io.Reader, error) {
	root := ""
	if s.id != "" {
		dir, release, err := j.b.opts.Mounts.Mount(ctx, s.id)
		if err != nil {
			return nil, err
		}
		defer release()
		root = dir
	}
	missing := missingDirs(root, s.cfg.WorkingDir)
	if len(missing) == 0 {
		return nil, nil
	}
	owner := &copySpec{}
	if err := owner.setOwner(s.cfg.User, root); err != nil {
		return nil, fmt.Errorf("WORKDIR %s: %w", s.cfg.WorkingDir, err)
	}
	return dirsTar(missing, owner.uid, owner.gid)
}
