package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/corral-dev/corral/testutil"
)

// TestBuildReproducible: with SOURCE_DATE_EPOCH (corral build's
// environment, or docker build --build-arg) the same Dockerfile and
// context give the same image ID and layers twice, even with --no-cache
// and RUN steps that write files; without it they do not.
func TestBuildReproducible(t *testing.T) {
	e := newEngine(t)
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY app /app/\nRUN mkdir -p /out/d && echo t > /out/d/now && echo hi > /out/hi && touch /out\n" +
			"RUN --mount=type=cache,target=/c echo x >> /c/n && cp /c/n /out/n0 && rm /out/n0\nENV A=1\nCMD [\"cat\", \"/out/hi\"]\n",
		"app/a": "A", "app/sub/b": "B",
	})
	const epoch = "1700000000"
	inspect := func(id string) string {
		return e.ok(t, "image", "inspect", "-f", `{{.Id}} {{json .RootFS.Layers}} {{.Created}}`, id)
	}
	corral := func(env ...string) string {
		t.Helper()
		r := run(t, env, "", testutil.EngineBinary(t), "-H", e.d.host, "build", "-q", "--no-cache", dir)
		if r.code != 0 {
			t.Fatalf("%v", r)
		}
		return inspect(strings.TrimSpace(r.stdout))
	}
	first := corral("SOURCE_DATE_EPOCH=" + epoch)
	time.Sleep(1100 * time.Millisecond) // a second later: times would differ
	second := corral("SOURCE_DATE_EPOCH=" + epoch)
	if first != second {
		t.Errorf("two builds with SOURCE_DATE_EPOCH differ:\n%s%s", first, second)
	}
	if !strings.Contains(first, "2023-11-14T22:13:20Z") {
		t.Errorf("created is not the epoch: %s", first)
	}
	r := e.build(t, "-q", "--no-cache", "--build-arg", "SOURCE_DATE_EPOCH="+epoch, dir)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	if got := inspect(strings.TrimSpace(r.stdout)); got != first {
		t.Errorf("docker build --build-arg SOURCE_DATE_EPOCH gives\n%s, corral build\n%s", got, first)
	}
	if hist := e.ok(t, "history", "--format", "{{.CreatedAt}}", strings.Fields(first)[0]); strings.Count(hist, "2023-11-14") < 5 {
		t.Errorf("history times are not the epoch:\n%s", hist)
	}
	if a, b := corral(), corral(); a == b {
		t.Errorf("without SOURCE_DATE_EPOCH two --no-cache builds are the same (the test proves nothing): %s", a)
	}
}
