package apiserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

func (s *Server) imageRoutes() []route {
	return []route{
		newRoute(http.MethodGet, "/images/json", s.imageList),
		newRoute(http.MethodPost, "/images/create", s.imageCreate),
		newRoute(http.MethodGet, "/images/get", s.imageSave),
		newRoute(http.MethodPost, "/images/load", s.imageLoad),
		newRoute(http.MethodPost, "/images/prune", s.imagesPrune),
		newRoute(http.MethodGet, "/images/{name...}/json", s.imageInspect),
		newRoute(http.MethodGet, "/images/{name...}/history", s.imageHistory),
		newRoute(http.MethodGet, "/images/{name...}/get", s.imageSave),
		newRoute(http.MethodPost, "/images/{name...}/tag", s.imageTag),
		newRoute(http.MethodPost, "/images/{name...}/push", s.imagePush),
		newRoute(http.MethodDelete, "/images/{name...}", s.imageRemove),
		newRoute(http.MethodPost, "/auth", s.auth),
		newRoute(http.MethodPost, "/build", s.build),
		newRoute(http.MethodPost, "/build/prune", s.buildPrune),
	}
}

// images answers the Images backend or ErrNotImplemented.
func (s *Server) images() (Images, error) {
	if s.cfg.Images == nil {
		return nil, unavailable("images")
	}
	return s.cfg.Images, nil
}

func (s *Server) transfer() (ImageTransfer, error) {
	if s.cfg.ImageTransfer == nil {
		return nil, unavailable("image transfer")
	}
	return s.cfg.ImageTransfer, nil
}

