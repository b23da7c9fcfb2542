package oci_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corral-dev/corral/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cmdTimeout bounds every runtime invocation: no test may hang.
const cmdTimeout = 20 * time.Second

var (
	runtimeOnce sync.Once
	runtimeBin  string
	runtimeDir  string
)

// runtimeBinary returns the runtime under test: $OCI_RUNTIME, or a symlink
// named corral-runc to corrald, the engine's binary beside corral.
func runtimeBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("OCI_RUNTIME"); p != "" {
		return p
	}
	corral := filepath.Join(filepath.Dir(testutil.CorralBinary(t)), "corrald")
	runtimeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "oci-runtime-")
		if err != nil {
			return
		}
		runtimeDir = dir
		link := filepath.Join(dir, "corral-runc")
		if err := os.Symlink(corral, link); err == nil {
			runtimeBin = link
		}
	})
	if runtimeBin == "" {
		t.Fatal("cannot make the corral-runc symlink")
	}
	return runtimeBin
}

// isRunc reports whether the runtime under test is runc, whose known gaps
// (not corral's) some tests skip.
func isRunc(t testing.TB) bool {
	bin := runtimeBinary(t)
	if p, err := filepath.EvalSymlinks(bin); err == nil {
		bin = p
	}
	return filepath.Base(bin) == "runc"
}

// skipIfRunc skips the test when the runtime is runc, for a stated reason
// that is a limit of runc 1.1.5 or of this host, never of corral.
func skipIfRunc(t testing.TB, reason string, args ...any) {
	t.Helper()
	if isRunc(t) {
		t.Skipf("runc: "+reason, args...)
	}
}

// result is what one runtime command did.
type result struct {
	args   []string
	stdout string
	stderr string
	code   int
}

func (r result) String() string {
	return "`" + strings.Join(r.args, " ") + "` exit " + strconv.Itoa(r.code) +
		"\nstdout: " + r.stdout + "\nstderr: " + r.stderr
}

// rt runs the runtime for one test with its own --root; it deletes every
// container the test named when the test ends.
type rt struct {
	t     testing.TB
	bin   string
	root  string
	tmp   string
	stdin string
	mu    sync.Mutex
	ids   []string
}

func newRT(t testing.TB) *rt {
	t.Helper()
	testutil.RequireRoot(t)
	tmp := t.TempDir()
	r := &rt{t: t, bin: runtimeBinary(t), root: filepath.Join(tmp, "root"), tmp: tmp}
	r.stdin = filepath.Join(tmp, "empty-stdin")
	writeFile(t, r.stdin, "")
	t.Cleanup(r.cleanup)
	return r
}

func (r *rt) track(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, id)
}

func (r *rt) cleanup() {
	for _, id := range r.ids {
		r.exec(nil, "delete", "--force", id)
	}
}

// run runs the runtime with args; the container's stdio, if any, is a pair of
// files of the test's own, read back into the result.
func (r *rt) run(args ...string) result {
	r.t.Helper()
	return r.exec(nil, args...)
}

// exec is run with a customiser for the command (stdin, extra files).
func (r *rt) exec(custom func(*exec.Cmd), args ...string) result {
	r.t.Helper()
	return r.startBG(custom, args...).wait()
}

// bgCmd is a runtime command running in the background.
type bgCmd struct {
	r          *rt
	cmd        *exec.Cmd
	ctx        context.Context
	cancel     context.CancelFunc
	in, out, e *os.File
}

// startBG starts the runtime with args; wait() collects its result.
func (r *rt) startBG(custom func(*exec.Cmd), args ...string) *bgCmd {
	r.t.Helper()
	b := &bgCmd{r: r}
	b.ctx, b.cancel = context.WithTimeout(context.Background(), cmdTimeout)
	full := append([]string{"--root", r.root}, args...)
	b.cmd = exec.CommandContext(b.ctx, r.bin, full...)
	b.out, b.e = r.tempFile("stdout"), r.tempFile("stderr")
	in, err := os.Open(r.stdin)
	if err != nil {
		r.t.Fatal(err)
	}
	b.in = in
	b.cmd.Stdin, b.cmd.Stdout, b.cmd.Stderr = in, b.out, b.e
	b.cmd.WaitDelay = 2 * time.Second
	if custom != nil {
		custom(b.cmd)
	}
	if err := b.cmd.Start(); err != nil {
		b.close()
		r.t.Fatalf("start %v: %v", full, err)
	}
	return b
}

func (b *bgCmd) close() {
	b.cancel()
	b.in.Close()
	b.out.Close()
	b.e.Close()
}

func (b *bgCmd) wait() result {
	b.r.t.Helper()
	defer b.close()
	err := b.cmd.Wait()
	res := result{args: b.cmd.Args[1:]}
	var ee *exec.ExitError
	switch {
	case b.ctx.Err() != nil:
		b.r.t.Fatalf("run %v: timed out after %v", res.args, cmdTimeout)
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		b.r.t.Fatalf("run %v: %v", res.args, err)
	}
	res.stdout, res.stderr = readFile(b.r.t, b.out.Name()), readFile(b.r.t, b.e.Name())
	return res
}

func (r *rt) tempFile(kind string) *os.File {
	f, err := os.CreateTemp(r.tmp, kind+"-")
	if err != nil {
		r.t.Fatal(err)
	}
	return f
}

