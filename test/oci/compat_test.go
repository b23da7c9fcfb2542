package oci_test

// Parts of runc's command line that dockerd and containerd (go-runc) use
// beyond the OCI lifecycle: --version, spec, ps, pause/resume and a JSON
// --log for error messages.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// dockerd parses "<name> version <v>", "commit: <c>" and "spec: <s>" lines.
func TestVersion(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	res := r.must("--version")
	lines := strings.Split(res.stdout, "\n")
	if !regexp.MustCompile(`^\S+ version \S+`).MatchString(lines[0]) {
		t.Errorf("--version first line %q, want \"<name> version <version>\"", lines[0])
	}
	contains(t, "--version", res.stdout, "\nspec: ")
}

func TestSpecCommand(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	dir := t.TempDir()
	r.must("spec", "--bundle", dir)
	var s specs.Spec
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "config.json"))), &s); err != nil {
		t.Fatalf("spec wrote no valid config.json: %v", err)
	}
	if !strings.HasPrefix(s.Version, "1.") || s.Root == nil || s.Root.Path != "rootfs" ||
		s.Process == nil || len(s.Process.Args) == 0 || s.Linux == nil {
		t.Errorf("spec wrote an incomplete config: %+v", s)
	}
	// runc refuses to overwrite an existing config.json.
	r.fails("spec", "--bundle", dir)
}

func TestPs(t *testing.T) {
	t.Parallel()
	r, c, st := running(t, nil)
	pid := execDetached(t, r, c.id, "sleep", "1000")
	res := r.must("ps", "--format", "json", c.id)
	var pids []int
	if err := json.Unmarshal([]byte(res.stdout), &pids); err != nil {
		t.Fatalf("ps --format json: %v: %q", err, res.stdout)
	}
	want := map[int]bool{st.Pid: false}
	n, _ := strconv.Atoi(pid)
	want[n] = false
	for _, p := range pids {
		want[p] = true
	}
	for p, seen := range want {
		if !seen {
			t.Errorf("ps --format json = %v lacks pid %d", pids, p)
		}
	}
}

func TestPauseResume(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	dir := c.hostDir("/out")
	c.args("sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /out/n; sleep 0.05; done")
	c.start()
	waitFile(t, filepath.Join(dir, "n"))
	r.must("pause", c.id)
	if st := c.state(); st.Status != "paused" {
		t.Fatalf("after pause the container is %q", st.Status)
	}
	before := readFile(t, filepath.Join(dir, "n"))
	sleepMs(300)
	if after := readFile(t, filepath.Join(dir, "n")); after != before {
		t.Errorf("a paused container kept running: %q then %q", before, after)
	}
	r.fails("start", c.id)
	r.must("resume", c.id)
	c.waitStatus("running")
	for deadline := 0; readFile(t, filepath.Join(dir, "n")) == before; deadline++ {
		if deadline > 100 {
			t.Fatal("a resumed container did not run on")
		}
		sleepMs(20)
	}
	r.must("delete", "--force", c.id)
	c.assertGone()
}

// go-runc passes --log FILE --log-format json and, when a command fails,
// reads the error from the last JSON line of that file.
func TestLogJSON(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r).args("/bin/no-such-program-xyz")
	log := filepath.Join(t.TempDir(), "runtime.log")
	r.track(c.id)
	res := r.run("--log", log, "--log-format", "json", "create", "--bundle", c.bundle, c.id)
	if res.code == 0 {
		t.Fatalf("create succeeded: %v", res)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatalf("no log file: %v", err)
	}
	var last struct {
		Level string `json:"level"`
		Msg   string `json:"msg"`
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatalf("last log line is not JSON: %v: %q", err, lines[len(lines)-1])
	}
	if last.Level != "error" || !strings.Contains(last.Msg, "no-such-program-xyz") {
		t.Errorf("last log line %+v, want level error naming the missing program", last)
	}
	c.assertGone()
}
