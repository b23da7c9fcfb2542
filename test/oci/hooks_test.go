package oci_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hookScript records a hook call: the state from stdin in $LOGDIR/<name>.json
// and "<name> <HOOKVAR>" appended to $LOGDIR/order.
const hookScript = `#!/bin/sh
cat > "$LOGDIR/$1.json"
echo "$1 $HOOKVAR" >> "$LOGDIR/order"
`

// hookLog is a host directory where hooks leave their records; it is also
// bind-mounted at /hooklog for hooks that run inside the container.
type hookLog struct {
	t   *testing.T
	dir string
}

func (h hookLog) order() []string {
	b, err := os.ReadFile(filepath.Join(h.dir, "order"))
	if err != nil && !os.IsNotExist(err) {
		h.t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// waitOrder waits until n hooks have run and returns their names.
func (h hookLog) waitOrder(n int) []string {
	h.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		o := h.order()
		if len(o) >= n && o[0] != "" || time.Now().After(deadline) {
			return o
		}
	}
}

func (h hookLog) state(name string) specs.State {
	h.t.Helper()
	var st specs.State
	b := readFile(h.t, filepath.Join(h.dir, name+".json"))
	if err := json.Unmarshal([]byte(b), &st); err != nil {
		h.t.Errorf("%s hook got no state JSON on stdin: %v: %q", name, err, b)
	}
	return st
}

// hostHook writes the hook script on the host and returns a hook running it.
func hostHook(t *testing.T, logDir, name, script string, timeout *int) specs.Hook {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hooks")
	must(t, os.MkdirAll(dir, 0o755))
	path := filepath.Join(dir, name+".sh")
	must(t, os.WriteFile(path, []byte(script), 0o755))
	return specs.Hook{Path: path, Args: []string{path, name},
		Env: []string{"LOGDIR=" + logDir, "HOOKVAR=v-" + name}, Timeout: timeout}
}

// setupHooks gives the container one recording hook of each kind. Paths:
// prestart, createRuntime, poststart and poststop run in the runtime's
// namespace, so a host path works; createContainer runs in the container's
// mount namespace but before pivot_root, so a host path works too;
// startContainer runs after pivot_root, so its program must be in the rootfs
// and it logs through the /hooklog bind mount.
func setupHooks(t *testing.T, c *ctr) hookLog {
	h := hookLog{t: t, dir: c.hostDir("/hooklog")}
	inRootfs := filepath.Join(c.rootfs(), "bin", "hook.sh")
	must(t, os.WriteFile(inRootfs, []byte(hookScript), 0o755))
	c.spec.Hooks = &specs.Hooks{
		//lint:ignore SA1019 prestart is deprecated, yet runtimes must still run it
		Prestart:        []specs.Hook{hostHook(t, h.dir, "prestart", hookScript, nil)},
		CreateRuntime:   []specs.Hook{hostHook(t, h.dir, "createRuntime", hookScript, nil)},
		CreateContainer: []specs.Hook{hostHook(t, h.dir, "createContainer", hookScript, nil)},
		StartContainer: []specs.Hook{{Path: "/bin/hook.sh", Args: []string{"hook.sh", "startContainer"},
			Env: []string{"LOGDIR=/hooklog", "HOOKVAR=v-startContainer"}}},
		Poststart: []specs.Hook{hostHook(t, h.dir, "poststart", hookScript, nil)},
		Poststop:  []specs.Hook{hostHook(t, h.dir, "poststop", hookScript, nil)},
	}
	return h
}

func TestHooks(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r)
	h := setupHooks(t, c)
	c.args("sleep", "1000")
	c.mustCreate()
	pid := c.state().Pid
	created := []string{"prestart", "createRuntime", "createContainer"}
	all := append(created, "startContainer", "poststart")
	if got := h.order(); isRunc(t) && len(got) == 4 && got[3] == "poststart v-poststart" {
		t.Log("runc 1.1.5 runs poststart hooks during create")
		wantOrder(t, "create", got[:3], created...)
	} else {
		wantOrder(t, "create", got, created...)
	}

	r.must("start", c.id)
	got := h.waitOrder(5)
	if isRunc(t) {
		// runc 1.1.5: poststart ran during create, or races startContainer.
		wantOrder(t, "start", got[:3], created...)
		wantSet(t, "start", got[3:], "startContainer", "poststart")
	} else {
		wantOrder(t, "start", got, all...)
	}
	r.must("kill", c.id, "KILL")
	c.waitStatus("stopped")
	r.must("delete", c.id)
	if got := h.order(); len(got) != 6 || got[5] != "poststop v-poststop" {
		t.Errorf("after delete, hooks ran %q, want poststop last", got)
	}

	for name, status := range map[string]string{
		"prestart": "creating", "createRuntime": "creating", "createContainer": "creating",
		"startContainer": "created", "poststart": "running", "poststop": "stopped",
	} {
		st := h.state(name)
		if st.ID != c.id || st.Bundle != c.bundle {
			t.Errorf("%s hook: state id %q bundle %q, want %q %q", name, st.ID, st.Bundle, c.id, c.bundle)
		}
		if string(st.Status) != status {
			if name == "poststart" && isRunc(t) && st.Status == "created" {
				continue // runc 1.1.5 runs poststart during create
			}
			t.Errorf("%s hook: status %q, want %q", name, st.Status, status)
		}
		inContainer := name == "createContainer" || name == "startContainer"
		switch {
		case name == "poststop":
		case inContainer && isRunc(t) && st.Pid == 1:
			// runc 1.1.5 reports the pid as seen inside the container.
		case st.Pid != pid:
			t.Errorf("%s hook: state pid %d, want the host pid %d", name, st.Pid, pid)
		}
	}
}