// must runs the runtime and fails the test unless it exits 0.
func (r *rt) must(args ...string) result {
	r.t.Helper()
	res := r.run(args...)
	if res.code != 0 {
		r.t.Fatalf("unexpected failure: %v", res)
	}
	return res
}

// fails runs the runtime and fails the test unless it exits non-zero.
func (r *rt) fails(args ...string) result {
	r.t.Helper()
	res := r.run(args...)
	if res.code == 0 {
		r.t.Fatalf("unexpected success: %v", res)
	}
	return res
}

// ctr is one container of a test.
type ctr struct {
	r      *rt
	id     string
	bundle string
	spec   *specs.Spec
	out    string // file that holds the container's stdout after create
}

// newCtr makes a bundle with a fresh id; edit c.spec, then c.write().
func newCtr(t testing.TB, r *rt) *ctr {
	t.Helper()
	dir, spec := testutil.NewBundle(t)
	id := testutil.UniqueName(t)
	// The marker lets assertNoProcs find the container's processes by environ.
	spec.Process.Env = append(spec.Process.Env, markerEnv+"="+id)
	return &ctr{r: r, id: id, bundle: dir, spec: spec}
}

func (c *ctr) rootfs() string {
	if filepath.IsAbs(c.spec.Root.Path) {
		return c.spec.Root.Path
	}
	return filepath.Join(c.bundle, c.spec.Root.Path)
}

func (c *ctr) write() { testutil.WriteSpec(c.r.t, c.bundle, c.spec) }

// args sets the process args and writes the spec.
func (c *ctr) args(a ...string) *ctr {
	c.spec.Process.Args = a
	c.write()
	return c
}

// create runs `create` and remembers where the container's stdout goes.
func (c *ctr) create(extra ...string) result {
	c.r.t.Helper()
	c.r.track(c.id)
	args := append([]string{"create", "--bundle", c.bundle}, extra...)
	res := c.r.exec(func(cmd *exec.Cmd) {
		c.out = cmd.Stdout.(*os.File).Name()
	}, append(args, c.id)...)
	return res
}

// mustCreate creates the container and fails the test if that fails.
func (c *ctr) mustCreate(extra ...string) {
	c.r.t.Helper()
	if res := c.create(extra...); res.code != 0 {
		c.r.t.Fatalf("create: %v", res)
	}
}

// runC runs `run` in the foreground and returns its result.
func (c *ctr) runC(custom func(*exec.Cmd), extra ...string) result {
	c.r.t.Helper()
	c.r.track(c.id)
	args := append([]string{"run", "--bundle", c.bundle}, extra...)
	return c.r.exec(custom, append(args, c.id)...)
}

// output runs the container in the foreground and returns its stdout,
// failing the test on a non-zero exit.
func (c *ctr) output() string {
	c.r.t.Helper()
	res := c.runC(nil)
	if res.code != 0 {
		c.r.t.Fatalf("run: %v", res)
	}
	return res.stdout
}

// start creates and starts a long-running container (args already set).
func (c *ctr) start() *specs.State {
	c.r.t.Helper()
	c.mustCreate()
	c.r.must("start", c.id)
	return c.waitStatus("running")
}

// state returns the container's state, failing the test on an error.
func (c *ctr) state() *specs.State {
	c.r.t.Helper()
	res := c.r.must("state", c.id)
	var st specs.State
	if err := json.Unmarshal([]byte(res.stdout), &st); err != nil {
		c.r.t.Fatalf("state is not JSON: %v: %q", err, res.stdout)
	}
	return &st
}

// waitStatus polls state until it reports status, for at most 10s; until
// then, state may also fail (the container may not exist yet).
func (c *ctr) waitStatus(status string) *specs.State {
	c.r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res := c.r.run("state", c.id)
		var st specs.State
		if res.code == 0 && json.Unmarshal([]byte(res.stdout), &st) == nil && string(st.Status) == status {
			return &st
		}
		if time.Now().After(deadline) {
			c.r.t.Fatalf("container %s is not %q: %v", c.id, status, res)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// containerOut returns what the container wrote to stdout since create.
func (c *ctr) containerOut() string { return readFile(c.r.t, c.out) }

// assertGone checks that nothing of the container is left: no entry under
// --root naming it and no process that belongs to it.
func (c *ctr) assertGone() {
	c.r.t.Helper()
	assertNoState(c.r.t, c.r.root, c.id)
	assertNoProcs(c.r.t, c.bundle, c.id)
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hostDir makes a directory on the host and bind-mounts it read-write at
// dest in the container; the container can leave results there.
func (c *ctr) hostDir(dest string) string {
	tmp := c.r.t.TempDir()
	dir := filepath.Join(tmp, "share")
	// Traversable and writable for a container whose root is mapped.
	for _, d := range []string{filepath.Dir(tmp), tmp} {
		must(c.r.t, os.Chmod(d, 0o755))
	}
	must(c.r.t, os.Mkdir(dir, 0o777))
	must(c.r.t, os.Chmod(dir, 0o777))
	must(c.r.t, os.MkdirAll(filepath.Join(c.rootfs(), dest), 0o755))
	c.spec.Mounts = append(c.spec.Mounts, specs.Mount{
		Destination: dest, Type: "bind", Source: dir, Options: []string{"rbind", "rw"},
	})
	return dir
}

func contains(t testing.TB, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%s: %q does not contain %q", what, s, sub)
	}
}

func sleepMs(ms int) { time.Sleep(time.Duration(ms) * time.Millisecond) }
