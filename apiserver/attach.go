package apiserver

import (
	"errors"
	"net/http"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

func (s *Server) streamRoutes() []route {
	return []route{
		newRoute(http.MethodPost, "/containers/{name}/attach", s.containerAttach),
		newRoute(http.MethodPost, "/containers/{name}/resize", s.containerResize),
		newRoute(http.MethodPost, "/containers/{name}/exec", s.execCreate),
		newRoute(http.MethodPost, "/exec/{id}/start", s.execStart),
		newRoute(http.MethodPost, "/exec/{id}/resize", s.execResize),
		newRoute(http.MethodGet, "/exec/{id}/json", s.execInspect),
	}
}

// containerAttach is POST /containers/{name}/attach?stream=&logs=&stdin=&
// stdout=&stderr=&detachKeys=: the connection is hijacked (101 UPGRADED)
// once the backend has checked the request, and closed when it returns.
func (s *Server) containerAttach(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.ContainerIO == nil {
		return unavailable("attach")
	}
	q := r.URL.Query()
	opts := api.ContainerAttachOptions{Stream: boolValue(q, "stream"), Logs: boolValue(q, "logs"),
		Stdin: boolValue(q, "stdin"), Stdout: boolValue(q, "stdout"), Stderr: boolValue(q, "stderr"),
		DetachKeys: q.Get("detachKeys")}
	ss := s.newSession(w, r, opts.Stdin, opts.Stdout, opts.Stderr)
	opts.Streams = ss.streams
	err := s.cfg.ContainerIO.ContainerAttach(r.Context(), r.PathValue("name"), opts)
	return ss.finish(err, false)
}

// resizeOf reads h= and w=, both required.
func resizeOf(r *http.Request) (int, int, error) {
	q := r.URL.Query()
	if q.Get("h") == "" || q.Get("w") == "" {
		return 0, 0, errdefs.InvalidArgument(errors.New("h and w are required"))
	}
	h, err := intOr(q, "h", 0)
	if err != nil {
		return 0, 0, err
	}
	wd, err := intOr(q, "w", 0)
	if err != nil {
		return 0, 0, err
	}
	if h < 0 || wd < 0 {
		return 0, 0, errdefs.InvalidArgument(errors.New("h and w must not be negative"))
	}
	return h, wd, nil
}

func (s *Server) containerResize(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.ContainerIO == nil {
		return unavailable("resize")
	}
	h, wd, err := resizeOf(r)
	if err != nil {
		return err
	}
	if err := s.cfg.ContainerIO.ContainerResize(r.Context(), r.PathValue("name"), h, wd); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) exec() (Exec, error) {
	if s.cfg.Exec == nil {
		return nil, unavailable("exec")
	}
	return s.cfg.Exec, nil
}

// execCreate is POST /containers/{name}/exec; 201 {"Id"}.
func (s *Server) execCreate(w http.ResponseWriter, r *http.Request) error {
	b, err := s.exec()
	if err != nil {
		return err
	}
	var req container.ExecCreateRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if len(req.Cmd) == 0 {
		//lint:ignore ST1005 dockerd's wording.
		return errdefs.InvalidArgument(errors.New("No exec command specified"))
	}
	resp, err := b.ExecCreate(r.Context(), r.PathValue("name"), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

// execStart is POST /exec/{id}/start: detached, 200 at once; otherwise
// the connection is hijacked as for attach, and an error met after that is
// written into the output.
func (s *Server) execStart(w http.ResponseWriter, r *http.Request) error {
	b, err := s.exec()
	if err != nil {
		return err
	}
	var req container.ExecStartRequest
	if err := decodeOptionalJSON(w, r, &req); err != nil {
		return err
	}
	opts := api.ExecStartOptions{Detach: req.Detach, Tty: req.Tty, ConsoleSize: req.ConsoleSize}
	if req.Detach {
		if err := b.ExecStart(r.Context(), r.PathValue("id"), opts); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	}
	ss := s.newSession(w, r, true, true, true)
	opts.Streams = ss.streams
	err = b.ExecStart(r.Context(), r.PathValue("id"), opts)
	return ss.finish(err, true)
}

func (s *Server) execResize(w http.ResponseWriter, r *http.Request) error {
	b, err := s.exec()
	if err != nil {
		return err
	}
	h, wd, err := resizeOf(r)
	if err != nil {
		return err
	}
	if err := b.ExecResize(r.Context(), r.PathValue("id"), h, wd); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) execInspect(w http.ResponseWriter, r *http.Request) error {
	b, err := s.exec()
	if err != nil {
		return err
	}
	resp, err := b.ExecInspect(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
