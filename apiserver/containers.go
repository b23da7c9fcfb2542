package apiserver

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

func (s *Server) containerRoutes() []route {
	return []route{
		newRoute(http.MethodPost, "/containers/create", s.containerCreate),
		newRoute(http.MethodPost, "/containers/{name}/start", s.containerStart),
		newRoute(http.MethodPost, "/containers/{name}/stop", s.containerStop),
		newRoute(http.MethodPost, "/containers/{name}/restart", s.containerRestart),
		newRoute(http.MethodPost, "/containers/{name}/kill", s.containerKill),
		newRoute(http.MethodPost, "/containers/{name}/wait", s.containerWait),
		newRoute(http.MethodPost, "/containers/{name}/pause", s.containerPause),
		newRoute(http.MethodPost, "/containers/{name}/unpause", s.containerUnpause),
		newRoute(http.MethodDelete, "/containers/{name}", s.containerRemove),
	}
}

func (s *Server) containers() (Containers, error) {
	if s.cfg.Containers == nil {
		return nil, unavailable("containers")
	}
	return s.cfg.Containers, nil
}

var errEmptyConfig = errdefs.InvalidArgument(errors.New("config cannot be empty in order to create a container"))

// containerCreate is POST /containers/create?name=&platform=; 201
// {"Id","Warnings":[]}.
func (s *Server) containerCreate(w http.ResponseWriter, r *http.Request) error {
	b, err := s.containers()
	if err != nil {
		return err
	}
	var req container.CreateRequest
	if err := decodeJSON(w, r, &req); err != nil {
		if errors.Is(err, errEmptyBody) {
			return errEmptyConfig
		}
		return err
	}
	if req.Config == nil {
		return errEmptyConfig
	}
	q := r.URL.Query()
	opts := api.ContainerCreateOptions{Name: q.Get("name"), Platform: q.Get("platform"), Config: req.Config,
		HostConfig: req.HostConfig, NetworkingConfig: req.NetworkingConfig}
	resp, err := b.ContainerCreate(r.Context(), opts)
	if err != nil {
		return err
	}
	if resp.Warnings == nil {
		resp.Warnings = []string{}
	}
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

// containerStart is POST /containers/{name}/start; 204, or 304 when it
// runs already.
func (s *Server) containerStart(w http.ResponseWriter, r *http.Request) error {
	b, err := s.containers()
	if err != nil {
		return err
	}
	// A non-empty JSON object is at least 7 bytes; an unknown length is
	// a body too.
	if r.ContentLength > 7 || r.ContentLength == -1 {
		return errdefs.InvalidArgument(errors.New("starting container with non-empty request body was deprecated since API v1.22 and removed in v1.24"))
	}
	if r.URL.Query().Get("checkpoint") != "" {
		return errdefs.Wrap(errdefs.ErrNotImplemented, errors.New("starting from a checkpoint is not supported"))
	}
	if err := b.ContainerStart(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// stopOptions reads t= (seconds) and signal=.
func stopOptions(r *http.Request) (api.ContainerStopOptions, error) {
	q := r.URL.Query()
	opts := api.ContainerStopOptions{Signal: q.Get("signal")}
	if q.Get("t") != "" {
		t, err := intOr(q, "t", 0)
		if err != nil {
			return opts, err
		}
		opts.Timeout = &t
	}
	return opts, nil
}

func (s *Server) containerStop(w http.ResponseWriter, r *http.Request) error {
	b, err := s.containers()
	if err != nil {
		return err
	}
	opts, err := stopOptions(r)
	if err != nil {
		return err
	}
	if err := b.ContainerStop(r.Context(), r.PathValue("name"), opts); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) containerRestart(w http.ResponseWriter, r *http.Request) error {
	b, err := s.containers()
	if err != nil {
		return err
	}
	opts, err := stopOptions(r)
	if err != nil {
		return err
	}
	if err := b.ContainerRestart(r.Context(), r.PathValue("name"), opts); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) containerKill(w http.ResponseWriter, r *http.Request) error {
	b, err := s.containers()
	if err != nil {
		return err
	}
	if err := b.ContainerKill(r.Context(), r.PathValue("name"), r.URL.Query().Get("signal")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) containerPause(w http.ResponseWriter, r *http.Request) error {
	b, err := s.containers()
	if err != nil {
		return err
	}
	if err := b.ContainerPause(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) containerUnpause(w http.ResponseWriter, r *http.Request) error {
	b, err := s.containers()
	if err != nil {
		return err
	}
	if err := b.ContainerUnpause(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// containerRemove is DELETE /containers/{name}?force=&v=&link=.
func (s *Server) containerRemove(w http.ResponseWriter, r *http.Request) error {
	b, err := s.containers()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	opts := api.ContainerRemoveOptions{Force: boolValue(q, "force"), RemoveVolumes: boolValue(q, "v"), RemoveLinks: boolValue(q, "link")}
	if err := b.ContainerRemove(r.Context(), r.PathValue("name"), opts); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// containerWait is POST /containers/{name}/wait?condition=: the 200 and
// its headers are flushed at once (the docker CLI waits for them before it
// sends start), the body {"StatusCode":N} when the condition is met.
func (s *Server) containerWait(w http.ResponseWriter, r *http.Request) error {
	b, err := s.containers()
	if err != nil {
		return err
	}
	cond := container.WaitCondition(r.URL.Query().Get("condition"))
	switch cond {
	case "", container.WaitConditionNotRunning, container.WaitConditionNextExit, container.WaitConditionRemoved:
	default:
		return errdefs.InvalidArgument(fmt.Errorf("invalid condition: %q", cond))
	}
	ch, err := b.ContainerWait(r.Context(), r.PathValue("name"), cond)
	if err != nil {
		return err
	}
	js := startJSONStream(w)
	select {
	case res, ok := <-ch:
		if !ok {
			res = container.WaitResponse{StatusCode: -1, Error: &container.WaitExitError{Message: "wait ended without a result"}}
		}
		_ = js.send(res)
	case <-r.Context().Done():
	}
	return nil
}
