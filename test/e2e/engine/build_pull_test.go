package engine_test

import (
	"strings"
	"testing"

	"github.com/corral-dev/corral/testutil"
)

// TestBuildPull: build --pull fetches the FROM image from its registry
// even when a local image has that name; an unreachable registry fails
// the build, naming the image.
func TestBuildPull(t *testing.T) {
	const addr = "127.0.0.1:5003"
	startRegistry(t, addr)
	e := newEngine(t)
	ref := addr + "/e2e/base:1"
	marked := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo from-registry > /m\n"})
	e.corralOK(t, "", "build", "-q", "-t", ref, marked)
	e.ok(t, "push", ref)
	e.ok(t, "tag", "busybox", ref) // the local name now lacks /m
	dir := writeContext(t, map[string]string{"Dockerfile": "FROM " + ref + "\nRUN cat /m > /copy\n"})
	tag := strings.ToLower(testutil.UniqueName(t)) + ":1"
	if r := e.build(t, "-t", tag, dir); r.code == 0 {
		t.Fatalf("without --pull the local image was not used: %v", r)
	}
	r := e.build(t, "--pull", "-t", tag, dir)
	if r.code != 0 || !strings.Contains(r.stdout, "Status: Downloaded newer image for "+ref) {
		t.Fatalf("--pull: %v", r)
	}
	if got := e.ok(t, "run", "--rm", tag, "cat", "/copy"); got != "from-registry\n" {
		t.Errorf("built on the local image: %q", got)
	}
	r = e.build(t, "--pull", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "Status: Image is up to date for "+ref) || !strings.Contains(r.stdout, "Using cache") {
		t.Errorf("--pull again: %v", r)
	}
	bad := writeContext(t, map[string]string{"Dockerfile": "FROM 127.0.0.1:5009/none/here:1\n"})
	r = e.corral(t, "", "build", "--pull", "-t", tag+"-bad", bad)
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "pull base image 127.0.0.1:5009/none/here:1 (--pull)") {
		t.Errorf("--pull from nowhere: %v", r)
	}
}
