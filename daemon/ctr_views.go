package daemon

import (
	"context"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/storage"

	"github.com/corral-dev/corral/api"
	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/snapshot"
)

// ContainerList is GET /containers/json.
func (s *Containers) ContainerList(ctx context.Context, opts api.ContainerListOptions) ([]container.Summary, error) {
	filters := map[string][]string{}
	for _, k := range opts.Filters.Keys() {
		filters[k] = opts.Filters.Get(k)
	}
	list, err := s.store.List(ccontainer.ListOptions{All: opts.All, Limit: opts.Limit, Filters: filters,
		Ancestor: s.ancestors(ctx)})
	if err != nil {
		return nil, errdefs.InvalidArgument(err)
	}
	now := time.Now()
	out := make([]container.Summary, 0, len(list))
	for _, c := range list {
		sum := ccontainer.Summary(c, now)
		if opts.Size {
			rw, rootfs := s.sizes(ctx, c)
			sum.SizeRw, sum.SizeRootFs = rw, rootfs
		}
		out = append(out, sum)
	}
	return out, nil
}

// ancestors resolves an ancestor filter's image to its ID.
func (s *Containers) ancestors(ctx context.Context) func(string) []string {
	return func(ref string) []string {
		img, err := s.images.store.Get(ctx, ref)
		if err != nil {
			return nil
		}
		return []string{img.ID.String()}
	}
}

// sizes are a container's writable layer size and its total with the
// image.
func (s *Containers) sizes(ctx context.Context, c *ccontainer.Container) (rw, total int64) {
	if u, err := s.snapshots().Usage(ctx, c.SnapshotKey); err == nil {
		rw = u.Size
	}
	total = rw
	if r, err := s.images.store.Inspect(ctx, c.ImageID); err == nil {
		total += r.Size
	}
	return rw, total
}

// ContainerInspect is GET /containers/{id}/json.
func (s *Containers) ContainerInspect(ctx context.Context, name string, size bool) (container.InspectResponse, error) {
	c, err := s.get(name)
	if err != nil {
		return container.InspectResponse{}, err
	}
	out, err := ccontainer.Inspect(c)
	if err != nil {
		return out, err
	}
	s.mu.Lock()
	for id, rec := range s.execs {
		if rec.containerID == c.ID {
			out.ExecIDs = append(out.ExecIDs, id)
		}
	}
	s.mu.Unlock()
	out.GraphDriver = s.graphDriver(ctx, c)
	if size {
		rw, total := s.sizes(ctx, c)
		out.SizeRw, out.SizeRootFs = &rw, &total
	}
	return out, nil
}

// graphDriver shows the container's overlay directories, as dockerd's
// overlay2 driver does.
func (s *Containers) graphDriver(ctx context.Context, c *ccontainer.Container) *storage.DriverData {
	gd := &storage.DriverData{Name: "overlay2", Data: map[string]string{}}
	mounts, err := s.snapshots().Mounts(ctx, c.SnapshotKey)
	if err != nil || len(mounts) == 0 {
		return gd
	}
	if upper, err := snapshot.WritableDir(mounts); err == nil {
		gd.Data["UpperDir"] = upper
	}
	for _, o := range mounts[0].Options {
		switch {
		case len(o) > 9 && o[:9] == "lowerdir=":
			gd.Data["LowerDir"] = o[9:]
		case len(o) > 7 && o[:7] == "workdir=":
			gd.Data["WorkDir"] = o[7:]
		}
	}
	gd.Data["MergedDir"] = s.paths.rootfs(c.ID)
	return gd
}
