package daemon

import (
	"context"
	"errors"
	"io"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

// notYet is the answer of the container calls still being written.
func notYet(what string) error {
	return errdefs.Wrap(errdefs.ErrNotImplemented, errors.New(what+" is not implemented yet"))
}

// ContainerStatPath is HEAD /containers/{id}/archive.
func (s *Containers) ContainerStatPath(ctx context.Context, name, path string) (container.PathStat, error) {
	return container.PathStat{}, notYet("cp")
}

// ContainerArchivePath is GET /containers/{id}/archive.
func (s *Containers) ContainerArchivePath(ctx context.Context, name, path string) (io.ReadCloser, container.PathStat, error) {
	return nil, container.PathStat{}, notYet("cp")
}

// ContainerExtractToDir is PUT /containers/{id}/archive.
func (s *Containers) ContainerExtractToDir(ctx context.Context, name, path string, opts api.ArchiveExtractOptions, content io.Reader) error {
	return notYet("cp")
}

// ContainerExport is GET /containers/{id}/export.
func (s *Containers) ContainerExport(ctx context.Context, name string) (io.ReadCloser, error) {
	return nil, notYet("export")
}

// ContainerCommit is POST /commit.
func (s *Containers) ContainerCommit(ctx context.Context, opts api.ContainerCommitOptions) (string, error) {
	return "", notYet("commit")
}

// ContainerChanges is GET /containers/{id}/changes.
func (s *Containers) ContainerChanges(ctx context.Context, name string) ([]container.FilesystemChange, error) {
	return nil, notYet("diff")
}
