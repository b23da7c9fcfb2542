package oci_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestCreateStartStopped(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r).args("true")
	c.mustCreate()
	st := c.state()
	if st.Status != "created" || st.Pid <= 0 {
		t.Fatalf("after create: status %q pid %d, want created and pid > 0", st.Status, st.Pid)
	}
	if !alive(st.Pid) {
		t.Fatalf("init pid %d of a created container is not alive", st.Pid)
	}
	r.must("start", c.id)
	c.waitStatus("stopped")
	waitDead(t, st.Pid)
	r.must("delete", c.id)
	if res := r.run("state", c.id); res.code == 0 {
		t.Fatalf("state after delete succeeded: %v", res)
	}
	c.assertGone()
}

func TestStartRunning(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r).args("sleep", "1000")
	st := c.start()
	if st.Pid <= 0 || !alive(st.Pid) {
		t.Fatalf("running container has pid %d (alive %v)", st.Pid, alive(st.Pid))
	}
	r.must("kill", c.id, "KILL")
	c.waitStatus("stopped")
	r.must("delete", c.id)
	c.assertGone()
}

func TestStateFields(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	c.spec.Annotations = map[string]string{"org.corral.test": "yes"}
	c.args("sleep", "1000")
	c.mustCreate()
	res := r.must("state", c.id)
	var raw map[string]any
	if err := json.Unmarshal([]byte(res.stdout), &raw); err != nil {
		t.Fatalf("state is not a JSON object: %v: %q", err, res.stdout)
	}
	for _, k := range []string{"ociVersion", "id", "pid", "status", "bundle"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("state has no %q: %s", k, res.stdout)
		}
	}
	st := c.state()
	if st.ID != c.id || st.Bundle != c.bundle || st.Status != "created" {
		t.Errorf("state = %+v, want id %s bundle %s status created", st, c.id, c.bundle)
	}
	if !strings.HasPrefix(st.Version, "1.") {
		t.Errorf("ociVersion %q, want 1.x", st.Version)
	}
	if st.Annotations["org.corral.test"] != "yes" {
		t.Errorf("state annotations %v lack the spec's", st.Annotations)
	}
}

func TestRunExitCode(t *testing.T) {
	t.Parallel()
	for _, code := range []int{0, 3, 42} {
		r := newRT(t)
		c := newCtr(t, r).args("sh", "-c", "echo out; echo err >&2; exit "+strconv.Itoa(code))
		res := c.runC(nil)
		if res.code != code {
			t.Errorf("run exit %d, want %d: %v", res.code, code, res)
		}
		contains(t, "stdout", res.stdout, "out\n")
		contains(t, "stderr", res.stderr, "err\n")
		if res := r.run("state", c.id); res.code == 0 {
			t.Errorf("container still known after run: %v", res)
		}
		c.assertGone()
	}
}

func TestRunKilledBySignal(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r).args("sleep", "1000")
	r.track(c.id)
	run := r.startBG(nil, "run", "--bundle", c.bundle, c.id)
	c.waitStatus("running")
	r.must("kill", c.id, "KILL")
	if res := run.wait(); res.code != 128+9 {
		t.Errorf("run of a container killed by SIGKILL exited %d, want 137: %v", res.code, res)
	}
	c.assertGone()
}

// A pid-1 shell with a TERM trap leaves a mark in a host directory, so the
// test knows which signal arrived. It waits until the traps are set: pid 1
// ignores a signal it has no handler for.
func trapContainer(t *testing.T, r *rt) (*ctr, string) {
	c := newCtr(t, r)
	dir := c.hostDir("/out")
	c.args("sh", "-c", `trap "echo TERM > /out/sig; exit 0" TERM; trap "echo HUP > /out/sig; exit 0" HUP; `+
		`touch /out/ready; while true; do sleep 0.1; done`)
	c.start()
	waitFile(t, filepath.Join(dir, "ready"))
	return c, dir
}

func TestKill(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, want string
		args       []string
	}{
		{"default", "TERM", nil},
		{"name", "HUP", []string{"HUP"}},
		{"sigName", "HUP", []string{"SIGHUP"}},
		{"number", "TERM", []string{"15"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRT(t)
			c, dir := trapContainer(t, r)
			r.must(append([]string{"kill", c.id}, tc.args...)...)
			c.waitStatus("stopped")
			got := strings.TrimSpace(readFile(t, filepath.Join(dir, "sig")))
			if got != tc.want {
				t.Errorf("container caught %q, want %q", got, tc.want)
			}
		})
	}
}

