package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/archive"
	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
	cimage "github.com/corral-dev/corral/image"
	"github.com/corral-dev/corral/snapshot"
	"github.com/corral-dev/corral/spec"
)

// A container's filesystem: cp (stat, archive, extract), export, diff and
// commit. The functions take the container's root filesystem as a host
// directory (its mounted snapshot) or its snapshot's upper and lower dirs;
// every path of the container is resolved inside them by archive, which
// never follows a symlink out of the root.

// statPath is HEAD /containers/{id}/archive?path=p on the container whose
// root filesystem is mounted at root.
func statPath(root, p string) (container.PathStat, error) {
	st, err := archive.StatPath(root, p)
	if err != nil {
		return container.PathStat{}, err
	}
	return pathStat(st), nil
}

func pathStat(st archive.PathStat) container.PathStat {
	return container.PathStat{Name: st.Name, Size: st.Size, Mode: st.Mode, Mtime: st.ModTime, LinkTarget: st.LinkTarget}
}

// archivePath is GET /containers/{id}/archive?path=p: the tar of p as
// docker names its entries ("/etc" gives "etc/...", "/etc/." the content of
// /etc as "./..."), and p's stat. The caller closes the reader.
func archivePath(ctx context.Context, root, p string) (io.ReadCloser, container.PathStat, error) {
	rc, st, err := archive.ArchivePath(ctx, root, p)
	if err != nil {
		return nil, container.PathStat{}, err
	}
	return rc, pathStat(st), nil
}

// extractToDir is PUT /containers/{id}/archive?path=dir: the tar r
// (plain, gzip or zstd) is extracted into the existing directory dir of
// the container (its symlinks followed inside root). Entries keep the
// owners the tar gives them, as docker's daemon does; with
// opts.CopyUIDGID and a container user (Config.User, "name[:group]" or
// numeric) they are all owned by that user as the container's /etc/passwd
// and /etc/group resolve it.
func extractToDir(ctx context.Context, root, dir, user string, opts api.ArchiveExtractOptions, r io.Reader) error {
	xo := archive.ExtractOptions{NoOverwriteDirNonDir: opts.NoOverwriteDirNonDir}
	if opts.CopyUIDGID && user != "" {
		owner, err := containerOwner(root, user)
		if err != nil {
			return err
		}
		xo.Chown = &owner
	}
	return archive.Extract(ctx, root, dir, r, xo)
}

// containerOwner resolves the container user in its own passwd and group
// files.
func containerOwner(root, user string) (archive.Owner, error) {
	passwd, err := readInRoot(root, "/etc/passwd")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return archive.Owner{}, err
	}
	group, err := readInRoot(root, "/etc/group")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return archive.Owner{}, err
	}
	u, err := spec.ResolveUser(user, nil, passwd, group)
	if err != nil {
		return archive.Owner{}, err
	}
	return archive.Owner{UID: int(u.UID), GID: int(u.GID)}, nil
}

// exportRootfs is GET /containers/{id}/export: the tar of the whole root
// filesystem, entries named from it ("bin/sh"), without the root's own.
func exportRootfs(ctx context.Context, root string) (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.WriteDir(ctx, root, pw)) }()
	return pr, nil
}

// mountPoints are what a container's runtime creates in its upper dir to
// mount over when the image lacks them (docker keeps them in a layer of
// their own, under the container's): diff and commit leave them out while
// they are nothing but mount points (empty, absent from the image).
var mountPoints = []string{"/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/console",
	"/etc/resolv.conf", "/etc/hostname", "/etc/hosts", "/etc/mtab", "/.dockerenv", spec.InitPath}

// snapshotLayers returns the overlay upper dir of a container's writable
// snapshot, given its mounts, and its lower dirs, topmost first: what
// changes and commitOptions take.
func snapshotLayers(mounts []snapshot.Mount) (upper string, lowers []string, err error) {
	upper, err = snapshot.WritableDir(mounts)
	if err != nil {
		return "", nil, err
	}
	for _, o := range mounts[0].Options {
		if v, ok := strings.CutPrefix(o, "lowerdir="); ok {
			lowers = strings.Split(v, ":")
		}
	}
	return upper, lowers, nil
}

// changes is GET /containers/{id}/changes for a container whose writable
// snapshot has the overlay upper dir upper over lowers (topmost first).
func changes(ctx context.Context, upper string, lowers []string) ([]container.FilesystemChange, error) {
	left, err := archive.Leftovers(upper, lowers, mountPoints)
	if err != nil {
		return nil, err
	}
	cs, err := archive.Changes(ctx, upper, lowers, func(p string) bool { return left[p] })
	if err != nil {
		return nil, err
	}
	out := make([]container.FilesystemChange, 0, len(cs))
	for _, c := range cs {
		out = append(out, container.FilesystemChange{Path: c.Path, Kind: container.ChangeType(c.Kind)})
	}
	return out, nil
}

// fileNotFound is docker's answer for a path a container does not have.
type fileNotFound struct{ path, container string }

func (e fileNotFound) Error() string {
	return "Could not find the file " + e.path + " in container " + e.container
}