func (s *Server) imageList(w http.ResponseWriter, r *http.Request) error {
	b, err := s.images()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	opts := api.ImageListOptions{All: boolValue(q, "all"), SharedSize: boolValue(q, "shared-size")}
	if opts.Filters, err = filtersOf(q); err != nil {
		return err
	}
	list, err := b.ImageList(r.Context(), opts)
	if err != nil {
		return err
	}
	if list == nil {
		list = []image.Summary{}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// withTag joins a name and a tag or digest given apart ("busybox", "1.36";
// "busybox", "sha256:..."); an empty tag leaves name as it is.
func withTag(name, tag string) string {
	switch {
	case tag == "":
		return name
	case strings.Contains(tag, ":"):
		return name + "@" + tag
	}
	return name + ":" + tag
}

// hasTagOrDigest reports whether a reference names a tag or digest (a
// ":" after the last "/", or an "@").
func hasTagOrDigest(ref string) bool {
	last := ref[strings.LastIndex(ref, "/")+1:]
	return strings.Contains(last, ":") || strings.Contains(ref, "@")
}

// imageCreate is POST /images/create: a pull (fromImage=&tag=; the CLI
// sends "docker.io/library/busybox", docker-py "busybox") or an import of
// the body (fromSrc=-&repo=&tag=).
func (s *Server) imageCreate(w http.ResponseWriter, r *http.Request) error {
	b, err := s.transfer()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var rc io.ReadCloser
	switch from, src := q.Get("fromImage"), q.Get("fromSrc"); {
	case from != "":
		opts := api.ImagePullOptions{RegistryAuth: r.Header.Get("X-Registry-Auth"), Platform: q.Get("platform")}
		rc, err = b.ImagePull(r.Context(), withTag(from, q.Get("tag")), opts)
	case src == "-":
		ref := ""
		if repo := q.Get("repo"); repo != "" {
			ref = withTag(repo, q.Get("tag"))
		}
		opts := api.ImageImportOptions{Message: q.Get("message"), Changes: q["changes"], Platform: q.Get("platform")}
		rc, err = b.ImageImport(r.Context(), r.Body, ref, opts)
	case src != "":
		return errdefs.Wrap(errdefs.ErrNotImplemented, fmt.Errorf("importing from %s is not supported: send the tar as the body with fromSrc=-", src))
	default:
		return errdefs.InvalidArgument(errors.New("fromImage or fromSrc is required"))
	}
	if err != nil {
		return err
	}
	copyJSONStream(w, rc)
	return nil
}

func (s *Server) imageInspect(w http.ResponseWriter, r *http.Request) error {
	b, err := s.images()
	if err != nil {
		return err
	}
	img, err := b.ImageInspect(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, img)
	return nil
}

func (s *Server) imageHistory(w http.ResponseWriter, r *http.Request) error {
	b, err := s.images()
	if err != nil {
		return err
	}
	h, err := b.ImageHistory(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	if h == nil {
		h = []image.HistoryResponseItem{}
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

// imageTag is POST /images/{name}/tag?repo=&tag=; 201.
func (s *Server) imageTag(w http.ResponseWriter, r *http.Request) error {
	b, err := s.images()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	repo := q.Get("repo")
	if repo == "" {
		return errdefs.InvalidArgument(errors.New("repo is required"))
	}
	if err := b.ImageTag(r.Context(), r.PathValue("name"), withTag(repo, q.Get("tag"))); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

// imagePush is POST /images/{name}/push?tag=; without a tag, every tag of
// the repository.
func (s *Server) imagePush(w http.ResponseWriter, r *http.Request) error {
	b, err := s.transfer()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	name, tag := r.PathValue("name"), q.Get("tag")
	opts := api.ImagePushOptions{RegistryAuth: r.Header.Get("X-Registry-Auth"), All: tag == "" && !hasTagOrDigest(name)}
	if p := q.Get("platform"); p != "" {
		var plat ocispec.Platform
		if err := json.Unmarshal([]byte(p), &plat); err != nil {
			return errdefs.InvalidArgument(fmt.Errorf("invalid platform %q: %w", p, err))
		}
		opts.Platform = &plat
	}
	rc, err := b.ImagePush(r.Context(), withTag(name, tag), opts)
	if err != nil {
		return err
	}
	copyJSONStream(w, rc)
	return nil
}

// imageRemove is DELETE /images/{name}?force=&noprune=.
func (s *Server) imageRemove(w http.ResponseWriter, r *http.Request) error {
	b, err := s.images()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	opts := api.ImageRemoveOptions{Force: boolValue(q, "force"), PruneChildren: !boolValue(q, "noprune")}
	items, err := b.ImageRemove(r.Context(), r.PathValue("name"), opts)
	if err != nil {
		return err
	}
	if items == nil {
		items = []image.DeleteResponse{}
	}
	writeJSON(w, http.StatusOK, items)
	return nil
}

// imageSave is GET /images/get?names=a&names=b and GET /images/{name}/get.
func (s *Server) imageSave(w http.ResponseWriter, r *http.Request) error {
	b, err := s.transfer()
	if err != nil {
		return err
	}
	names := r.URL.Query()["names"]
	if name := r.PathValue("name"); name != "" {
		names = []string{name}
	}
	rc, err := b.ImageSave(r.Context(), names)
	if err != nil {
		return err
	}
	copyBinary(w, rc, "application/x-tar")
	return nil
}

// imageLoad is POST /images/load?quiet=: a tar body, a JSON stream answer.
func (s *Server) imageLoad(w http.ResponseWriter, r *http.Request) error {
	b, err := s.transfer()
	if err != nil {
		return err
	}
	rc, err := b.ImageLoad(r.Context(), r.Body, api.ImageLoadOptions{Quiet: boolValue(r.URL.Query(), "quiet")})
	if err != nil {
		return err
	}
	copyJSONStream(w, rc)
	return nil
}

func (s *Server) imagesPrune(w http.ResponseWriter, r *http.Request) error {
	b, err := s.images()
	if err != nil {
		return err
	}
	f, err := filtersOf(r.URL.Query())
	if err != nil {
		return err
	}
	rep, err := b.ImagesPrune(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// auth is POST /auth: docker login checks credentials.
func (s *Server) auth(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Registry == nil {
		return unavailable("registry login")
	}
	var cfg registry.AuthConfig
	if err := decodeJSON(w, r, &cfg); err != nil {
		return err
	}
	resp, err := s.cfg.Registry.RegistryLogin(r.Context(), cfg)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
