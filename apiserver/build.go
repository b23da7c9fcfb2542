package apiserver

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/moby/moby/api/types/build"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

// buildPrune is POST /build/prune (docker system prune, docker builder
// prune): all, filters.
func (s *Server) buildPrune(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Builder == nil {
		writeJSON(w, http.StatusOK, build.CachePruneReport{CachesDeleted: []string{}})
		return nil
	}
	f, err := filtersOf(r.URL.Query())
	if err != nil {
		return err
	}
	rep, err := s.cfg.Builder.BuildPrune(r.Context(), api.BuildPruneOptions{All: boolValue(r.URL.Query(), "all"), Filters: f})
	if err != nil {
		return err
	}
	if rep.CachesDeleted == nil {
		rep.CachesDeleted = []string{}
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// build is POST /build: the classic builder (version=1) on the context tar
// of the body, answering a JSON message stream.
func (s *Server) build(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Builder == nil {
		return unavailable("build")
	}
	opts, err := buildOptions(r)
	if err != nil {
		return err
	}
	rc, err := s.cfg.Builder.Build(r.Context(), r.Body, opts)
	if err != nil {
		return err
	}
	copyJSONStream(w, rc)
	return nil
}

func buildOptions(r *http.Request) (api.BuildOptions, error) {
	q := r.URL.Query()
	if v := q.Get("version"); v != "" && v != "1" {
		return api.BuildOptions{}, errdefs.Wrap(errdefs.ErrNotImplemented,
			fmt.Errorf("builder version %q is not supported: only the classic builder (1) is; set DOCKER_BUILDKIT=0", v))
	}
	opts := api.BuildOptions{
		Tags: q["t"], Dockerfile: q.Get("dockerfile"), NoCache: boolValue(q, "nocache"),
		Pull: boolValue(q, "pull"), Quiet: boolValue(q, "q"), Remove: boolOr(q, "rm", true),
		ForceRemove: boolValue(q, "forcerm"), NetworkMode: q.Get("networkmode"), Target: q.Get("target"),
		Platform: q.Get("platform"), RegistryConfig: r.Header.Get("X-Registry-Config"),
	}
	if opts.ForceRemove {
		opts.Remove = true
	}
	if err := buildSecrets(r, &opts); err != nil {
		return api.BuildOptions{}, err
	}
	for _, p := range []struct {
		key string
		v   any
	}{{"buildargs", &opts.BuildArgs}, {"labels", &opts.Labels}, {"cachefrom", &opts.CacheFrom}} {
		if err := jsonParam(q, p.key, p.v); err != nil {
			return api.BuildOptions{}, err
		}
	}
	return opts, nil
}

// buildSecrets reads the secrets of RUN --mount=type=secret from
// api.BuildSecretsHeader.
func buildSecrets(r *http.Request, opts *api.BuildOptions) error {
	v := r.Header.Get(api.BuildSecretsHeader)
	if v == "" {
		return nil
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err == nil {
		err = json.Unmarshal(raw, &opts.Secrets)
	}
	if err != nil {
		return errdefs.InvalidArgument(fmt.Errorf("invalid %s header: %w", api.BuildSecretsHeader, err))
	}
	return nil
}

// jsonParam decodes a query parameter holding JSON; absent, empty or
// "null" leaves v as is.
func jsonParam(q url.Values, key string, v any) error {
	s := q.Get(key)
	if s == "" || s == "null" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return errdefs.InvalidArgument(fmt.Errorf("invalid %s %q: %w", key, s, err))
	}
	return nil
}