func TestKillByNumberAndName(t *testing.T) {
	t.Parallel()
	for _, sig := range []string{"KILL", "9", "SIGKILL"} {
		t.Run(sig, func(t *testing.T) {
			t.Parallel()
			r := newRT(t)
			c := newCtr(t, r).args("sleep", "1000")
			st := c.start()
			r.must("kill", c.id, sig)
			c.waitStatus("stopped")
			waitDead(t, st.Pid)
		})
	}
}

func TestKillAll(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	dir := c.hostDir("/out")
	// pid 1 ignores TERM (no handler); its two children do not.
	c.args("sh", "-c", "sleep 1000 & echo $! > /out/a; sleep 1000 & echo $! > /out/b; wait; echo done > /out/done; sleep 1000")
	c.start()
	waitFile(t, filepath.Join(dir, "b"))
	r.must("kill", c.id, "TERM")
	time.Sleep(200 * time.Millisecond)
	if st := c.state(); st.Status != "running" {
		t.Fatalf("pid 1 without a TERM handler stopped on TERM: %q", st.Status)
	}
	r.must("kill", "--all", c.id, "TERM")
	waitFile(t, filepath.Join(dir, "done"))
	r.must("kill", "--all", c.id, "KILL")
	c.waitStatus("stopped")
	r.must("delete", c.id)
	c.assertGone()
}

func waitFile(t testing.TB, path string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
	}
}

func TestDeleteForceRunning(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r).args("sleep", "1000")
	st := c.start()
	r.must("delete", "--force", c.id)
	waitDead(t, st.Pid)
	c.assertGone()
	if res := r.run("state", c.id); res.code == 0 {
		t.Errorf("state after delete --force succeeded: %v", res)
	}
}

func TestDeleteForceCreated(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r).args("sleep", "1000")
	c.mustCreate()
	pid := c.state().Pid
	r.must("delete", "--force", c.id)
	waitDead(t, pid)
	c.assertGone()
}

func TestDeleteCreated(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r).args("sleep", "1000")
	c.mustCreate()
	pid := c.state().Pid
	// A created container's process never ran the user program: delete
	// without --force removes it (runc and the OCI spec agree).
	r.must("delete", c.id)
	waitDead(t, pid)
	c.assertGone()
}

// The container stops when its pid 1 exits, even if it had children.
func TestStopsWhenInitExits(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	c.args("sh", "-c", "sleep 1000 & sleep 0.3; exit 0")
	// Not c.start(): on a slow machine (the VM under TCG) the container may
	// already have stopped when state is first asked for "running".
	c.mustCreate()
	r.must("start", c.id)
	c.waitStatus("stopped")
	// The orphaned sleep must be gone before delete cleans up.
	assertNoProcs(t, c.bundle, c.id)
	r.must("delete", c.id)
	c.assertGone()
}

func TestList(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	a := newCtr(t, r).args("sleep", "1000")
	a.start()
	b := newCtr(t, r).args("true")
	b.mustCreate()

	table := r.must("list").stdout
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("list table:\n%s", table)
	}
	for _, c := range []struct {
		id, status string
	}{{a.id, "running"}, {b.id, "created"}} {
		if !hasRow(lines[1:], c.id, c.status) {
			t.Errorf("list has no row %s %s:\n%s", c.id, c.status, table)
		}
	}

	quiet := strings.Fields(r.must("list", "-q").stdout)
	if len(quiet) != 2 || !hasWord(quiet, a.id) || !hasWord(quiet, b.id) {
		t.Errorf("list -q = %q, want the two ids", quiet)
	}

	var js []struct {
		ID     string `json:"id"`
		Pid    int    `json:"pid"`
		Status string `json:"status"`
		Bundle string `json:"bundle"`
	}
	res := r.must("list", "--format", "json")
	if err := json.Unmarshal([]byte(res.stdout), &js); err != nil {
		t.Fatalf("list --format json: %v: %q", err, res.stdout)
	}
	if len(js) != 2 {
		t.Fatalf("list --format json has %d entries, want 2: %s", len(js), res.stdout)
	}
	for _, e := range js {
		if e.Pid <= 0 || (e.ID == a.id) != (e.Bundle == a.bundle) || (e.ID == a.id) != (e.Status == "running") {
			t.Errorf("bad list entry %+v", e)
		}
	}
}

func TestListEmpty(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	if out := strings.TrimSpace(r.must("list", "-q").stdout); out != "" {
		t.Errorf("list -q with no containers = %q", out)
	}
	res := r.must("list", "--format", "json")
	var js []specs.State
	if err := json.Unmarshal([]byte(res.stdout), &js); err != nil || len(js) != 0 {
		t.Errorf("list --format json with no containers = %q (%v)", res.stdout, err)
	}
}

func hasRow(lines []string, id, status string) bool {
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == id && f[2] == status {
			return true
		}
	}
	return false
}

func hasWord(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
}
