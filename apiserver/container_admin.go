package apiserver

import (
	"errors"
	"net/http"

	"github.com/moby/moby/api/types/common"
	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

func (s *Server) containerAdminRoutes() []route {
	return []route{
		newRoute(http.MethodPost, "/containers/{name}/rename", s.containerRename),
		newRoute(http.MethodPost, "/containers/{name}/update", s.containerUpdate),
		newRoute(http.MethodPost, "/containers/prune", s.containersPrune),
		newRoute(http.MethodPost, "/commit", s.containerCommit),
	}
}

func (s *Server) admin() (ContainerAdmin, error) {
	if s.cfg.ContainerAdmin == nil {
		return nil, unavailable("this container call")
	}
	return s.cfg.ContainerAdmin, nil
}

// containerRename is POST /containers/{name}/rename?name=; 204.
func (s *Server) containerRename(w http.ResponseWriter, r *http.Request) error {
	b, err := s.admin()
	if err != nil {
		return err
	}
	newName := r.URL.Query().Get("name")
	if newName == "" {
		return errdefs.InvalidArgument(errors.New("name is required"))
	}
	if err := b.ContainerRename(r.Context(), r.PathValue("name"), newName); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// containerUpdate is POST /containers/{name}/update with the resources
// and restart policy to change.
func (s *Server) containerUpdate(w http.ResponseWriter, r *http.Request) error {
	b, err := s.admin()
	if err != nil {
		return err
	}
	var upd container.UpdateConfig
	if err := decodeJSON(w, r, &upd); err != nil {
		return err
	}
	resp, err := b.ContainerUpdate(r.Context(), r.PathValue("name"), upd)
	if err != nil {
		return err
	}
	if resp.Warnings == nil {
		resp.Warnings = []string{}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) containersPrune(w http.ResponseWriter, r *http.Request) error {
	b, err := s.admin()
	if err != nil {
		return err
	}
	f, err := filtersOf(r.URL.Query())
	if err != nil {
		return err
	}
	rep, err := b.ContainersPrune(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// containerCommit is POST /commit?container=&repo=&tag=&author=&comment=
// &pause=&changes=, with an optional container config body; 201 {"Id"}.
func (s *Server) containerCommit(w http.ResponseWriter, r *http.Request) error {
	b, err := s.admin()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	opts := api.ContainerCommitOptions{Container: q.Get("container"), Repo: q.Get("repo"), Tag: q.Get("tag"),
		Author: q.Get("author"), Comment: q.Get("comment"), Pause: boolOr(q, "pause", true), Changes: q["changes"]}
	if opts.Container == "" {
		return errdefs.InvalidArgument(errors.New("container is required"))
	}
	var cfg container.Config
	if r.ContentLength != 0 {
		if err := decodeOptionalJSON(w, r, &cfg); err != nil {
			return err
		}
		opts.Config = &cfg
	}
	id, err := b.ContainerCommit(r.Context(), opts)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, common.IDResponse{ID: id})
	return nil
}
