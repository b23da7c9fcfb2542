package registrytest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// authConfig is the authentication the registry asks for.
type authConfig struct {
	scheme     string // "", "basic", "bearer"
	user, pass string
	tokenTTL   int // seconds
}

// grant is what a bearer token allows: actions by repository.
type grant struct {
	access  map[string]map[string]bool
	expires time.Time
}

// RequireBasic makes every /v2/ request need basic authentication with
// user and pass.
func (r *Registry) RequireBasic(user, pass string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.auth = authConfig{scheme: "basic", user: user, pass: pass}
}

// RequireBearer makes every /v2/ request need a bearer token from the
// registry's token endpoint, /token (service "registrytest"), which grants
// the scopes asked for. With user "", tokens are given to anyone; otherwise
// the token request needs basic authentication with user and pass.
func (r *Registry) RequireBearer(user, pass string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.auth = authConfig{scheme: "bearer", user: user, pass: pass, tokenTTL: 300}
}

// ExpireTokens makes every token issued so far invalid.
func (r *Registry) ExpireTokens() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.tokens)
}

// Service is the service name of the token endpoint.
const Service = "registrytest"

func (r *Registry) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.requests = append(r.requests, req.Method+" "+req.URL.RequestURI())
	latency := r.latency
	r.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-req.Context().Done():
			return
		}
	}
	switch {
	case req.URL.Path == "/token":
		r.serveToken(w, req)
	case !strings.HasPrefix(req.URL.Path, "/v2/"):
		http.NotFound(w, req)
	case r.injectFault(w, req):
	default:
		r.serveAPI(w, req)
	}
}

// injectFault answers req with the first matching fault, if any.
func (r *Registry) injectFault(w http.ResponseWriter, req *http.Request) bool {
	r.mu.Lock()
	status := 0
	for i := range r.faults {
		f := &r.faults[i]
		if f.n > 0 && (f.method == "" || f.method == req.Method) && strings.Contains(req.URL.Path, f.substr) {
			f.n--
			status = f.status
			break
		}
	}
	r.mu.Unlock()
	if status == 0 {
		return false
	}
	writeError(w, status, "UNKNOWN", "injected failure")
	return true
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]string{{"code": code, "message": message}},
	})
}

// authorized checks req's credentials for action ("pull", "push" or "" for
// any valid credentials) on repository name; when they fail it answers
// 401 with a challenge and returns false.
func (r *Registry) authorized(w http.ResponseWriter, req *http.Request, name, action string) bool {
	r.mu.Lock()
	a := r.auth
	ok := r.allowedLocked(req, name, action)
	r.mu.Unlock()
	if ok {
		return true
	}
	switch a.scheme {
	case "basic":
		w.Header().Set("WWW-Authenticate", `Basic realm="registrytest"`)
	case "bearer":
		scheme := "http"
		if req.TLS != nil {
			scheme = "https"
		}
		ch := fmt.Sprintf(`Bearer realm="%s://%s/token",service="%s"`, scheme, req.Host, Service)
		if name != "" {
			ch += fmt.Sprintf(`,scope="repository:%s:%s"`, name, action)
		}
		if req.Header.Get("Authorization") != "" {
			ch += `,error="insufficient_scope"`
		}
		w.Header().Set("WWW-Authenticate", ch)
	}
	writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
	return false
}

// allowedLocked reports whether req may do action on name. Called with
// r.mu held.
func (r *Registry) allowedLocked(req *http.Request, name, action string) bool {
	switch r.auth.scheme {
	case "basic":
		user, pass, ok := req.BasicAuth()
		return ok && user == r.auth.user && pass == r.auth.pass
	case "bearer":
		tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		g, found := r.tokens[tok]
		if !ok || !found || time.Now().After(g.expires) {
			return false
		}
		return action == "" || g.access[name][action]
	}
	return true
}

// serveToken is the token endpoint: GET /token?service=&scope=...
func (r *Registry) serveToken(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.auth
	if a.user != "" {
		user, pass, ok := req.BasicAuth()
		if !ok || user != a.user || pass != a.pass {
			writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "incorrect username or password")
			return
		}
	}
	if req.URL.Query().Get("service") != Service {
		writeError(w, http.StatusBadRequest, "UNSUPPORTED", "unknown service")
		return
	}
	g := grant{access: map[string]map[string]bool{}, expires: time.Now().Add(time.Duration(a.tokenTTL) * time.Second)}
	for _, scope := range req.URL.Query()["scope"] {
		parts := strings.Split(scope, ":")
		if len(parts) != 3 || parts[0] != "repository" {
			continue
		}
		if g.access[parts[1]] == nil {
			g.access[parts[1]] = map[string]bool{}
		}
		for _, action := range strings.Split(parts[2], ",") {
			g.access[parts[1]][action] = true
		}
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	r.tokens[tok] = g
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "expires_in": a.tokenTTL})
}

// serveAPI routes /v2/ requests.
func (r *Registry) serveAPI(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	path := strings.TrimPrefix(req.URL.Path, "/v2/")
	switch {
	case path == "":
		if r.authorized(w, req, "", "") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("{}"))
		}
	case path == "_catalog":
		if r.authorized(w, req, "", "") {
			writeJSON(w, map[string]any{"repositories": r.Repositories()})
		}
	default:
		r.serveRepo(w, req, path)
	}
}

// serveRepo routes <name>/manifests/<ref>, <name>/blobs/uploads/[id],
// <name>/blobs/<digest> and <name>/tags/list.
func (r *Registry) serveRepo(w http.ResponseWriter, req *http.Request, path string) {
	action := "pull"
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		action = "push"
	}
	route := func(sep string) (string, string, bool) {
		i := strings.LastIndex(path, sep)
		if i <= 0 {
			return "", "", false
		}
		return path[:i], path[i+len(sep):], true
	}
	var handle func(w http.ResponseWriter, req *http.Request, name, rest string)
	name, rest, ok := route("/manifests/")
	handle = r.serveManifest
	if !ok {
		if name, rest, ok = route("/blobs/uploads"); ok {
			handle = r.serveUpload
		} else if name, rest, ok = route("/blobs/"); ok {
			handle = r.serveBlob
		} else if name, rest, ok = route("/tags/list"); ok && rest == "" {
			handle = r.serveTags
		}
	}
	if !ok {
		writeError(w, http.StatusNotFound, "NAME_UNKNOWN", "no such route")
		return
	}
	if r.authorized(w, req, name, action) {
		handle(w, req, name, strings.TrimPrefix(rest, "/"))
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
