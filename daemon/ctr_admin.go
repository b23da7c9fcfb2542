package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/corral-dev/corral/api"
	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
)

// ContainerRename is POST /containers/{id}/rename.
func (s *Containers) ContainerRename(ctx context.Context, name, newName string) error {
	old, err := s.get(name)
	if err != nil {
		return err
	}
	c, err := s.store.Rename(ctx, old.ID, newName)
	if err != nil {
		return err
	}
	if err := s.nets.store.RenameEndpoints(c.ID, strings.TrimPrefix(c.Name, "/")); err != nil {
		s.log.Warn("rename the container's endpoints", "container", c.ID, "err", err)
	}
	s.publish(c, events.ActionRename, map[string]string{"oldName": old.Name})
	return nil
}

// ContainerUpdate is POST /containers/{id}/update: the resources given
// (non-zero fields) and the restart policy, applied to a running container
// at once and kept for its next starts.
func (s *Containers) ContainerUpdate(ctx context.Context, name string, u container.UpdateConfig) (container.UpdateResponse, error) {
	c, unlock, err := s.lock(name)
	if err != nil {
		return container.UpdateResponse{}, err
	}
	defer unlock()
	if err := c.State.Check(ccontainer.OpUpdate, c.ID); err != nil {
		return container.UpdateResponse{}, err
	}
	hc := *c.HostConfig
	if err := mergeResources(&hc.Resources, &u.Resources); err != nil {
		return container.UpdateResponse{}, err
	}
	if err := checkOnHost(&container.Config{}, &hc, s.host.NumCPU, onlineCPUs()); err != nil {
		return container.UpdateResponse{}, err
	}
	if u.RestartPolicy.Name != "" {
		if err := ccontainer.ValidateRestartPolicy(u.RestartPolicy); err != nil {
			return container.UpdateResponse{}, errdefs.InvalidArgument(err)
		}
		if hc.AutoRemove && u.RestartPolicy.Name != container.RestartPolicyDisabled {
			//lint:ignore ST1005 dockerd's wording.
			return container.UpdateResponse{}, errdefs.InvalidArgument(errors.New("Restart policy cannot be updated because AutoRemove is enabled for the container"))
		}
		hc.RestartPolicy = u.RestartPolicy
	}
	if c.State.Running && !c.State.Restarting {
		if err := s.applyResources(ctx, c, &hc); err != nil {
			//lint:ignore ST1005 dockerd's wording.
			return container.UpdateResponse{}, fmt.Errorf("Cannot update container %s: %w", c.ID, err)
		}
	}
	if c, err = s.update(c.ID, func(c *ccontainer.Container) error { c.HostConfig = &hc; return nil }); err != nil {
		return container.UpdateResponse{}, err
	}
	s.publish(c, events.ActionUpdate, nil)
	return container.UpdateResponse{Warnings: []string{}}, nil
}

// applyResources changes the limits of a running container.
func (s *Containers) applyResources(ctx context.Context, c *ccontainer.Container, hc *container.HostConfig) error {
	probe := *c
	probe.HostConfig = hc
	sp, err := s.buildSpec(&probe, s.paths.rootfs(c.ID))
	if err != nil {
		return err
	}
	m, err := s.monitorOf(ctx, c)
	if err != nil {
		return err
	}
	return m.Update(ctx, sp.Linux.Resources)
}

// mergeResources sets the fields of u that are set over r, with dockerd's
// checks of memory against swap.
func mergeResources(r, u *container.Resources) error {
	set64 := func(dst *int64, v int64) {
		if v != 0 {
			*dst = v
		}
	}
	if u.BlkioWeight != 0 {
		r.BlkioWeight = u.BlkioWeight
	}
	set64(&r.CPUShares, u.CPUShares)
	set64(&r.CPUPeriod, u.CPUPeriod)
	set64(&r.CPUQuota, u.CPUQuota)
	set64(&r.CPURealtimePeriod, u.CPURealtimePeriod)
	set64(&r.CPURealtimeRuntime, u.CPURealtimeRuntime)
	set64(&r.NanoCPUs, u.NanoCPUs)
	set64(&r.MemoryReservation, u.MemoryReservation)
	if u.CpusetCpus != "" {
		r.CpusetCpus = u.CpusetCpus
	}
	if u.CpusetMems != "" {
		r.CpusetMems = u.CpusetMems
	}
	if u.PidsLimit != nil {
		r.PidsLimit = u.PidsLimit
	}
	if u.Memory != 0 {
		if r.MemorySwap > 0 && u.MemorySwap == 0 && u.Memory > r.MemorySwap {
			//lint:ignore ST1005 dockerd's wording.
			return errdefs.InvalidArgument(errors.New("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"))
		}
		r.Memory = u.Memory
	}
	set64(&r.MemorySwap, u.MemorySwap)
	return nil
}

// ContainersPrune is POST /containers/prune: removes the stopped
// containers that match the filters (until, label, label!).
func (s *Containers) ContainersPrune(ctx context.Context, filters api.Filters) (container.PruneReport, error) {
	if err := filters.Validate("until", "label", "label!"); err != nil {
		return container.PruneReport{}, errdefs.InvalidArgument(err)
	}
	until, err := untilFilter(filters, time.Now())
	if err != nil {
		return container.PruneReport{}, err
	}
	rep := container.PruneReport{ContainersDeleted: []string{}}
	for _, c := range s.store.All() {
		if c.State.Running || c.State.Removing || !until.IsZero() && !c.Created.Before(until) ||
			!pruneLabels(filters, c.Labels()) {
			continue
		}
		rw, _ := s.sizes(ctx, c)
		if err := s.ContainerRemove(ctx, c.ID, api.ContainerRemoveOptions{}); err != nil {
			continue
		}
		rep.ContainersDeleted = append(rep.ContainersDeleted, c.ID)
		rep.SpaceReclaimed += uint64(rw)
	}
	if s.events != nil {
		s.events.Publish(events.Message{Type: events.ContainerEventType, Action: events.ActionPrune,
			Actor: events.Actor{Attributes: map[string]string{"reclaimed": fmt.Sprint(rep.SpaceReclaimed)}}})
	}
	return rep, nil
}

// pruneLabels applies the label and label! filters.
func pruneLabels(f api.Filters, labels map[string]string) bool {
	if !matchLabels(labels, f.Get("label")) {
		return false
	}
	for _, not := range f.Get("label!") {
		if matchLabels(labels, []string{not}) {
			return false
		}
	}
	return true
}
