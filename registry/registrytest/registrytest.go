// Package registrytest is an in-process fake of a distribution API v2
// registry for tests: manifests by tag and digest, blobs with Range,
// chunked and monolithic uploads, cross-repository mounts, tag lists and the
// catalog, kept in memory, with knobs that inject faults (failing
// statuses, truncated or corrupt blobs, latency) and authentication (basic,
// or bearer tokens from its own token endpoint). It listens on 127.0.0.1
// over plain http (New) or https with a self-signed certificate (NewTLS).
package registrytest

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// Registry is a running fake registry.
type Registry struct {
	server *httptest.Server

	// mu guards everything below.
	mu       sync.Mutex
	blobs    map[digest.Digest][]byte
	repos    map[string]*repo
	uploads  map[string]*upload
	nextID   int
	faults   []fault
	truncate int
	corrupt  map[digest.Digest]bool
	latency  time.Duration
	noRange  bool
	auth     authConfig
	tokens   map[string]grant
	requests []string
}

type repo struct {
	blobs     map[digest.Digest]bool
	manifests map[digest.Digest]manifest
	tags      map[string]digest.Digest
}

type manifest struct {
	mediaType string
	body      []byte
}

type upload struct {
	repo string
	data []byte
}

type fault struct {
	n              int
	status         int
	method, substr string
}

// New starts a fake registry over plain http, closed when the test ends.
func New(t testing.TB) *Registry {
	r := newRegistry()
	r.server.Start()
	t.Cleanup(r.Close)
	return r
}

// NewTLS starts a fake registry over https with a self-signed certificate
// (for 127.0.0.1 and example.com), closed when the test ends.
func NewTLS(t testing.TB) *Registry {
	r := newRegistry()
	r.server.StartTLS()
	t.Cleanup(r.Close)
	return r
}

// newRegistry returns a registry with an unstarted server that does not log
// (clients that refuse its certificate are expected).
func newRegistry() *Registry {
	r := &Registry{
		blobs:   map[digest.Digest][]byte{},
		repos:   map[string]*repo{},
		uploads: map[string]*upload{},
		corrupt: map[digest.Digest]bool{},
		tokens:  map[string]grant{},
	}
	r.server = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	r.server.Config.ErrorLog = log.New(io.Discard, "", 0)
	return r
}

// Close stops the server.
func (r *Registry) Close() { r.server.Close() }

// URL is the server's root URL, http(s)://127.0.0.1:<port>.
func (r *Registry) URL() string { return r.server.URL }

// Host is the server's host:port, the domain of references to it.
func (r *Registry) Host() string {
	u, _ := url.Parse(r.server.URL)
	return u.Host
}

// repoLocked returns the repository name, creating it. Called with r.mu held.
func (r *Registry) repoLocked(name string) *repo {
	rp, ok := r.repos[name]
	if !ok {
		rp = &repo{
			blobs:     map[digest.Digest]bool{},
			manifests: map[digest.Digest]manifest{},
			tags:      map[string]digest.Digest{},
		}
		r.repos[name] = rp
	}
	return rp
}

// AddBlob stores data as a blob of repository name.
func (r *Registry) AddBlob(name string, data []byte) digest.Digest {
	d := digest.FromBytes(data)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.blobs[d] = slices.Clone(data)
	r.repoLocked(name).blobs[d] = true
	return d
}

// AddManifest stores a manifest in repository name, tagged tag unless tag
// is "". It does not check that what it references exists.
func (r *Registry) AddManifest(name, tag, mediaType string, body []byte) digest.Digest {
	d := digest.FromBytes(body)
	r.mu.Lock()
	defer r.mu.Unlock()
	rp := r.repoLocked(name)
	rp.manifests[d] = manifest{mediaType: mediaType, body: slices.Clone(body)}
	if tag != "" {
		rp.tags[tag] = d
	}
	return d
}

// Blob returns the content of blob d of repository name.
func (r *Registry) Blob(name string, d digest.Digest) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rp, ok := r.repos[name]
	if !ok || !rp.blobs[d] {
		return nil, false
	}
	return slices.Clone(r.blobs[d]), true
}

// Manifest returns the manifest of repository name with tag or digest ref.
func (r *Registry) Manifest(name, ref string) (mediaType string, body []byte, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, _, ok := r.manifestLocked(name, ref)
	return m.mediaType, slices.Clone(m.body), ok
}

func (r *Registry) manifestLocked(name, ref string) (manifest, digest.Digest, bool) {
	rp, ok := r.repos[name]
	if !ok {
		return manifest{}, "", false
	}
	d, err := digest.Parse(ref)
	if err != nil {
		if d, ok = rp.tags[ref]; !ok {
			return manifest{}, "", false
		}
	}
	m, ok := rp.manifests[d]
	return m, d, ok
}

// FailNext makes the next n requests under /v2/ fail with status (and a
// registry error body) before they are handled.
func (r *Registry) FailNext(n, status int) { r.FailNextMatching(n, status, "", "") }

// FailNextMatching is FailNext for requests with method (any if "") whose
// path contains substr.
func (r *Registry) FailNextMatching(n, status int, method, substr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = append(r.faults, fault{n: n, status: status, method: method, substr: substr})
}

// TruncateBlobs makes the next n blob downloads (GET) send half of what
// they promised and then drop the connection.
func (r *Registry) TruncateBlobs(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.truncate = n
}

// CorruptBlob makes the blob or manifest d served with one byte changed
// (same size, same Docker-Content-Digest header).
func (r *Registry) CorruptBlob(d digest.Digest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.corrupt[d] = true
}

// Latency delays every request by d before it is handled.
func (r *Registry) Latency(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.latency = d
}

// DisableRange makes blob downloads ignore Range headers (200, whole blob).
func (r *Registry) DisableRange(disable bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.noRange = disable
}

// Requests returns the requests served so far, "METHOD /path?query" each.
func (r *Registry) Requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.requests)
}

// CountRequests counts the requests served so far with method (any if "")
// whose path contains substr.
func (r *Registry) CountRequests(method, substr string) int {
	n := 0
	for _, line := range r.Requests() {
		m, path, _ := strings.Cut(line, " ")
		if (method == "" || m == method) && strings.Contains(path, substr) {
			n++
		}
	}
	return n
}

// Repositories lists the repositories, sorted.
func (r *Registry) Repositories() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.repos))
	for name := range r.repos {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
