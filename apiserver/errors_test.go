package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/corral-dev/corral/errdefs"
)

func TestStatusOf(t *testing.T) {
	t.Parallel()
	cause := errors.New("cause")
	tests := []struct {
		err  error
		want int
	}{
		{errdefs.NotFound(cause), 404},
		{errdefs.InvalidArgument(cause), 400},
		{errdefs.Conflict(cause), 409},
		{errdefs.AlreadyExists(cause), 409},
		{errdefs.Unauthorized(cause), 401},
		{errdefs.Wrap(errdefs.ErrForbidden, cause), 403},
		{errdefs.Wrap(errdefs.ErrNotModified, cause), 304},
		{errdefs.Unavailable(cause), 503},
		{errdefs.Wrap(errdefs.ErrNotImplemented, cause), 501},
		{errdefs.Wrap(errdefs.ErrCanceled, cause), 500},
		{context.Canceled, 500},
		{cause, 500},
		// A class survives wrapping by the layers above.
		{fmt.Errorf("start web: %w", errdefs.NotFound(cause)), 404},
		{fmt.Errorf("a: %w", fmt.Errorf("b: %w", errdefs.ErrConflict)), 409},
		{&http.MaxBytesError{Limit: 1}, 413},
	}
	for _, tt := range tests {
		if got := statusOf(tt.err); got != tt.want {
			t.Errorf("statusOf(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

// TestErrorAnswers: what a client gets for each class, through a route.
func TestErrorAnswers(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err    error
		status int
	}{
		{errdefs.NotFound(errors.New("No such container: web")), 404},
		{errdefs.Conflict(errors.New("container is not running")), 409},
		{errdefs.Wrap(errdefs.ErrNotModified, errors.New("already started")), 304},
		{errors.New("boom"), 500},
	} {
		f := newFake()
		f.err = tt.err
		w := do(t, New(f.config()), "POST", "/v1.47/containers/web/start", "")
		if w.Code != tt.status {
			t.Errorf("%v: status %d, want %d", tt.err, w.Code, tt.status)
		}
		if tt.status == 304 {
			if w.Body.Len() != 0 {
				t.Errorf("304 with a body: %q", w.Body)
			}
			continue
		}
		var e errorBody
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Message != tt.err.Error() {
			t.Errorf("%v: body %q, want {\"message\":%q}", tt.err, w.Body, tt.err.Error())
		}
		if ct := w.Result().Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%v: Content-Type %q", tt.err, ct)
		}
	}
}

func TestBadBodies(t *testing.T) {
	t.Parallel()
	s := New(newFake().config())
	big := `{"Image":"busybox","Env":["` + strings.Repeat("x", maxJSONBody) + `"]}`
	tests := []struct {
		name, path, body, ctype string
		status                  int
		msg                     string
	}{
		{"malformed", "/containers/create", `{"Image":`, "application/json", 400, "invalid JSON: unexpected EOF"},
		{"syntax", "/containers/create", `{"Image" "x"}`, "application/json", 400, "invalid JSON: invalid character '\"' after object key"},
		{"type", "/containers/create", `{"Image":1}`, "application/json", 400, "invalid JSON: json: cannot unmarshal number into Go struct field"},
		{"trailing", "/containers/create", `{"Image":"x"} {}`, "application/json", 400, "unexpected content after JSON"},
		{"empty", "/containers/create", ``, "application/json", 400, "config cannot be empty in order to create a container"},
		{"empty object", "/containers/create", `{}`, "application/json", 400, "config cannot be empty in order to create a container"},
		{"content type", "/containers/create", `{"Image":"x"}`, "text/plain", 400, "unsupported Content-Type header (text/plain): must be 'application/json'"},
		{"charset ok", "/containers/create", `{"Image":"x"}`, "application/json; charset=utf-8", 201, ""},
		{"too large", "/containers/create", big, "application/json", 413, "request body larger than 10485760 bytes"},
		{"start with body", "/containers/x/start", `{"Binds":["/:/host"]}`, "application/json", 400, "starting container with non-empty request body"},
		{"start empty object", "/containers/x/start", `{}`, "application/json", 204, ""},
		{"exec malformed", "/containers/x/exec", `[`, "application/json", 400, "invalid JSON"},
		{"network malformed", "/networks/create", `{"Name":`, "application/json", 400, "invalid JSON"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/v1.47"+tt.path, strings.NewReader(tt.body))
		r.Header.Set("Content-Type", tt.ctype)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != tt.status {
			t.Errorf("%s: status %d, want %d (%s)", tt.name, w.Code, tt.status, w.Body)
			continue
		}
		var e errorBody
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		if !strings.HasPrefix(e.Message, tt.msg) {
			t.Errorf("%s: message %q, want prefix %q", tt.name, e.Message, tt.msg)
		}
	}
}
