package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corral-dev/corral/testutil"
)

// TestBuildPrune (docker build, docker and corral builder prune, docker
// system df): the build cache (steps' images and RUN --mount cache
// dirs) shows in system df, builder prune frees what no tagged image
// keeps (-a: all of it), and a rebuild then runs every step again.
func TestBuildPrune(t *testing.T) {
	e := newEngine(t)
	df := "FROM busybox\nRUN --mount=type=cache,target=/c,id=pr head -c 3000000 /dev/zero > /c/big && echo x >> /c/n && wc -l < /c/n > /n\n" +
		"RUN head -c 2000000 /dev/urandom > /layer\n"
	dangling := writeContext(t, map[string]string{"Dockerfile": df})
	kept := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo kept > /k\n"})
	tag := strings.ToLower(testutil.UniqueName(t)) + ":1"
	if r := e.build(t, "-q", dangling); r.code != 0 { // docker build: RUN --mount through the classic protocol
		t.Fatalf("%v", r)
	}
	e.corralOK(t, "", "build", "-q", "-t", tag, kept)
	base := e.ok(t, "images", "-a", "-q")
	line := e.ok(t, "system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Size}}")
	if !strings.Contains(line, "Build Cache 4 5.0") { // 2+1 RUN steps and the cache mount; 5MB not shared
		t.Errorf("system df:\n%s", line)
	}
	out := e.ok(t, "builder", "prune", "-f")
	if !strings.Contains(out, "cache mount pr") || !strings.Contains(out, "Total reclaimed space: 7.0") {
		t.Errorf("builder prune:\n%s", out)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.root(), "buildmounts")); len(ents) != 0 {
		t.Errorf("cache mount dirs left: %v", ents)
	}
	if after := e.ok(t, "images", "-a", "-q"); strings.Count(after, "\n") != strings.Count(base, "\n")-2 {
		t.Errorf("prune did not remove the 2 dangling step images:\nbefore %q\nafter %q", base, after)
	}
	if line := e.ok(t, "system", "df", "--format", "{{.Type}} {{.TotalCount}}"); !strings.Contains(line, "Build Cache 1\n") {
		t.Errorf("system df after prune:\n%s", line)
	}
	if r := e.corral(t, "", "build", kept); !strings.Contains(r.stdout, "Using cache") {
		t.Errorf("the tagged image's cache went: %v", r)
	}
	r := e.corral(t, "", "build", dangling)
	if strings.Contains(r.stdout, "Using cache") || !strings.Contains(r.stdout, "Running in") {
		t.Errorf("the pruned steps hit the cache: %v", r)
	}
	if out := e.corralOK(t, "", "builder", "prune", "-a", "-f"); !strings.Contains(out, "Total reclaimed space") {
		t.Errorf("corral builder prune -a: %s", out)
	}
	if r := e.corral(t, "", "build", kept); strings.Contains(r.stdout, "Using cache") {
		t.Errorf("builder prune -a kept the cache: %v", r)
	}
	if got := e.ok(t, "run", "--rm", tag, "cat", "/k"); got != "kept\n" {
		t.Errorf("the tagged image after prune -a: %q", got)
	}
	// -a keeps a tagged image's untagged step images: its history names
	// them all (busybox's one step included), as before.
	multi := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nENV A=1\nRUN echo m > /m\nLABEL x=y\n"})
	e.corralOK(t, "", "build", "-q", "-t", tag+"-multi", multi)
	before := e.ok(t, "history", "-q", tag+"-multi")
	e.corralOK(t, "", "builder", "prune", "-a", "-f")
	if after := e.ok(t, "history", "-q", tag+"-multi"); after != before || strings.Contains(before, "<missing>") {
		t.Errorf("history after prune -a:\n%s\nbefore:\n%s", after, before)
	}
}
