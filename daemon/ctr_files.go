package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/corral-dev/corral/api"
	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
)

// fsRoot is the root a file operation on container name works in. For a
// running container withMounts gives /proc/PID/root, which shows its
// volumes and etc files as docker cp does, else its rootfs mount; a
// stopped container's snapshot is mounted for the time of the call, under
// its op lock. release undoes it.
func (s *Containers) fsRoot(ctx context.Context, name string, withMounts bool) (*ccontainer.Container, string, func(), error) {
	c, unlock, err := s.lock(name)
	if err != nil {
		return nil, "", nil, err
	}
	if c.State.Running && !c.State.Restarting && c.State.Pid > 0 {
		unlock()
		if withMounts {
			return c, "/proc/" + strconv.Itoa(c.State.Pid) + "/root", func() {}, nil
		}
		return c, s.paths.rootfs(c.ID), func() {}, nil
	}
	root, err := s.mountRootfs(ctx, c)
	if err != nil {
		unlock()
		return nil, "", nil, err
	}
	return c, root, func() { s.unmountRootfs(c.ID); unlock() }, nil
}

// releasingReader runs release once the reader is closed.
type releasingReader struct {
	io.ReadCloser
	release func()
}

func (r *releasingReader) Close() error {
	err := r.ReadCloser.Close()
	r.release()
	return err
}

// ContainerStatPath is HEAD /containers/{id}/archive.
func (s *Containers) ContainerStatPath(ctx context.Context, name, path string) (container.PathStat, error) {
	_, root, release, err := s.fsRoot(ctx, name, true)
	if err != nil {
		return container.PathStat{}, err
	}
	defer release()
	st, err := statPath(root, path)
	return st, fileError(err, name, path)
}

// ContainerArchivePath is GET /containers/{id}/archive.
func (s *Containers) ContainerArchivePath(ctx context.Context, name, path string) (io.ReadCloser, container.PathStat, error) {
	_, root, release, err := s.fsRoot(ctx, name, true)
	if err != nil {
		return nil, container.PathStat{}, err
	}
	rc, st, err := archivePath(ctx, root, path)
	if err != nil {
		release()
		return nil, st, fileError(err, name, path)
	}
	return &releasingReader{ReadCloser: rc, release: release}, st, nil
}

// ContainerExtractToDir is PUT /containers/{id}/archive.
func (s *Containers) ContainerExtractToDir(ctx context.Context, name, path string, opts api.ArchiveExtractOptions, content io.Reader) error {
	c, root, release, err := s.fsRoot(ctx, name, true)
	if err != nil {
		return err
	}
	defer release()
	if c.HostConfig.ReadonlyRootfs {
		return errdefs.Wrap(errdefs.ErrForbidden, errors.New("container rootfs is marked read-only"))
	}
	if err := extractToDir(ctx, root, path, c.Config.User, opts, content); err != nil {
		return fileError(err, name, path)
	}
	return nil
}

// ContainerExport is GET /containers/{id}/export: a tar of the root
// filesystem (without volumes).
func (s *Containers) ContainerExport(ctx context.Context, name string) (io.ReadCloser, error) {
	c, root, release, err := s.fsRoot(ctx, name, false)
	if err != nil {
		return nil, err
	}
	if err := c.State.Check(ccontainer.OpExport, c.ID); err != nil {
		release()
		return nil, err
	}
	rc, err := exportRootfs(ctx, root)
	if err != nil {
		release()
		return nil, err
	}
	s.publish(c, events.ActionExport, nil)
	return &releasingReader{ReadCloser: rc, release: release}, nil
}

// ContainerChanges is GET /containers/{id}/changes.
func (s *Containers) ContainerChanges(ctx context.Context, name string) ([]container.FilesystemChange, error) {
	c, err := s.get(name)
	if err != nil {
		return nil, err
	}
	upper, lowers, err := s.layers(ctx, c)
	if err != nil {
		return nil, err
	}
	return changes(ctx, upper, lowers)
}

// layers are the upper and lower dirs of c's snapshot.
func (s *Containers) layers(ctx context.Context, c *ccontainer.Container) (string, []string, error) {
	mounts, err := s.snapshots().Mounts(ctx, c.SnapshotKey)
	if err != nil {
		return "", nil, fmt.Errorf("container filesystem: %w", err)
	}
	return snapshotLayers(mounts)
}

// ContainerCommit is POST /commit: a new image of the container's changes
// over its image, the container paused meanwhile when asked.
func (s *Containers) ContainerCommit(ctx context.Context, opts api.ContainerCommitOptions) (string, error) {
	c, unlock, err := s.lock(opts.Container)
	if err != nil {
		return "", err
	}
	defer unlock()
	if err := c.State.Check(ccontainer.OpCommit, c.ID); err != nil {
		return "", err
	}
	if opts.Pause && c.State.Running && !c.State.Paused {
		if m, err := s.monitorOf(ctx, c); err == nil && m.Pause(ctx) == nil {
			defer func() { _ = m.Resume(context.WithoutCancel(ctx)) }()
		}
	}
	upper, lowers, err := s.layers(ctx, c)
	if err != nil {
		return "", err
	}
	o, err := commitOptions(opts, c, upper, lowers)
	if err != nil {
		return "", err
	}
	img, err := s.images.store.Commit(ctx, o)
	if err != nil {
		return "", err
	}
	s.publish(c, events.ActionCommit, nil)
	return img.ID.String(), nil
}
