package registrytest

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
)

// serveUpload handles POST <name>/blobs/uploads/ (new session, mount, or
// monolithic upload with ?digest=) and GET, PATCH, PUT, DELETE of
// <name>/blobs/uploads/<id>.
func (r *Registry) serveUpload(w http.ResponseWriter, req *http.Request, name, id string) {
	if id == "" {
		if req.Method != http.MethodPost {
			writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "method not allowed")
			return
		}
		r.startUpload(w, req, name)
		return
	}
	r.mu.Lock()
	up, ok := r.uploads[id]
	r.mu.Unlock()
	if !ok || up.repo != name {
		writeError(w, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
		return
	}
	switch req.Method {
	case http.MethodGet:
		r.uploadStatus(w, name, id, http.StatusNoContent)
	case http.MethodPatch:
		r.patchUpload(w, req, name, id)
	case http.MethodPut:
		r.finishUpload(w, req, name, id)
	case http.MethodDelete:
		r.mu.Lock()
		delete(r.uploads, id)
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "method not allowed")
	}
}

func (r *Registry) startUpload(w http.ResponseWriter, req *http.Request, name string) {
	q := req.URL.Query()
	if r.mount(w, req, name, q.Get("mount"), q.Get("from")) {
		return
	}
	r.mu.Lock()
	r.nextID++
	id := strconv.Itoa(r.nextID)
	r.uploads[id] = &upload{repo: name}
	r.mu.Unlock()
	if q.Get("digest") != "" { // monolithic: POST ?digest= with the blob
		r.finishUpload(w, req, name, id)
		return
	}
	r.uploadStatus(w, name, id, http.StatusAccepted)
}

// mount links blob mount of repository from into name when from has it
// and the client may pull from it; it reports whether it answered.
func (r *Registry) mount(w http.ResponseWriter, req *http.Request, name, mount, from string) bool {
	d, err := digest.Parse(mount)
	if err != nil || from == "" {
		return false
	}
	r.mu.Lock()
	src, ok := r.repos[from]
	ok = ok && src.blobs[d] && r.allowedLocked(req, from, "pull")
	if ok {
		r.repoLocked(name).blobs[d] = true
	}
	r.mu.Unlock()
	if ok {
		blobCreated(w, name, d)
	}
	return ok
}

func blobCreated(w http.ResponseWriter, name string, d digest.Digest) {
	w.Header().Set("Location", "/v2/"+name+"/blobs/"+d.String())
	w.Header().Set("Docker-Content-Digest", d.String())
	w.WriteHeader(http.StatusCreated)
}

// uploadStatus answers with the session's location and Range.
func (r *Registry) uploadStatus(w http.ResponseWriter, name, id string, status int) {
	r.mu.Lock()
	n := 0
	if up, ok := r.uploads[id]; ok {
		n = len(up.data)
	}
	r.mu.Unlock()
	w.Header().Set("Location", fmt.Sprintf("/v2/%s/blobs/uploads/%s?_state=%d", name, id, n))
	w.Header().Set("Docker-Upload-UUID", id)
	w.Header().Set("Range", fmt.Sprintf("0-%d", max(n-1, 0)))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}

// patchUpload appends a chunk; a Content-Range must start at the
// session's offset.
func (r *Registry) patchUpload(w http.ResponseWriter, req *http.Request, name, id string) {
	if cr := req.Header.Get("Content-Range"); cr != "" {
		first, _, _ := strings.Cut(cr, "-")
		start, err := strconv.Atoi(first)
		r.mu.Lock()
		n := len(r.uploads[id].data)
		r.mu.Unlock()
		if err != nil || start != n {
			writeError(w, http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID",
				fmt.Sprintf("chunk starts at %s, upload has %d bytes", first, n))
			return
		}
	}
	if !r.appendBody(w, req, id) {
		return
	}
	r.uploadStatus(w, name, id, http.StatusAccepted)
}

// appendBody adds req's body to upload id; a body that breaks is not kept.
func (r *Registry) appendBody(w http.ResponseWriter, req *http.Request, id string) bool {
	data, err := io.ReadAll(req.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "BLOB_UPLOAD_INVALID", "read body: "+err.Error())
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	up, ok := r.uploads[id]
	if !ok {
		writeError(w, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
		return false
	}
	up.data = append(up.data, data...)
	return true
}

// finishUpload appends the last bytes and checks ?digest=.
func (r *Registry) finishUpload(w http.ResponseWriter, req *http.Request, name, id string) {
	want, err := digest.Parse(req.URL.Query().Get("digest"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "DIGEST_INVALID", "missing or bad digest")
		return
	}
	if !r.appendBody(w, req, id) {
		return
	}
	r.mu.Lock()
	up := r.uploads[id]
	delete(r.uploads, id)
	got := digest.FromBytes(up.data)
	if got == want {
		r.blobs[got] = up.data
		r.repoLocked(name).blobs[got] = true
	}
	r.mu.Unlock()
	if got != want {
		writeError(w, http.StatusBadRequest, "DIGEST_INVALID",
			fmt.Sprintf("provided digest %s did not match uploaded content %s", want, got))
		return
	}
	blobCreated(w, name, got)
}
