package daemon

import (
	"context"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/api"
	ccontainer "github.com/corral-dev/corral/container"
)

// ContainerTop is GET /containers/{id}/top: the host's ps, limited to the
// container's processes.
func (s *Containers) ContainerTop(ctx context.Context, name, psArgs string) (container.TopResponse, error) {
	c, err := s.get(name)
	if err != nil {
		return container.TopResponse{}, err
	}
	if err := c.State.Check(ccontainer.OpTop, c.ID); err != nil {
		return container.TopResponse{}, err
	}
	m, err := s.monitorOf(ctx, c)
	if err != nil {
		return container.TopResponse{}, err
	}
	pids, err := m.Pids(ctx)
	if err != nil {
		return container.TopResponse{}, err
	}
	return ccontainer.Top(ctx, pids, psArgs)
}

// statsInterval is the time between two samples of a stream, as dockerd's.
const statsInterval = time.Second

// ContainerStats is GET /containers/{id}/stats: one sample (with the
// previous one for CPU use, unless OneShot), or a sample a second.
func (s *Containers) ContainerStats(ctx context.Context, name string, opts api.ContainerStatsOptions) (<-chan container.StatsResponse, error) {
	c, err := s.get(name)
	if err != nil {
		return nil, err
	}
	out := make(chan container.StatsResponse, 1)
	go func() {
		defer close(out)
		var prev *container.StatsResponse
		if !opts.Stream && !opts.OneShot {
			first := s.sample(ctx, c.ID, nil)
			prev = &first
			if !sleepCtx(ctx, statsInterval) {
				return
			}
		}
		for {
			r := s.sample(ctx, c.ID, prev)
			select {
			case out <- r:
			case <-ctx.Done():
				return
			}
			if !opts.Stream || !sleepCtx(ctx, statsInterval) {
				return
			}
			prev = &r
		}
	}()
	return out, nil
}

// sample is one stats sample of container id; a container that is not
// running answers only its name and ID, as dockerd's.
func (s *Containers) sample(ctx context.Context, id string, prev *container.StatsResponse) container.StatsResponse {
	empty := container.StatsResponse{ID: id, OSType: "linux"}
	c, err := s.get(id)
	if err != nil {
		return empty
	}
	empty.Name = c.Name
	if !c.State.Running || c.State.Restarting {
		return empty
	}
	m, err := s.monitorOf(ctx, c)
	if err != nil {
		return empty
	}
	raw, err := m.Stats(ctx)
	if err != nil {
		return empty
	}
	r, err := ccontainer.Stats(ccontainer.StatsInput{Sample: raw, ID: c.ID, Name: c.Name, Pid: c.State.Pid,
		NoNetworks: c.HostConfig.NetworkMode == "host" || c.HostConfig.NetworkMode == "none", Prev: prev})
	if err != nil {
		return empty
	}
	return r
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
