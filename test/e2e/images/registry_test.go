package images_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var digestLine = regexp.MustCompile(`(?m)^1: digest: (sha256:[0-9a-f]{64}) size: \d+$`)

// TestRegistryPushPull pushes an imported image to Debian's docker-registry
// and pulls it into a fresh store: same image ID, layers and digest.
func TestRegistryPushPull(t *testing.T) {
	const addr = "127.0.0.1:5000"
	startRegistry(t, addr, false)
	e := newEngine(t)
	id := e.importBusybox(addr + "/e2e/busybox:1")
	out := e.ok("push", addr+"/e2e/busybox:1")
	m := digestLine.FindStringSubmatch(out)
	if !strings.HasPrefix(out, "The push refers to repository ["+addr+"/e2e/busybox]\n") || m == nil ||
		!strings.Contains(out, ": Pushed\n") {
		t.Fatalf("push:\n%s", out)
	}
	pushed := m[1]
	if out := e.ok("push", addr+"/e2e/busybox:1"); !strings.Contains(out, ": Layer already exists\n") {
		t.Errorf("second push:\n%s", out)
	}
	wantLayers := e.ok("image", "inspect", "-f", "{{json .RootFS.Layers}}", addr+"/e2e/busybox:1")

	f := e.withRoot()
	out = f.ok("pull", addr+"/e2e/busybox:1")
	if !strings.HasPrefix(out, "1: Pulling from e2e/busybox\n") || !strings.Contains(out, ": Pull complete\n") ||
		!strings.HasSuffix(out, "Digest: "+pushed+"\nStatus: Downloaded newer image for "+addr+"/e2e/busybox:1\n"+addr+"/e2e/busybox:1\n") {
		t.Errorf("pull:\n%s", out)
	}
	got := f.ok("image", "inspect", "-f", "{{.Id}} {{json .RepoDigests}} {{json .RootFS.Layers}}", addr+"/e2e/busybox:1")
	want := id + ` ["` + addr + `/e2e/busybox@` + pushed + `"] ` + wantLayers
	if got != want {
		t.Errorf("pulled image:\n got %s\nwant %s", got, want)
	}
	if out := f.ok("pull", "-q", addr+"/e2e/busybox:1"); out != addr+"/e2e/busybox:1\n" {
		t.Errorf("pull -q: %q", out)
	}
	if out := f.ok("pull", addr+"/e2e/busybox@"+pushed); !strings.Contains(out, "Status: Image is up to date for ") {
		t.Errorf("pull by digest:\n%s", out)
	}
	if out := f.ok("images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}"); !strings.Contains(out, addr+"/e2e/busybox 1 "+pushed+"\n") {
		t.Errorf("images --digests:\n%s", out)
	}
	r := f.fails(1, "Error response from daemon: manifest for "+addr+"/e2e/busybox:nope not found: ", "pull", addr+"/e2e/busybox:nope")
	if strings.Contains(r.stdout, "Pulling from") {
		t.Errorf("a pull of an unknown tag started: %v", r)
	}
}

// TestRegistryLogin drives login, push, pull and logout against a registry
// with htpasswd authentication.
func TestRegistryLogin(t *testing.T) {
	const addr = "127.0.0.1:5001"
	startRegistry(t, addr, true)
	e := newEngine(t)
	ref := addr + "/private/busybox:1"
	e.importBusybox(ref)

	r := e.run("", "push", ref)
	if r.code != 1 || !strings.Contains(r.stderr, "401 Unauthorized") {
		t.Errorf("push without login: %v", r)
	}
	r = e.run("wrong\n", "login", "-u", registryUser, "--password-stdin", addr)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "Error response from daemon: ") || r.stdout != "" {
		t.Errorf("login with a wrong password: %v", r)
	}
	authFile := filepath.Join(e.home, ".config", "corral", "auth.json")
	if _, err := os.Stat(authFile); !os.IsNotExist(err) {
		t.Errorf("a failed login wrote %s: %v", authFile, err)
	}
	r = e.run(registryPassword+"\n", "login", "-u", registryUser, "--password-stdin", "http://"+addr+"/")
	if r.code != 0 || r.stdout != "Login Succeeded\n" || !strings.Contains(r.stderr, authFile) {
		t.Fatalf("login: %v", r)
	}
	checkAuthFile(t, authFile, addr, true)
	// Stored credentials are reused by login, push and pull.
	if r := e.run("", "login", addr); r.code != 0 || r.stdout != "Login Succeeded\n" {
		t.Errorf("login with stored credentials: %v", r)
	}
	if out := e.ok("push", ref); !digestLine.MatchString(out) {
		t.Errorf("push after login:\n%s", out)
	}
	f := e.withRoot()
	if out := f.ok("pull", ref); !strings.HasSuffix(out, ref+"\n") {
		t.Errorf("pull after login:\n%s", out)
	}

	if out := e.ok("logout", addr); out != "Removing login credentials for "+addr+"\n" {
		t.Errorf("logout: %q", out)
	}
	checkAuthFile(t, authFile, addr, false)
	g := e.withRoot()
	if r := g.run("", "pull", ref); r.code != 1 || !strings.Contains(r.stderr, "401 Unauthorized") {
		t.Errorf("pull after logout: %v", r)
	}
}

// checkAuthFile checks the credentials file: mode 0600, and an entry for
// host or none.
func checkAuthFile(t *testing.T, path, host string, want bool) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Auths map[string]struct{ Auth string } `json:"auths"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if _, ok := doc.Auths[host]; ok != want {
		t.Errorf("%s: entry for %s present=%v, want %v:\n%s", path, host, ok, want, data)
	}
}
