package registry_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/registry"
	"github.com/corral-dev/corral/registry/registrytest"
)

func TestAuthFileRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "conf", "corral", "auth.json")
	f, err := registry.LoadAuthFile(path)
	if err != nil {
		t.Fatalf("load missing file: %v", err)
	}
	if u, s, err := f.Credentials("localhost:5000"); u != "" || s != "" || err != nil {
		t.Fatalf("empty file answers %q %q %v", u, s, err)
	}
	f.Set("localhost:5000", "alice", "pa:ss")
	f.Set("docker.io", "hub", "tok")
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v (%v), want 0600", st.Mode(), err)
	}
	if dir, _ := os.Stat(filepath.Dir(path)); dir.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", dir.Mode())
	}
	var doc struct {
		Auths map[string]map[string]string `json:"auths"`
	}
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	// docker's format: base64("user:secret"), Docker Hub under the v1 URL.
	want := map[string]map[string]string{
		"localhost:5000":              {"auth": "YWxpY2U6cGE6c3M="},
		"https://index.docker.io/v1/": {"auth": "aHViOnRvaw=="},
	}
	if !reflect.DeepEqual(doc.Auths, want) {
		t.Fatalf("file has %v, want %v", doc.Auths, want)
	}

	g, err := registry.LoadAuthFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for host, wantUser := range map[string]string{
		"localhost:5000": "alice", "docker.io": "hub", "registry-1.docker.io": "hub", "index.docker.io": "hub",
		"localhost:5001": "", "quay.io": "",
	} {
		u, s, err := g.Credentials(host)
		if err != nil || u != wantUser {
			t.Errorf("Credentials(%s) = %q, %q, %v; want user %q", host, u, s, err, wantUser)
		}
	}
	if _, s, _ := g.Credentials("localhost:5000"); s != "pa:ss" {
		t.Errorf("secret %q, want pa:ss", s)
	}
}

// Fields the file had beside auths, and entries written by docker as URLs
// or with username/password, are understood and kept.
func TestAuthFileDockerConfig(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "config.json")
	orig := `{"auths": {"https://reg.example.com/v2/": {"auth": "dTpw"},
		"old.example.com": {"username": "ou", "password": "op"},
		"https://index.docker.io/v1/": {"auth": "aDpw", "identitytoken": "idt"}},
	"credsStore": "secretservice", "HttpHeaders": {"X-Meta": "1"}}`
	if err := os.WriteFile(path, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := registry.LoadAuthFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string][2]string{
		"reg.example.com": {"u", "p"}, "old.example.com": {"ou", "op"}, "docker.io": {"h", "p"},
	} {
		if u, s, err := f.Credentials(host); err != nil || u != want[0] || s != want[1] {
			t.Errorf("Credentials(%s) = %q %q %v, want %q", host, u, s, err, want)
		}
	}
	if !f.Remove("reg.example.com") || f.Remove("reg.example.com") {
		t.Error("Remove: first should find the URL-keyed entry, second nothing")
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var headers map[string]string
	_ = json.Unmarshal(doc["HttpHeaders"], &headers)
	if string(doc["credsStore"]) != `"secretservice"` || headers["X-Meta"] != "1" {
		t.Errorf("other fields lost: %s", data)
	}
	g, _ := registry.LoadAuthFile(path)
	if got := g.Hosts(); !reflect.DeepEqual(got, []string{"https://index.docker.io/v1/", "old.example.com"}) {
		t.Errorf("hosts %q", got)
	}
}

func TestAuthFileBadContent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"auths": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := registry.LoadAuthFile(bad); !errdefs.IsInvalidArgument(err) {
		t.Errorf("load of broken JSON: %v, want invalid argument", err)
	}
	entry := filepath.Join(dir, "entry.json")
	if err := os.WriteFile(entry, []byte(`{"auths": {"a.io": {"auth": "!!"}, "b.io": {"auth": "bm9jb2xvbg=="}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := registry.LoadAuthFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"a.io", "b.io"} {
		if _, _, err := f.Credentials(host); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Credentials(%s): %v, want invalid argument", host, err)
		}
	}
}

// Save replaces the file by rename: no temporary file is left, and a
// reader holding the old file keeps seeing it whole.
func TestAuthFileAtomicSave(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "auth.json")
	f, _ := registry.LoadAuthFile(path)
	f.Set("a.io", "u", "1")
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	old, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	before, _ := old.Stat()
	f.Set("b.io", "u", "2")
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	if os.SameFile(before, after) {
		t.Error("the file was rewritten in place, not replaced")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory has %d entries, want only auth.json", len(entries))
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode after save over a 0644 file: %v, want 0600", st.Mode())
	}
}

// The client gets its credentials from an AuthFile.
func TestAuthFileAsCredentials(t *testing.T) {
	t.Parallel()
	reg := registrytest.New(t)
	reg.RequireBearer("u", "p")
	im := newTestImage(t, 10)
	im.addTo(reg, "app", "v1")
	f, _ := registry.LoadAuthFile(filepath.Join(t.TempDir(), "auth.json"))
	f.Set(reg.Host(), "u", "p")
	im.pull(t, newClient(t, registry.Options{Auth: f}), mustRef(t, reg.Host()+"/app:v1"))
}
