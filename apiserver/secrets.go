package apiserver

import (
	"errors"
	"net/http"

	"github.com/moby/moby/api/types/swarm"

	"github.com/corral-dev/corral/errdefs"
)

// secretRoutes are /secrets without swarm: the store is the engine's own.
// The other swarm paths stay errNoSwarm.
func (s *Server) secretRoutes() []route {
	if s.cfg.Secrets == nil {
		return nil
	}
	return []route{
		newRoute(http.MethodGet, "/secrets", s.secretList),
		newRoute(http.MethodPost, "/secrets/create", s.secretCreate),
		newRoute(http.MethodGet, "/secrets/{name}", s.secretInspect),
		newRoute(http.MethodDelete, "/secrets/{name}", s.secretRemove),
	}
}

func (s *Server) secretList(w http.ResponseWriter, r *http.Request) error {
	f, err := filtersOf(r.URL.Query())
	if err != nil {
		return err
	}
	list, err := s.cfg.Secrets.SecretList(r.Context(), f)
	if err != nil {
		return err
	}
	if list == nil {
		list = []swarm.Secret{}
	}
	for i := range list {
		list[i].Spec.Data = nil
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// secretCreate is POST /secrets/create {Name, Labels, Data (base64)}; 201
// {"ID"}.
func (s *Server) secretCreate(w http.ResponseWriter, r *http.Request) error {
	var spec swarm.SecretSpec
	if err := decodeJSON(w, r, &spec); err != nil {
		return err
	}
	if spec.Name == "" {
		return errdefs.InvalidArgument(errors.New("secret name is required"))
	}
	resp, err := s.cfg.Secrets.SecretCreate(r.Context(), spec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

func (s *Server) secretInspect(w http.ResponseWriter, r *http.Request) error {
	sec, err := s.cfg.Secrets.SecretInspect(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	sec.Spec.Data = nil
	writeJSON(w, http.StatusOK, sec)
	return nil
}

func (s *Server) secretRemove(w http.ResponseWriter, r *http.Request) error {
	if err := s.cfg.Secrets.SecretRemove(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
