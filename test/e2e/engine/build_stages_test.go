package engine_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/corral-dev/corral/testutil"
)

// TestBuildStagesAtOnce: two independent stages build at the same time
// (each RUN's start and end times overlap the other's), the stream still
// lists the steps in order, stage by stage.
func TestBuildStagesAtOnce(t *testing.T) {
	e := newEngine(t)
	run := "RUN date +%s > /start && sleep 2 && date +%s > /end\n"
	dir := writeContext(t, map[string]string{"Dockerfile": "FROM busybox AS a\n" + run + "FROM busybox AS b\n" + run +
		"FROM busybox\nCOPY --from=a /start /end /a/\nCOPY --from=b /start /end /b/\n"})
	tag := strings.ToLower(testutil.UniqueName(t)) + ":1"
	r := e.build(t, "--no-cache", "-t", tag, dir)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	last := -1
	for _, s := range []string{"Step 1/7 : FROM busybox AS a", "Step 2/7 : RUN", "Step 3/7 : FROM busybox AS b", "Step 4/7 : RUN", "Step 5/7", "Step 7/7"} {
		i := strings.Index(r.stdout, s)
		if i < last {
			t.Errorf("%q out of order:\n%s", s, r.stdout)
		}
		last = i
	}
	var a, b [2]int
	out := e.ok(t, "run", "--rm", tag, "cat", "/a/start", "/a/end", "/b/start", "/b/end")
	if n, err := fmt.Sscan(out, &a[0], &a[1], &b[0], &b[1]); n != 4 {
		t.Fatalf("times %q: %v", out, err)
	}
	if !(a[0] < b[1] && b[0] < a[1]) {
		t.Errorf("the stages did not overlap: a %v, b %v", a, b)
	}
}
