package build

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corral-dev/corral/api"
)

// Two independent stages whose RUN each waits for the other's: the build
// ends only if they run at once. The stream still reads in plan order.
func TestStagesBuildAtOnce(t *testing.T) {
	f := newFake(t)
	f.meet.Add(2)
	df := "FROM busybox AS a\nRUN meet a\nFROM busybox AS b\nRUN meet b\nFROM a\nCOPY --from=b / /b/\n"
	out := buildWith(t, f, map[string]string{"Dockerfile": df}, api.BuildOptions{Tags: []string{"x:1"}})
	if strings.Contains(out, "errorDetail") || f.tags["x:1"] == "" {
		t.Fatalf("build failed:\n%s", out)
	}
	steps := regexp.MustCompile(`Step (\d+)/6 : (\w+ [-\w=/]+)`).FindAllStringSubmatch(out, -1)
	var got []string
	for n, s := range steps {
		if s[1] != strconv.Itoa(n+1) {
			t.Errorf("step %s printed %dth", s[1], n+1)
		}
		got = append(got, s[2])
	}
	if want := "[FROM busybox RUN meet FROM busybox RUN meet FROM a COPY --from=b]"; fmt_(got) != want {
		t.Errorf("steps %s, want %s:\n%s", fmt_(got), want, out)
	}
	// Stage a's output stays together: its RUN's result comes before b's FROM.
	if strings.Index(out, "Step 3/6") < strings.Index(out, "Step 2/6") {
		t.Errorf("stages interleaved:\n%s", out)
	}
}

// A failing stage cancels the one waiting beside it and tags nothing.
func TestStageFailureCancelsOthers(t *testing.T) {
	f := newFake(t)
	f.meet.Add(2)
	df := "FROM busybox AS a\nRUN exit 3\nFROM busybox AS b\nRUN meet b\nFROM a\nCOPY --from=b / /b/\n"
	start := time.Now()
	out := buildWith(t, f, map[string]string{"Dockerfile": df}, api.BuildOptions{Tags: []string{"x:1"}})
	if !strings.Contains(out, `"code":3`) || len(f.tags) != 0 {
		t.Errorf("tags %v, stream:\n%s", f.tags, out)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the waiting stage was not cancelled: the build took %v", d)
	}
	if strings.Contains(out, "never ran at the same time") || strings.Contains(out, "Step 5/6") {
		t.Errorf("stream:\n%s", out)
	}
}

func fmt_(s []string) string { return "[" + strings.Join(s, " ") + "]" }
