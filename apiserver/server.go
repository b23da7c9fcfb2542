// Package apiserver serves the Docker Engine API over HTTP: routing (every
// route at /v{version}/path and unversioned), request parsing and
// validation, response framing (JSON, JSON message streams, the 8-byte
// stream header protocol, raw streams), connection hijacking for attach and
// exec, and the one mapping from errdefs classes to HTTP status codes. The
// engine's work is done by backends, small interfaces owned here (System,
// Images, Containers, Exec, ...), which the daemon implements.
package apiserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/corral-dev/corral/api"
)

// Config configures a Server: who answers each area of the API and what the
// engine says of itself.
type Config struct {
	System         System
	Images         Images
	ImageTransfer  ImageTransfer
	Registry       Registry
	Builder        Builder
	Containers     Containers
	ContainerViews ContainerViews
	ContainerIO    ContainerIO
	Exec           Exec
	ContainerFiles ContainerFiles
	ContainerAdmin ContainerAdmin
	Networks       Networks
	Volumes        Volumes
	Secrets        Secrets

	// Version is the engine's version ("Server: Docker/<Version> (linux)"
	// and GET /version); "" means "dev".
	Version   string
	GitCommit string
	// BuildTime is RFC 3339 or "".
	BuildTime string
	// PlatformName is GET /version's Platform.Name; "" means
	// "corral Engine".
	PlatformName string
	Experimental bool
	// Logger gets the failures of requests; nil means slog.Default().
	Logger *slog.Logger
}

// Server is the Engine API's HTTP handler.
type Server struct {
	cfg    Config
	log    *slog.Logger
	routes []route

	// mu guards hijacked: the connections taken over by attach and exec,
	// closed when Serve ends.
	mu       sync.Mutex
	hijacked map[net.Conn]struct{}
}

// New returns a server answering with cfg's backends.
func New(cfg Config) *Server {
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.PlatformName == "" {
		cfg.PlatformName = "corral Engine"
	}
	s := &Server{cfg: cfg, log: cfg.Logger, hijacked: map[net.Conn]struct{}{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.routes = s.allRoutes()
	return s
}

// ServeHTTP sets the headers every answer carries, checks the API version
// of the path and dispatches to the route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Api-Version", api.APIVersion)
	h.Set("Docker-Experimental", fmt.Sprint(s.cfg.Experimental))
	h.Set("Ostype", runtime.GOOS)
	h.Set("Server", "Docker/"+s.cfg.Version+" ("+runtime.GOOS+")")
	rw := &responseWriter{ResponseWriter: w}
	path, version, err := splitVersion(r.URL.Path)
	if err == nil {
		var handler handlerFunc
		if handler, err = s.match(r, path); err == nil {
			r = r.WithContext(withVersion(r.Context(), version))
			err = handler(rw, r)
		}
	}
	if err != nil {
		s.fail(rw, r, err)
	}
	s.log.Debug("api request", "method", r.Method, "path", r.URL.Path, "status", rw.status)
}

// fail answers err if nothing was written yet, and logs it.
func (s *Server) fail(w *responseWriter, r *http.Request, err error) {
	status := statusOf(err)
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "api request failed", "method", r.Method, "path", r.URL.Path,
		"status", status, "err", err)
	if w.started() {
		return
	}
	writeError(w, err)
}

// Serve answers on l until ctx ends, then stops: in-flight requests see
// their context canceled and get a few seconds to end; hijacked
// connections are closed.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	select {
	case err := <-done:
		s.closeHijacked()
		return fmt.Errorf("serve api: %w", err)
	case <-ctx.Done():
	}
	cancel()
	s.closeHijacked()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		err = errors.Join(err, srv.Close())
	}
	<-done
	if err != nil {
		return fmt.Errorf("shut down api server: %w", err)
	}
	return nil
}

func (s *Server) track(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hijacked[c] = struct{}{}
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.hijacked, c)
}

func (s *Server) closeHijacked() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.hijacked {
		_ = c.Close()
	}
}
