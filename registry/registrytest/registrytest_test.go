package registrytest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/corral-dev/corral/registry/registrytest"
)

func do(t *testing.T, method, url, contentRange, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentRange != "" {
		req.Header.Set("Content-Range", contentRange)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// A chunk that does not start at the upload's offset is refused with 416,
// as the distribution spec says.
func TestUploadContentRange(t *testing.T) {
	reg := registrytest.New(t)
	resp := do(t, http.MethodPost, reg.URL()+"/v2/a/blobs/uploads/", "", "")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: %s", resp.Status)
	}
	loc := reg.URL() + resp.Header.Get("Location")
	if resp = do(t, http.MethodPatch, loc, "0-2", "abc"); resp.StatusCode != http.StatusAccepted || resp.Header.Get("Range") != "0-2" {
		t.Fatalf("PATCH: %s %q", resp.Status, resp.Header.Get("Range"))
	}
	if resp = do(t, http.MethodPatch, loc, "5-6", "de"); resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("PATCH at the wrong offset: %s", resp.Status)
	}
	if resp = do(t, http.MethodPut, loc+"&digest=sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "", ""); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s", resp.Status)
	}
	if got, ok := reg.Blob("a", "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"); !ok || string(got) != "abc" {
		t.Fatalf("blob %q %v", got, ok)
	}
}

func TestCatalogAndTags(t *testing.T) {
	reg := registrytest.New(t)
	reg.AddManifest("x/y", "v2", "application/json", []byte(`{}`))
	reg.AddManifest("x/y", "v1", "application/json", []byte(`{"a":1}`))
	var tags struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	body, _ := io.ReadAll(do(t, http.MethodGet, reg.URL()+"/v2/x/y/tags/list", "", "").Body)
	if err := json.Unmarshal(body, &tags); err != nil || tags.Name != "x/y" || strings.Join(tags.Tags, ",") != "v1,v2" {
		t.Fatalf("tags: %s (%v)", body, err)
	}
	body, _ = io.ReadAll(do(t, http.MethodGet, reg.URL()+"/v2/_catalog", "", "").Body)
	if !strings.Contains(string(body), `"x/y"`) {
		t.Fatalf("catalog: %s", body)
	}
}
