package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/volume"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
	cvolume "github.com/corral-dev/corral/volume"
)

// Volumes is the engine's volume service (the /volumes endpoints) over
// the volume store under <data-root>/volumes.
type Volumes struct {
	store  *cvolume.Store
	events *Events
}

// openVolumes opens the volume store of data root root.
func openVolumes(root string, ev *Events) (*Volumes, error) {
	st, err := cvolume.Open(filepath.Join(root, "volumes"))
	if err != nil {
		return nil, fmt.Errorf("open volume store: %w", err)
	}
	for _, name := range st.Skipped() {
		slog.Warn("not a volume: no readable volume.json", "dir", filepath.Join(st.Dir(), name))
	}
	return &Volumes{store: st, events: ev}, nil
}

// view is the API's form of v.
func (s *Volumes) view(v *cvolume.Volume) volume.Volume {
	out := volume.Volume{Name: v.Name, Driver: v.Driver, Mountpoint: s.store.Path(v.Name),
		CreatedAt: v.CreatedAt.Format(time.RFC3339), Labels: v.Labels, Options: v.Options, Scope: "local"}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if out.Options == nil {
		out.Options = map[string]string{}
	}
	return out
}

// publish sends a volume event; extra adds attributes to the driver.
func (s *Volumes) publish(name string, action events.Action, extra ...string) {
	if s.events == nil {
		return
	}
	attrs := map[string]string{"driver": cvolume.DriverLocal}
	for i := 0; i+1 < len(extra); i += 2 {
		attrs[extra[i]] = extra[i+1]
	}
	s.events.Publish(events.Message{Type: events.VolumeEventType, Action: action,
		Actor: events.Actor{ID: name, Attributes: attrs}})
}

// VolumeCreate is POST /volumes/create.
func (s *Volumes) VolumeCreate(_ context.Context, req volume.CreateRequest) (volume.Volume, error) {
	v, created, err := s.store.Create(req.Name, cvolume.CreateOptions{Driver: req.Driver, Labels: req.Labels, Options: req.DriverOpts})
	if err != nil {
		return volume.Volume{}, err
	}
	if created {
		s.publish(v.Name, events.ActionCreate)
	}
	return s.view(v), nil
}

// VolumeInspect is GET /volumes/{name}.
func (s *Volumes) VolumeInspect(_ context.Context, name string) (volume.Volume, error) {
	v, err := s.store.Get(name)
	if err != nil {
		return volume.Volume{}, err
	}
	return s.view(v), nil
}

// VolumeRemove is DELETE /volumes/{name}: a volume a container uses is
// refused, force or not.
func (s *Volumes) VolumeRemove(_ context.Context, name string, force bool) error {
	if _, err := s.store.Get(name); err != nil && force {
		return nil
	}
	if err := s.store.Remove(name, force); err != nil {
		return err
	}
	s.publish(name, events.ActionDestroy)
	return nil
}

// VolumeList is GET /volumes, with the filters dangling, name, label and
// driver.
func (s *Volumes) VolumeList(_ context.Context, f api.Filters) (volume.ListResponse, error) {
	if err := f.Validate("dangling", "name", "label", "driver"); err != nil {
		return volume.ListResponse{}, errdefs.InvalidArgument(err)
	}
	dangling, err := danglingFilter(f)
	if err != nil {
		return volume.ListResponse{}, err
	}
	out := volume.ListResponse{Volumes: []volume.Volume{}}
	for _, v := range s.store.List() {
		if dangling != nil && *dangling != (len(s.store.Users(v.Name)) == 0) {
			continue
		}
		if !matchVolumeName(f, v.Name) || !f.MatchLabels("label", v.Labels) ||
			(f.Contains("driver") && !f.ExactMatch("driver", v.Driver)) {
			continue
		}
		out.Volumes = append(out.Volumes, s.view(v))
	}
	return out, nil
}

// danglingFilter reads dangling=true|false|1|0; nil when absent.
func danglingFilter(f api.Filters) (*bool, error) {
	vals := f.Get("dangling")
	if len(vals) == 0 {
		return nil, nil
	}
	if len(vals) > 1 {
		return nil, errdefs.InvalidArgument(errors.New("invalid filter 'dangling': give one value"))
	}
	b, err := strconv.ParseBool(vals[0])
	if err != nil {
		return nil, errdefs.InvalidArgument(fmt.Errorf("invalid filter 'dangling=%s'", vals[0]))
	}
	return &b, nil
}

// matchVolumeName is the name filter: a part of the name, as dockerd's.
func matchVolumeName(f api.Filters, name string) bool {
	vals := f.Get("name")
	if len(vals) == 0 {
		return true
	}
	for _, v := range vals {
		if strings.Contains(name, v) {
			return true
		}
	}
	return false
}

// VolumesPrune is POST /volumes/prune: the unused anonymous volumes, or
// with the filter all=true every unused volume (docker 28); label and
// label! filters narrow it.
func (s *Volumes) VolumesPrune(_ context.Context, f api.Filters) (volume.PruneReport, error) {
	if err := f.Validate("label", "label!", "all"); err != nil {
		return volume.PruneReport{}, errdefs.InvalidArgument(err)
	}
	all := false
	if vals := f.Get("all"); len(vals) > 0 {
		b, err := strconv.ParseBool(vals[0])
		if err != nil {
			return volume.PruneReport{}, errdefs.InvalidArgument(fmt.Errorf("invalid filter 'all=%s'", vals[0]))
		}
		all = b
	}
	rep := volume.PruneReport{VolumesDeleted: []string{}}
	for _, v := range s.store.List() {
		if (!all && !v.Anonymous()) || len(s.store.Users(v.Name)) > 0 || !pruneLabels(f, v.Labels) {
			continue
		}
		size := s.store.Size(v.Name)
		if err := s.store.Remove(v.Name, false); err != nil {
			if errdefs.IsConflict(err) { // taken by a container meanwhile
				continue
			}
			return rep, err
		}
		s.publish(v.Name, events.ActionDestroy)
		rep.VolumesDeleted = append(rep.VolumesDeleted, v.Name)
		if size > 0 {
			rep.SpaceReclaimed += uint64(size)
		}
	}
	return rep, nil
}

// diskUsage is the volumes part of GET /system/df.
func (s *Volumes) diskUsage() *volume.DiskUsage {
	du := &volume.DiskUsage{Items: []volume.Volume{}}
	for _, v := range s.store.List() {
		view := s.view(v)
		refs := int64(len(s.store.Users(v.Name)))
		size := s.store.Size(v.Name)
		view.UsageData = &volume.UsageData{Size: size, RefCount: refs}
		du.Items = append(du.Items, view)
		du.TotalCount++
		if size > 0 {
			du.TotalSize += size
		}
		if refs > 0 {
			du.ActiveCount++
		} else if size > 0 {
			du.Reclaimable += size
		}
	}
	return du
}
