package apiserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/system"
)

func TestRouteMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, path string
		want          map[string]string // nil: no match
	}{
		{"/images/json", "/images/json", map[string]string{}},
		{"/images/{name...}/json", "/images/json", nil},
		{"/images/{name...}/json", "/images/busybox/json", map[string]string{"name": "busybox"}},
		{"/images/{name...}/json", "/images/localhost:5000/a/b:v1/json", map[string]string{"name": "localhost:5000/a/b:v1"}},
		{"/images/{name...}/json", "/images/a/b/history", nil},
		{"/images/{name...}", "/images/docker.io/library/x:1", map[string]string{"name": "docker.io/library/x:1"}},
		{"/images/{name...}", "/images", nil},
		{"/images/{name...}/push", "/images/json/push", map[string]string{"name": "json"}},
		{"/containers/{name}/json", "/containers/web/json", map[string]string{"name": "web"}},
		{"/containers/{name}/json", "/containers/a/b/json", nil},
		{"/containers/{name}/json", "/containers//json", nil},
		{"/containers/{name}", "/containers/web/", map[string]string{"name": "web"}},
		{"/swarm/{path...}", "/swarm/init", map[string]string{"path": "init"}},
	}
	for _, tt := range tests {
		rt := newRoute("GET", tt.pattern, nil)
		got, ok := rt.matchPath(strings.Split(strings.Trim(tt.path, "/"), "/"))
		if ok != (tt.want != nil) {
			t.Errorf("%s on %s: match %v, want %v", tt.pattern, tt.path, ok, tt.want != nil)
			continue
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("%s on %s: %s=%q, want %q", tt.pattern, tt.path, k, got[k], v)
			}
		}
	}
}

func TestVersions(t *testing.T) {
	t.Parallel()
	s := New(newFake().config())
	tests := []struct {
		path   string
		status int
		msg    string
	}{
		{"/v1.47/info", 200, ""},
		{"/v1.24/info", 200, ""},
		{"/v1.40/info", 200, ""},
		{"/info", 200, ""},
		{"/v1.48/info", 400, "client version 1.48 is too new. Maximum supported API version is 1.47"},
		{"/v1.99/info", 400, "client version 1.99 is too new. Maximum supported API version is 1.47"},
		{"/v2/info", 400, "client version 2 is too new. Maximum supported API version is 1.47"},
		{"/v1.23/info", 400, "client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"},
		{"/vx/info", 404, "page not found"},
		{"/v1.47/nosuch", 404, "page not found"},
		{"/v1.47/containers/json/extra/more", 404, "page not found"},
	}
	for _, tt := range tests {
		w := do(t, s, "GET", tt.path, "")
		if w.Code != tt.status {
			t.Errorf("%s: status %d, want %d", tt.path, w.Code, tt.status)
		}
		if tt.msg != "" {
			var e errorBody
			_ = json.Unmarshal(w.Body.Bytes(), &e)
			if e.Message != tt.msg {
				t.Errorf("%s: message %q, want %q", tt.path, e.Message, tt.msg)
			}
		}
	}
	// A known path with another method is a miss too, as with dockerd.
	if w := do(t, s, "DELETE", "/v1.47/info", ""); w.Code != 404 {
		t.Errorf("DELETE /info: status %d, want 404", w.Code)
	}
}

func TestCommonHeaders(t *testing.T) {
	t.Parallel()
	s := New(newFake().config())
	for _, path := range []string{"/_ping", "/v1.47/version", "/v1.47/containers/json", "/v1.99/info", "/nosuch"} {
		w := do(t, s, "GET", path, "")
		h := w.Result().Header
		for k, want := range map[string]string{"Api-Version": "1.47", "Docker-Experimental": "false", "Ostype": "linux",
			"Server": "Docker/1.2.3 (linux)"} {
			if got := h.Get(k); got != want {
				t.Errorf("%s: header %s=%q, want %q", path, k, got, want)
			}
		}
	}
}

func TestPing(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	for _, method := range []string{"HEAD", "GET"} {
		w := do(t, s, method, "/_ping", "")
		h := w.Result().Header
		want := map[string]string{"Api-Version": "1.47", "Ostype": "linux", "Docker-Experimental": "false",
			"Builder-Version": "1", "Swarm": "inactive", "Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"}
		for k, v := range want {
			if h.Get(k) != v {
				t.Errorf("%s /_ping: %s=%q, want %q", method, k, h.Get(k), v)
			}
		}
		body := map[string]string{"HEAD": "", "GET": "OK"}[method]
		if w.Code != 200 || w.Body.String() != body {
			t.Errorf("%s /_ping: %d %q, want 200 %q", method, w.Code, w.Body, body)
		}
	}
}

func TestVersionResponse(t *testing.T) {
	t.Parallel()
	w := do(t, New(Config{Version: "0.1.0", GitCommit: "abc"}), "GET", "/version", "")
	var v system.VersionResponse
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.Version != "0.1.0" || v.APIVersion != "1.47" || v.MinAPIVersion != "1.24" || v.Os != "linux" ||
		v.KernelVersion == "" || v.GoVersion == "" || v.Platform.Name == "" || len(v.Components) != 1 ||
		v.Components[0].Name != "Engine" || v.Components[0].Details["ApiVersion"] != "1.47" {
		t.Errorf("version: %+v", v)
	}
}

// TestNoBackend: an area without a backend answers 501, not a panic.
func TestNoBackend(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	for _, tt := range []struct{ method, path string }{
		{"GET", "/info"}, {"GET", "/events"}, {"GET", "/system/df"}, {"GET", "/images/json"},
		{"POST", "/images/create?fromImage=x"}, {"POST", "/auth"}, {"POST", "/build"},
		{"POST", "/containers/create"}, {"GET", "/containers/json"}, {"POST", "/containers/x/attach"},
		{"POST", "/containers/x/exec"}, {"GET", "/containers/x/export"}, {"POST", "/containers/x/rename?name=y"},
		{"GET", "/networks"}, {"GET", "/volumes"},
	} {
		if w := do(t, s, tt.method, tt.path, ""); w.Code != http.StatusNotImplemented {
			t.Errorf("%s %s: status %d, want 501", tt.method, tt.path, w.Code)
		}
	}
}

func TestUnsupportedAreas(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/v1.47/swarm", 503}, {"POST", "/v1.47/swarm/init", 503}, {"GET", "/services", 503},
		{"GET", "/v1.47/nodes/x", 503}, {"GET", "/v1.47/plugins", 200}, {"GET", "/v1.47/plugins/nosuch/json", 404},
		{"POST", "/session", 404}, {"POST", "/grpc", 404},
	} {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
		if w.Code != tt.status {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, w.Code, tt.status)
		}
	}
}
