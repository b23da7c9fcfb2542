package apiserver

import (
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strconv"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

func (s *Server) systemRoutes() []route {
	return []route{
		newRoute(http.MethodGet, "/_ping", s.ping),
		newRoute(http.MethodHead, "/_ping", s.ping),
		newRoute(http.MethodGet, "/version", s.version),
		newRoute(http.MethodGet, "/info", s.info),
		newRoute(http.MethodGet, "/events", s.events),
		newRoute(http.MethodGet, "/system/df", s.diskUsage),
		newRoute(http.MethodGet, "/plugins", s.plugins),
		newRoute(http.MethodGet, "/plugins/{name...}/json", s.pluginInspect),
	}
}

// unavailable answers ErrNotImplemented for an area without a backend.
func unavailable(what string) error {
	return errdefs.Wrap(errdefs.ErrNotImplemented, fmt.Errorf("%s is not implemented by this engine", what))
}

// ping answers HEAD and GET /_ping with what clients read from its headers.
func (s *Server) ping(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Builder-Version", string(build.BuilderV1))
	h.Set("Swarm", "inactive")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("OK"))
	return nil
}

// version answers GET /version from Config and the host.
func (s *Server) version(w http.ResponseWriter, _ *http.Request) error {
	kernel := ""
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		kernel = unix.ByteSliceToString(u.Release[:])
	}
	v := system.VersionResponse{
		Platform: system.PlatformInfo{Name: s.cfg.PlatformName},
		Version:  s.cfg.Version, APIVersion: api.APIVersion, MinAPIVersion: api.MinAPIVersion,
		Os: runtime.GOOS, Arch: runtime.GOARCH, GitCommit: s.cfg.GitCommit, GoVersion: runtime.Version(),
		KernelVersion: kernel, Experimental: s.cfg.Experimental, BuildTime: s.cfg.BuildTime,
	}
	v.Components = []system.ComponentVersion{{Name: "Engine", Version: v.Version, Details: map[string]string{
		"ApiVersion": v.APIVersion, "MinAPIVersion": v.MinAPIVersion, "GitCommit": v.GitCommit,
		"GoVersion": v.GoVersion, "Os": v.Os, "Arch": v.Arch, "KernelVersion": kernel,
		"BuildTime": v.BuildTime, "Experimental": strconv.FormatBool(v.Experimental),
	}}}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.System == nil {
		return unavailable("info")
	}
	info, err := s.cfg.System.Info(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

// legacyEvent is an event with the fields dockerd wrote before API 1.52
// (status, id, from), which docker-compose 1.29 reads.
type legacyEvent struct {
	Status string `json:"status,omitempty"`
	ID     string `json:"id,omitempty"`
	From   string `json:"from,omitempty"`
	events.Message
}

func eventJSON(r *http.Request, m events.Message) any {
	if versionAtLeast(r, "1.52") || m.Type != events.ContainerEventType && m.Type != events.ImageEventType {
		return m
	}
	e := legacyEvent{Status: string(m.Action), ID: m.Actor.ID, Message: m}
	if m.Type == events.ContainerEventType {
		e.From = m.Actor.Attributes["image"]
	}
	return e
}

// events answers GET /events: the headers at once, then one JSON object
// per event, flushed, until the backend closes the stream or the client
// leaves.
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.System == nil {
		return unavailable("events")
	}
	q := r.URL.Query()
	var opts api.EventsOptions
	var err error
	if opts.Since, err = timeOf(q, "since"); err != nil {
		return err
	}
	if opts.Until, err = timeOf(q, "until"); err != nil {
		return err
	}
	if opts.Filters, err = filtersOf(q); err != nil {
		return err
	}
	ch, err := s.cfg.System.Events(r.Context(), opts)
	if err != nil {
		return err
	}
	js := startJSONStream(w)
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				return nil
			}
			if js.send(eventJSON(r, m)) != nil {
				return nil
			}
		case <-r.Context().Done():
			return nil
		}
	}
}

// diskUsage is the answer of GET /system/df: the form of API 1.52 and,
// beside it, the older one the docker CLI 28 reads.
type diskUsage struct {
	system.DiskUsage
	LayersSize int64
	Images     []image.Summary
	Containers []container.Summary
	Volumes    []volume.Volume
	BuildCache []build.CacheRecord
}

func (s *Server) diskUsage(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.System == nil {
		return unavailable("system df")
	}
	du, err := s.cfg.System.DiskUsage(r.Context())
	if err != nil {
		return err
	}
	out := diskUsage{DiskUsage: du, Images: []image.Summary{}, Containers: []container.Summary{},
		Volumes: []volume.Volume{}, BuildCache: []build.CacheRecord{}}
	if du.ImageUsage != nil {
		out.LayersSize = du.ImageUsage.TotalSize
		out.Images = append(out.Images, du.ImageUsage.Items...)
	}
	if du.ContainerUsage != nil {
		out.Containers = append(out.Containers, du.ContainerUsage.Items...)
	}
	if du.VolumeUsage != nil {
		out.Volumes = append(out.Volumes, du.VolumeUsage.Items...)
	}
	if du.BuildCacheUsage != nil {
		out.BuildCache = append(out.BuildCache, du.BuildCacheUsage.Items...)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// plugins: corral has none; GET /plugins is [] and any plugin is unknown
// (docker inspect asks last for a plugin of the name).
func (s *Server) plugins(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, []struct{}{})
	return nil
}

func (s *Server) pluginInspect(_ http.ResponseWriter, r *http.Request) error {
	return errdefs.NotFound(fmt.Errorf("plugin %q not found", r.PathValue("name")))
}

// errNoSwarm is dockerd's answer to the swarm routes on a node outside a
// swarm.
//
//lint:ignore ST1005 dockerd's wording, which clients show.
var errNoSwarm = errdefs.Unavailable(errors.New(`This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.`))

// swarmRoutes answer every swarm-mode path with errNoSwarm.
func (s *Server) swarmRoutes() []route {
	var rs []route
	noSwarm := func(http.ResponseWriter, *http.Request) error { return errNoSwarm }
	for _, p := range []string{"swarm", "services", "nodes", "tasks", "secrets", "configs"} {
		rs = append(rs, newRoute("", "/"+p, noSwarm), newRoute("", "/"+p+"/{path...}", noSwarm))
	}
	return rs
}