// wantOrder checks hook records "<name> v-<name>" (the hook's env arrived).
func wantOrder(t *testing.T, step string, got []string, names ...string) {
	t.Helper()
	var want []string
	for _, n := range names {
		want = append(want, n+" v-"+n)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("after %s, hooks ran %q, want %q", step, got, want)
	}
}

// wantSet checks hook records regardless of order.
func wantSet(t *testing.T, step string, got []string, names ...string) {
	t.Helper()
	for _, n := range names {
		if !hasWord(got, n+" v-"+n) {
			t.Errorf("after %s, hooks ran %q, want %s among them", step, got, n)
		}
	}
	if len(got) != len(names) {
		t.Errorf("after %s, hooks ran %q, want only %q", step, got, names)
	}
}

// A failing hook during create makes create fail and leaves nothing behind.
func TestHookFailureFailsCreate(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"prestart", "createRuntime", "createContainer"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			r := newRT(t)
			c := newCtr(t, r).args("sleep", "1000")
			hk := hostHook(t, t.TempDir(), kind, "#!/bin/sh\necho hook-failed-loudly >&2\nexit 3\n", nil)
			c.spec.Hooks = &specs.Hooks{}
			switch kind {
			case "prestart":
				//lint:ignore SA1019 prestart is deprecated, yet runtimes must still run it
				c.spec.Hooks.Prestart = []specs.Hook{hk}
			case "createRuntime":
				c.spec.Hooks.CreateRuntime = []specs.Hook{hk}
			case "createContainer":
				c.spec.Hooks.CreateContainer = []specs.Hook{hk}
			}
			c.write()
			if res := c.create(); res.code == 0 {
				t.Fatalf("create with a failing %s hook succeeded: %v", kind, res)
			}
			c.assertGone()
		})
	}
}

func TestHookTimeout(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r).args("sleep", "1000")
	one := 1
	hk := hostHook(t, t.TempDir(), "prestart", "#!/bin/sh\nexec sleep 30\n", &one)
	//lint:ignore SA1019 prestart is deprecated, yet runtimes must still run it
	c.spec.Hooks = &specs.Hooks{Prestart: []specs.Hook{hk}}
	c.write()
	start := time.Now()
	if res := c.create(); res.code == 0 {
		t.Fatalf("create with a hook past its timeout succeeded: %v", res)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("create took %v with a 1s hook timeout", d)
	}
	c.assertGone()
	assertNoProcs(t, filepath.Dir(hk.Path), "no-such-id")
}

// poststop runs on delete, after the container's processes are gone, and
// even for a container that never started.
func TestPoststopOnDeleteOfCreated(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := newCtr(t, r).args("sleep", "1000")
	h := hookLog{t: t, dir: t.TempDir()}
	c.spec.Hooks = &specs.Hooks{Poststop: []specs.Hook{hostHook(t, h.dir, "poststop", hookScript, nil)}}
	c.write()
	c.mustCreate()
	if o := h.order(); o[0] != "" {
		t.Fatalf("hooks ran before delete: %q", o)
	}
	r.must("delete", "--force", c.id)
	wantOrder(t, "delete", h.order(), "poststop")
	c.assertGone()
}
