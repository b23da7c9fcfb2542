package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

// fakeSecrets answers with secrets that still hold their value, so the
// tests see the server drop it.
type fakeSecrets struct{ calls []string }

var leaky = swarm.Secret{ID: "abc", Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "s"}, Data: []byte("VALUE")}}

func (f *fakeSecrets) SecretList(_ context.Context, fl api.Filters) ([]swarm.Secret, error) {
	f.calls = append(f.calls, fmt.Sprintf("list %v", fl.Get("name")))
	return []swarm.Secret{leaky}, nil
}

func (f *fakeSecrets) SecretInspect(_ context.Context, ref string) (swarm.Secret, error) {
	f.calls = append(f.calls, "inspect "+ref)
	if ref == "missing" {
		return swarm.Secret{}, errdefs.NotFound(errors.New("secret missing not found"))
	}
	return leaky, nil
}

func (f *fakeSecrets) SecretCreate(_ context.Context, sp swarm.SecretSpec) (swarm.SecretCreateResponse, error) {
	f.calls = append(f.calls, fmt.Sprintf("create %s %v %s", sp.Name, sp.Labels, sp.Data))
	return swarm.SecretCreateResponse{ID: "abc"}, nil
}

func (f *fakeSecrets) SecretRemove(_ context.Context, ref string) error {
	f.calls = append(f.calls, "rm "+ref)
	return errdefs.Conflict(errors.New("secret 's' is in use by the following container: c"))
}

func TestSecretRoutes(t *testing.T) {
	f := &fakeSecrets{}
	s := New(Config{Secrets: f})
	for _, tc := range []struct {
		method, target, body string
		status               int
		want                 string // in the body
	}{
		{"POST", "/v1.47/secrets/create", `{"Name":"s","Labels":{"a":"b"},"Data":"aHVudGVyMg=="}`, 201, `{"ID":"abc"}`},
		{"POST", "/secrets/create", `{"Labels":{}}`, 400, "secret name is required"},
		{"POST", "/secrets/create", `{"Name":"s","Data":"%%%"}`, 400, "invalid JSON"},
		{"GET", "/v1.47/secrets?filters=" + q(`{"name":{"s":true}}`), "", 200, `"Name":"s"`},
		{"GET", "/secrets/abc", "", 200, `"ID":"abc"`},
		{"GET", "/secrets/missing", "", 404, "secret missing not found"},
		{"DELETE", "/secrets/abc", "", 409, "in use"},
		{"GET", "/configs", "", 503, ""},
	} {
		w := do(t, s, tc.method, tc.target, tc.body)
		body := w.Body.String()
		if w.Code != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s: %d %s, want %d with %q", tc.method, tc.target, w.Code, body, tc.status, tc.want)
		}
		if strings.Contains(body, "VALUE") || strings.Contains(body, "VkFMVUU") {
			t.Errorf("%s %s: the answer holds the value: %s", tc.method, tc.target, body)
		}
	}
	want := []string{"create s map[a:b] hunter2", "list [s]", "inspect abc", "inspect missing", "rm abc"}
	if fmt.Sprint(f.calls) != fmt.Sprint(want) {
		t.Errorf("calls %q, want %q", f.calls, want)
	}
	// Without a secret backend, /secrets is swarm's again.
	if w := do(t, New(Config{}), "GET", "/secrets", ""); w.Code != http.StatusServiceUnavailable {
		t.Errorf("no backend: %d %s", w.Code, w.Body)
	}
}
