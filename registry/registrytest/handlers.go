package registrytest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
)

const maxManifest = 4 << 20

func (r *Registry) serveManifest(w http.ResponseWriter, req *http.Request, name, ref string) {
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		r.mu.Lock()
		m, d, ok := r.manifestLocked(name, ref)
		corrupt := r.corrupt[d]
		r.mu.Unlock()
		if !ok {
			writeError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
			return
		}
		body := m.body
		if corrupt {
			body = flipByte(body)
		}
		w.Header().Set("Content-Type", m.mediaType)
		w.Header().Set("Docker-Content-Digest", d.String())
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		if req.Method == http.MethodGet {
			_, _ = w.Write(body)
		}
	case http.MethodPut:
		r.putManifest(w, req, name, ref)
	default:
		writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "method not allowed")
	}
}

func (r *Registry) putManifest(w http.ResponseWriter, req *http.Request, name, ref string) {
	body, err := io.ReadAll(io.LimitReader(req.Body, maxManifest+1))
	if err != nil || len(body) > maxManifest {
		writeError(w, http.StatusBadRequest, "MANIFEST_INVALID", "manifest unreadable or too large")
		return
	}
	d := digest.FromBytes(body)
	if want, err := digest.Parse(ref); err == nil && want != d {
		writeError(w, http.StatusBadRequest, "DIGEST_INVALID", fmt.Sprintf("digest %s does not match content %s", want, d))
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rp := r.repoLocked(name)
	if missing := missingRefs(rp, body); missing != "" {
		writeError(w, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry: "+missing)
		return
	}
	rp.manifests[d] = manifest{mediaType: req.Header.Get("Content-Type"), body: body}
	if _, err := digest.Parse(ref); err != nil {
		rp.tags[ref] = d
	}
	w.Header().Set("Location", "/v2/"+name+"/manifests/"+d.String())
	w.Header().Set("Docker-Content-Digest", d.String())
	w.WriteHeader(http.StatusCreated)
}

// missingRefs returns the first blob (config, layer) or child manifest a
// manifest refers to that the repository lacks, or "".
func missingRefs(rp *repo, body []byte) string {
	type desc struct {
		Digest digest.Digest `json:"digest"`
	}
	var m struct {
		Config    *desc  `json:"config"`
		Layers    []desc `json:"layers"`
		Manifests []desc `json:"manifests"`
	}
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	blobs := m.Layers
	if m.Config != nil {
		blobs = append(blobs, *m.Config)
	}
	for _, b := range blobs {
		if !rp.blobs[b.Digest] {
			return b.Digest.String()
		}
	}
	for _, c := range m.Manifests {
		if _, ok := rp.manifests[c.Digest]; !ok {
			return c.Digest.String()
		}
	}
	return ""
}

func flipByte(b []byte) []byte {
	b = slices.Clone(b)
	if len(b) > 0 {
		b[len(b)/2] ^= 0xff
	}
	return b
}

func (r *Registry) serveBlob(w http.ResponseWriter, req *http.Request, name, ref string) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "method not allowed")
		return
	}
	d, err := digest.Parse(ref)
	if err != nil {
		writeError(w, http.StatusBadRequest, "DIGEST_INVALID", "bad digest")
		return
	}
	r.mu.Lock()
	rp := r.repos[name]
	data, ok := r.blobs[d]
	ok = ok && rp != nil && rp.blobs[d]
	corrupt, noRange := r.corrupt[d], r.noRange
	truncate := req.Method == http.MethodGet && r.truncate > 0
	if truncate {
		r.truncate--
	}
	r.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry")
		return
	}
	if corrupt {
		data = flipByte(data)
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Docker-Content-Digest", d.String())
	status, part := http.StatusOK, data
	if !noRange {
		h.Set("Accept-Ranges", "bytes")
		if start, end, ok := parseRange(req.Header.Get("Range"), int64(len(data))); ok {
			status, part = http.StatusPartialContent, data[start:end+1]
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, len(data)))
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(part)))
	w.WriteHeader(status)
	if req.Method == http.MethodHead {
		return
	}
	if truncate {
		_, _ = w.Write(part[:len(part)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drop the connection mid-body
	}
	_, _ = w.Write(part)
}

// parseRange parses "bytes=a-" or "bytes=a-b" within size.
func parseRange(v string, size int64) (int64, int64, bool) {
	spec, ok := strings.CutPrefix(v, "bytes=")
	if !ok {
		return 0, 0, false
	}
	first, last, ok := strings.Cut(spec, "-")
	start, err := strconv.ParseInt(first, 10, 64)
	if !ok || err != nil || start < 0 || start >= size {
		return 0, 0, false
	}
	end := size - 1
	if last != "" {
		e, err := strconv.ParseInt(last, 10, 64)
		if err != nil || e < start {
			return 0, 0, false
		}
		end = min(e, size-1)
	}
	return start, end, true
}

func (r *Registry) serveTags(w http.ResponseWriter, req *http.Request, name, _ string) {
	r.mu.Lock()
	var tags []string
	if rp, ok := r.repos[name]; ok {
		for tag := range rp.tags {
			tags = append(tags, tag)
		}
	}
	r.mu.Unlock()
	if tags == nil {
		writeError(w, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
		return
	}
	sort.Strings(tags)
	writeJSON(w, map[string]any{"name": name, "tags": tags})
}
