package apiserver

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"

	"github.com/corral-dev/corral/errdefs"
)

func (s *Server) networkRoutes() []route {
	return []route{
		newRoute(http.MethodGet, "/networks", s.networkList),
		newRoute(http.MethodPost, "/networks/create", s.networkCreate),
		newRoute(http.MethodPost, "/networks/prune", s.networksPrune),
		newRoute(http.MethodGet, "/networks/{name}", s.networkInspect),
		newRoute(http.MethodDelete, "/networks/{name}", s.networkRemove),
		newRoute(http.MethodPost, "/networks/{name}/connect", s.networkConnect),
		newRoute(http.MethodPost, "/networks/{name}/disconnect", s.networkDisconnect),
	}
}

func (s *Server) networks() (Networks, error) {
	if s.cfg.Networks == nil {
		return nil, unavailable("networks")
	}
	return s.cfg.Networks, nil
}

func (s *Server) networkList(w http.ResponseWriter, r *http.Request) error {
	b, err := s.networks()
	if err != nil {
		return err
	}
	f, err := filtersOf(r.URL.Query())
	if err != nil {
		return err
	}
	list, err := b.NetworkList(r.Context(), f)
	if err != nil {
		return err
	}
	if list == nil {
		list = []network.Summary{}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) networkInspect(w http.ResponseWriter, r *http.Request) error {
	b, err := s.networks()
	if err != nil {
		// No networks to find: docker inspect tries every kind of object
		// and needs a 404 from each.
		return errdefs.NotFound(fmt.Errorf("network %s not found", r.PathValue("name")))
	}
	n, err := b.NetworkInspect(r.Context(), r.PathValue("name"), boolValue(r.URL.Query(), "verbose"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, n)
	return nil
}

// networkCreate is POST /networks/create; 201 {"Id","Warning"}.
func (s *Server) networkCreate(w http.ResponseWriter, r *http.Request) error {
	b, err := s.networks()
	if err != nil {
		return err
	}
	var req network.CreateRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Name == "" {
		return errdefs.InvalidArgument(errors.New("network name is required"))
	}
	resp, err := b.NetworkCreate(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

func (s *Server) networkRemove(w http.ResponseWriter, r *http.Request) error {
	b, err := s.networks()
	if err != nil {
		return err
	}
	if err := b.NetworkRemove(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) networkConnect(w http.ResponseWriter, r *http.Request) error {
	b, err := s.networks()
	if err != nil {
		return err
	}
	var req network.ConnectRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := b.NetworkConnect(r.Context(), r.PathValue("name"), req); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) networkDisconnect(w http.ResponseWriter, r *http.Request) error {
	b, err := s.networks()
	if err != nil {
		return err
	}
	var req network.DisconnectRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := b.NetworkDisconnect(r.Context(), r.PathValue("name"), req); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) networksPrune(w http.ResponseWriter, r *http.Request) error {
	b, err := s.networks()
	if err != nil {
		return err
	}
	f, err := filtersOf(r.URL.Query())
	if err != nil {
		return err
	}
	rep, err := b.NetworksPrune(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) volumeRoutes() []route {
	return []route{
		newRoute(http.MethodGet, "/volumes", s.volumeList),
		newRoute(http.MethodPost, "/volumes/create", s.volumeCreate),
		newRoute(http.MethodPost, "/volumes/prune", s.volumesPrune),
		newRoute(http.MethodGet, "/volumes/{name}", s.volumeInspect),
		newRoute(http.MethodDelete, "/volumes/{name}", s.volumeRemove),
	}
}

func (s *Server) volumes() (Volumes, error) {
	if s.cfg.Volumes == nil {
		return nil, unavailable("volumes")
	}
	return s.cfg.Volumes, nil
}

func (s *Server) volumeList(w http.ResponseWriter, r *http.Request) error {
	b, err := s.volumes()
	if err != nil {
		return err
	}
	f, err := filtersOf(r.URL.Query())
	if err != nil {
		return err
	}
	list, err := b.VolumeList(r.Context(), f)
	if err != nil {
		return err
	}
	if list.Volumes == nil {
		list.Volumes = []volume.Volume{}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// volumeCreate is POST /volumes/create; 201 with the volume. An empty body
// creates an anonymous local volume.
func (s *Server) volumeCreate(w http.ResponseWriter, r *http.Request) error {
	b, err := s.volumes()
	if err != nil {
		return err
	}
	var req volume.CreateRequest
	if err := decodeOptionalJSON(w, r, &req); err != nil {
		return err
	}
	v, err := b.VolumeCreate(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) volumeInspect(w http.ResponseWriter, r *http.Request) error {
	b, err := s.volumes()
	if err != nil {
		return errdefs.NotFound(fmt.Errorf("get %s: no such volume", r.PathValue("name")))
	}
	v, err := b.VolumeInspect(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) volumeRemove(w http.ResponseWriter, r *http.Request) error {
	b, err := s.volumes()
	if err != nil {
		return err
	}
	if err := b.VolumeRemove(r.Context(), r.PathValue("name"), boolValue(r.URL.Query(), "force")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) volumesPrune(w http.ResponseWriter, r *http.Request) error {
	b, err := s.volumes()
	if err != nil {
		return err
	}
	f, err := filtersOf(r.URL.Query())
	if err != nil {
		return err
	}
	rep, err := b.VolumesPrune(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}
