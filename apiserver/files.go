package apiserver

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

func (s *Server) fileRoutes() []route {
	return []route{
		newRoute(http.MethodHead, "/containers/{name}/archive", s.archiveStat),
		newRoute(http.MethodGet, "/containers/{name}/archive", s.archiveGet),
		newRoute(http.MethodPut, "/containers/{name}/archive", s.archivePut),
		newRoute(http.MethodGet, "/containers/{name}/export", s.containerExport),
	}
}

func (s *Server) files() (ContainerFiles, error) {
	if s.cfg.ContainerFiles == nil {
		return nil, unavailable("container files")
	}
	return s.cfg.ContainerFiles, nil
}

// pathStatHeader carries a path's stat: base64 of its JSON.
const pathStatHeader = "X-Docker-Container-Path-Stat"

func setPathStat(w http.ResponseWriter, st container.PathStat) error {
	js, err := json.Marshal(st)
	if err != nil {
		return err
	}
	w.Header().Set(pathStatHeader, base64.StdEncoding.EncodeToString(js))
	return nil
}

func archivePath(r *http.Request) (string, error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		return "", errdefs.InvalidArgument(errors.New("no path specified"))
	}
	return p, nil
}

// archiveStat is HEAD /containers/{name}/archive?path=: the stat header.
func (s *Server) archiveStat(w http.ResponseWriter, r *http.Request) error {
	b, err := s.files()
	if err != nil {
		return err
	}
	p, err := archivePath(r)
	if err != nil {
		return err
	}
	st, err := b.ContainerStatPath(r.Context(), r.PathValue("name"), p)
	if err != nil {
		return err
	}
	if err := setPathStat(w, st); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// archiveGet is GET /containers/{name}/archive?path=: a tar of the path
// with its stat header.
func (s *Server) archiveGet(w http.ResponseWriter, r *http.Request) error {
	b, err := s.files()
	if err != nil {
		return err
	}
	p, err := archivePath(r)
	if err != nil {
		return err
	}
	rc, st, err := b.ContainerArchivePath(r.Context(), r.PathValue("name"), p)
	if err != nil {
		return err
	}
	if err := setPathStat(w, st); err != nil {
		rc.Close()
		return err
	}
	copyBinary(w, rc, "application/x-tar")
	return nil
}

// archivePut is PUT /containers/{name}/archive?path=&noOverwriteDirNonDir=
// &copyUIDGID=: the tar body is extracted into the directory path.
func (s *Server) archivePut(w http.ResponseWriter, r *http.Request) error {
	b, err := s.files()
	if err != nil {
		return err
	}
	p, err := archivePath(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	opts := api.ArchiveExtractOptions{NoOverwriteDirNonDir: boolValue(q, "noOverwriteDirNonDir"), CopyUIDGID: boolValue(q, "copyUIDGID")}
	if err := b.ContainerExtractToDir(r.Context(), r.PathValue("name"), p, opts, r.Body); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) containerExport(w http.ResponseWriter, r *http.Request) error {
	b, err := s.files()
	if err != nil {
		return err
	}
	rc, err := b.ContainerExport(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	copyBinary(w, rc, "application/x-tar")
	return nil
}
