package images_test

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

func TestImageLifecycle(t *testing.T) {
	e := newEngine(t)
	id := e.importBusybox("busybox")
	short := id[7:19]

	out := e.ok("images")
	if !regexp.MustCompile(`^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE\nbusybox +latest +` + short + ` +(Less than a second|\d+ seconds?) ago +\d`).MatchString(out) {
		t.Errorf("images:\n%s", out)
	}
	if out := e.ok("images", "-q"); out != short+"\n" {
		t.Errorf("images -q = %q", out)
	}
	out = e.ok("image", "inspect", "-f", "{{.Id}} {{json .Config.Cmd}} {{.Os}}/{{.Architecture}} {{len .RootFS.Layers}} {{.RepoTags}}", "busybox")
	if out != id+` ["sh"] linux/amd64 1 [busybox:latest]`+"\n" {
		t.Errorf("inspect: %q", out)
	}
	var docs []map[string]any
	if err := json.Unmarshal([]byte(e.ok("image", "inspect", "busybox")), &docs); err != nil || len(docs) != 1 || docs[0]["Id"] != id {
		t.Errorf("inspect JSON: %v %v", err, docs)
	}
	out = e.ok("image", "history", "--format", "{{.ID}}|{{.Comment}}|{{.Size}}", "busybox")
	if !strings.HasPrefix(out, short+"|busybox-static|") || strings.Count(out, "\n") != 1 {
		t.Errorf("history: %q", out)
	}

	e.ok("tag", "busybox", "localhost:5000/e2e/bb:1")
	out = e.ok("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
	if lines := sortedLines(out); strings.Join(lines, ",") != "busybox:latest "+short+",localhost:5000/e2e/bb:1 "+short {
		t.Errorf("images after tag: %q", out)
	}
	if out := e.ok("rmi", "localhost:5000/e2e/bb:1"); out != "Untagged: localhost:5000/e2e/bb:1\n" {
		t.Errorf("rmi of a second tag: %q", out)
	}

	e.fails(1, "Error response from daemon: No such image: nope:latest", "rmi", "nope")
	e.fails(1, "Error response from daemon: No such image: nope:latest", "image", "inspect", "nope")
	if r := e.run("", "rmi", "-f", "nope"); r.code != 0 {
		t.Errorf("rmi -f of a missing image: %v", r)
	}
	if r := e.run("", "images", "--filter", "bogus=1"); r.code != 1 || r.stderr != "Error response from daemon: invalid filter 'bogus'\n" {
		t.Errorf("bad filter: %v", r)
	}
}

func sortedLines(s string) []string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	sort.Strings(lines)
	return lines
}

func TestSaveLoad(t *testing.T) {
	e := newEngine(t)
	id := e.importBusybox("busybox:1.0")
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	if out := e.ok("save", "-o", archive, "busybox:1.0"); out != "" {
		t.Errorf("save printed %q", out)
	}
	st, err := os.Stat(archive)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("saved archive: %v %v", st, err)
	}
	names := tarNames(t, archive)
	for _, want := range []string{"manifest.json", "index.json", "oci-layout", "repositories"} {
		if !names[want] {
			t.Errorf("archive lacks %s: %v", want, names)
		}
	}
	out := e.ok("rmi", "busybox:1.0")
	if !strings.HasPrefix(out, "Untagged: busybox:1.0\nDeleted: "+id+"\n") {
		t.Errorf("rmi: %q", out)
	}
	if out := e.ok("images", "-q"); out != "" {
		t.Errorf("images after rmi: %q", out)
	}
	if out := e.ok("load", "-i", archive); out != "Loaded image: busybox:1.0\n" {
		t.Errorf("load: %q", out)
	}
	if out := e.ok("image", "inspect", "-f", "{{.Id}}", "busybox:1.0"); out != id+"\n" {
		t.Errorf("loaded image ID %q, want %s", out, id)
	}
	// Into another store through stdin, and out again through stdout.
	f := e.withRoot()
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	if r := f.run(string(data), "load"); r.code != 0 || r.stdout != "Loaded image: busybox:1.0\n" {
		t.Fatalf("load from stdin: %v", r)
	}
	if r := f.run("", "save", "busybox:1.0"); r.code != 0 || len(r.stdout) < 1024 {
		t.Errorf("save to stdout: exit %d, %d bytes", r.code, len(r.stdout))
	}
	f.fails(1, "Error response from daemon: No such image: nope:latest", "save", "-o", filepath.Join(t.TempDir(), "x.tar"), "nope")
	f.fails(1, "", "load", "-i", busyboxTar(t)) // a root filesystem is not an image archive
}

func tarNames(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names[h.Name] = true
	}
}

func TestPruneAndDiskUsage(t *testing.T) {
	e := newEngine(t)
	e.importBusybox("busybox")
	dangling := e.importBusybox("")
	out := e.ok("images", "--filter", "dangling=true", "-q")
	if out != dangling[7:19]+"\n" {
		t.Errorf("dangling images: %q", out)
	}
	out = e.ok("system", "df")
	if !regexp.MustCompile(`(?m)^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE\nImages +2 +0 +[0-9.]+[kM]B +[0-9.]+[kM]B \(100%\)$`).MatchString(out) {
		t.Errorf("system df:\n%s", out)
	}
	if out := e.ok("system", "df", "-v"); !strings.Contains(out, "Images space usage:") || !strings.Contains(out, "busybox ") {
		t.Errorf("system df -v:\n%s", out)
	}
	out = e.ok("image", "prune", "-f")
	if !strings.HasPrefix(out, "Deleted Images:\ndeleted: "+dangling+"\n") || !strings.Contains(out, "\nTotal reclaimed space: ") {
		t.Errorf("prune: %q", out)
	}
	if out := e.ok("images", "-q"); strings.Count(out, "\n") != 1 {
		t.Errorf("images after prune: %q", out)
	}
	// Prune asks first; no answer is no.
	if r := e.run("", "image", "prune", "-a"); r.code != 0 || !strings.Contains(r.stdout, "[y/N]") {
		t.Errorf("prune without -f: %v", r)
	}
	if out := e.ok("images", "-q"); strings.Count(out, "\n") != 1 {
		t.Errorf("images after a refused prune: %q", out)
	}
	e.ok("image", "prune", "-a", "-f")
	if out := e.ok("images", "-q"); out != "" {
		t.Errorf("images after prune -a: %q", out)
	}
}