// fileError turns an error of statPath, archivePath or extractToDir on the
// path p of container name into the API's answer: a missing path is
// errdefs.ErrNotFound with docker's wording.
func fileError(err error, name, p string) error {
	if err != nil && errors.Is(err, fs.ErrNotExist) {
		return errdefs.NotFound(fileNotFound{path: p, container: name})
	}
	return err
}

// commitOptions turns POST /commit for container c, whose writable snapshot
// has the overlay upper dir upper over lowers, into the image store's
// options, as docker does: the request's config (the container's if none)
// with the changes applied, then completed from the container's config;
// mount points the runtime left are not committed.
func commitOptions(opts api.ContainerCommitOptions, c *ccontainer.Container, upper string, lowers []string) (cimage.CommitOptions, error) {
	if c.Config == nil {
		return cimage.CommitOptions{}, fmt.Errorf("commit %s: the container has no config", c.ID)
	}
	ctr := imageConfig(c.Config)
	cfg := ctr
	if opts.Config != nil {
		cfg = imageConfig(opts.Config)
	}
	cfg = cfg.Clone()
	if err := cimage.ApplyChanges(&cfg, opts.Changes); err != nil {
		return cimage.CommitOptions{}, err
	}
	mergeConfig(&cfg, &ctr)
	left, err := archive.Leftovers(upper, lowers, mountPoints)
	if err != nil {
		return cimage.CommitOptions{}, err
	}
	ref := opts.Repo
	if ref != "" && opts.Tag != "" {
		ref += ":" + opts.Tag
	}
	return cimage.CommitOptions{Parent: c.ImageID, Upper: upper, Exclude: slices.Sorted(maps.Keys(left)),
		Config: cfg, ContainerID: c.ID, ContainerConfig: &ctr, Author: opts.Author, Comment: opts.Comment,
		Ref: ref}, nil
}

// imageConfig is the image part of a container config (a deep copy).
func imageConfig(c *container.Config) cimage.ContainerConfig {
	out := cimage.ContainerConfig{User: c.User, Env: c.Env, Entrypoint: c.Entrypoint, Cmd: c.Cmd,
		ArgsEscaped: c.ArgsEscaped, Volumes: c.Volumes, WorkingDir: c.WorkingDir, OnBuild: c.OnBuild,
		Labels: c.Labels, StopSignal: c.StopSignal, StopTimeout: c.StopTimeout, Shell: c.Shell}
	for p := range c.ExposedPorts {
		if out.ExposedPorts == nil {
			out.ExposedPorts = map[string]struct{}{}
		}
		out.ExposedPorts[p.String()] = struct{}{}
	}
	if h := c.Healthcheck; h != nil {
		out.Healthcheck = &cimage.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
	}
	return out.Clone()
}

// mergeConfig completes the commit's config cfg from the container's, as
// docker's commit does: what cfg leaves unset is the container's; ports,
// variables, labels and volumes are added to cfg's; the container's
// command only comes along when cfg has no entrypoint.
func mergeConfig(cfg, ctr *cimage.ContainerConfig) {
	if cfg.User == "" {
		cfg.User = ctr.User
	}
	cfg.ExposedPorts = mergeSet(cfg.ExposedPorts, ctr.ExposedPorts)
	for _, e := range ctr.Env {
		k, _, _ := strings.Cut(e, "=")
		if !slices.ContainsFunc(cfg.Env, func(u string) bool { uk, _, _ := strings.Cut(u, "="); return uk == k }) {
			cfg.Env = append(cfg.Env, e)
		}
	}
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	for k, v := range ctr.Labels {
		if _, ok := cfg.Labels[k]; !ok {
			cfg.Labels[k] = v
		}
	}
	if len(cfg.Entrypoint) == 0 {
		if len(cfg.Cmd) == 0 {
			cfg.Cmd = ctr.Cmd
		}
		if cfg.Entrypoint == nil {
			cfg.Entrypoint = ctr.Entrypoint
		}
	}
	mergeHealth(cfg, ctr.Healthcheck)
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = ctr.WorkingDir
	}
	cfg.Volumes = mergeSet(cfg.Volumes, ctr.Volumes)
	if cfg.StopSignal == "" {
		cfg.StopSignal = ctr.StopSignal
	}
}

// mergeSet adds the keys of from to to (from itself when to is empty).
func mergeSet(to, from map[string]struct{}) map[string]struct{} {
	if len(to) == 0 {
		return maps.Clone(from)
	}
	maps.Copy(to, from)
	return to
}

// mergeHealth fills what cfg's healthcheck leaves unset from h.
func mergeHealth(cfg *cimage.ContainerConfig, h *cimage.HealthConfig) {
	switch {
	case h == nil:
	case cfg.Healthcheck == nil:
		c := *h
		cfg.Healthcheck = &c
	default:
		c := cfg.Healthcheck
		if len(c.Test) == 0 {
			c.Test = h.Test
		}
		if c.Interval == 0 {
			c.Interval = h.Interval
		}
		if c.Timeout == 0 {
			c.Timeout = h.Timeout
		}
		if c.StartPeriod == 0 {
			c.StartPeriod = h.StartPeriod
		}
		if c.StartInterval == 0 {
			c.StartInterval = h.StartInterval
		}
		if c.Retries == 0 {
			c.Retries = h.Retries
		}
	}
}
