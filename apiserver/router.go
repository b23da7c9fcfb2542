package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

// handlerFunc answers one route. It returns an error only before it has
// written anything; the server turns it into the error answer.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// route is a method and a path pattern of slash-separated segments:
// literals, {name} for one segment, and at most one {name...}, which takes
// one or more segments (an image name holds "/" and ":"), wherever it is.
// Matched variables are set with Request.SetPathValue. A route with method
// "" matches any method.
type route struct {
	method  string
	pattern string
	handler handlerFunc

	prefix []string // segments before the greedy variable (all, without one)
	greedy string   // the greedy variable's name, or ""
	suffix []string // segments after it
}

func newRoute(method, pattern string, h handlerFunc) route {
	rt := route{method: method, pattern: pattern, handler: h}
	segs := strings.Split(strings.Trim(pattern, "/"), "/")
	for i, seg := range segs {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "...}") {
			rt.greedy = strings.TrimSuffix(seg[1:], "...}")
			rt.prefix, rt.suffix = segs[:i], segs[i+1:]
			return rt
		}
	}
	rt.prefix = segs
	return rt
}

// matchPath reports whether the segments of path fit the pattern and
// answers the variables.
func (rt route) matchPath(segs []string) (map[string]string, bool) {
	n := len(rt.prefix) + len(rt.suffix)
	if rt.greedy == "" && len(segs) != n || rt.greedy != "" && len(segs) <= n {
		return nil, false
	}
	vars := map[string]string{}
	fit := func(pat, seg string) bool {
		if strings.HasPrefix(pat, "{") && strings.HasSuffix(pat, "}") {
			if seg == "" {
				return false
			}
			vars[pat[1:len(pat)-1]] = seg
			return true
		}
		return pat == seg
	}
	for i, pat := range rt.prefix {
		if !fit(pat, segs[i]) {
			return nil, false
		}
	}
	tail := segs[len(segs)-len(rt.suffix):]
	for i, pat := range rt.suffix {
		if !fit(pat, tail[i]) {
			return nil, false
		}
	}
	if rt.greedy != "" {
		middle := strings.Join(segs[len(rt.prefix):len(segs)-len(rt.suffix)], "/")
		if middle == "" {
			return nil, false
		}
		vars[rt.greedy] = middle
	}
	return vars, true
}

// errPageNotFound is moby's answer to a path no route has, whatever the
// method.
var errPageNotFound = errdefs.NotFound(errors.New("page not found"))

// match finds the first route for the request's method and path (without
// its version prefix) and sets the path variables.
func (s *Server) match(r *http.Request, path string) (handlerFunc, error) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, rt := range s.routes {
		if rt.method != "" && rt.method != r.Method {
			continue
		}
		vars, ok := rt.matchPath(segs)
		if !ok {
			continue
		}
		for k, v := range vars {
			r.SetPathValue(k, v)
		}
		return rt.handler, nil
	}
	return nil, errPageNotFound
}

var versionPrefix = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^/v([0-9]+(?:\.[0-9]+)*)(/.*)$`) })

// splitVersion takes the /v1.NN prefix off path and checks the version is
// one the server speaks. An unversioned path is at the current version.
func splitVersion(path string) (string, string, error) {
	m := versionPrefix().FindStringSubmatch(path)
	if m == nil {
		return path, api.APIVersion, nil
	}
	v := m[1]
	if compareVersions(v, api.MinAPIVersion) < 0 {
		return "", "", errdefs.InvalidArgument(fmt.Errorf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", v, api.MinAPIVersion))
	}
	if compareVersions(v, api.APIVersion) > 0 {
		return "", "", errdefs.InvalidArgument(fmt.Errorf("client version %s is too new. Maximum supported API version is %s", v, api.APIVersion))
	}
	return m[2], v, nil
}

// compareVersions compares dotted versions number by number: -1, 0 or 1.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
	}
	return 0
}

type versionKey struct{}

func withVersion(ctx context.Context, v string) context.Context {
	return context.WithValue(ctx, versionKey{}, v)
}

// versionOf is the API version of the request: its path's, or the current
// one for an unversioned path.
func versionOf(r *http.Request) string {
	if v, ok := r.Context().Value(versionKey{}).(string); ok {
		return v
	}
	return api.APIVersion
}

// versionAtLeast reports whether the request speaks API v or newer.
func versionAtLeast(r *http.Request, v string) bool {
	return compareVersions(versionOf(r), v) >= 0
}
