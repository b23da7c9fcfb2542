package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/testutil"
)

// engine is a corral daemon of the test's own, driven with the real
// docker CLI, with an image "busybox" (testutil's busybox root filesystem
// plus /bin/sysprobe) and corral-init for --init.
type engine struct {
	dir   string
	d     *daemonProc
	env   []string
	http  *http.Client
	args  []string // the daemon's extra arguments, for restarts
	dlogs []string // the logs of the daemons killed before this one
}

// newEngine starts a daemon for t (and its subtests). When t ends, every
// container is removed (with the daemon started again if the test left it
// dead) and the daemon stopped; a container the daemon fails to remove
// has its processes killed and its cgroups removed, so that nothing
// outlives the test.
func newEngine(t *testing.T) *engine {
	t.Helper()
	return newEngineArgs(t)
}

// newEngineArgs is newEngine with extra arguments for the daemon.
func newEngineArgs(t *testing.T, args ...string) *engine {
	t.Helper()
	testutil.RequireRoot(t)
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("the docker CLI is not installed")
	}
	dir := t.TempDir()
	e := &engine{dir: dir, args: append([]string{"--init-path", initBinary(t)}, args...)}
	sock := filepath.Join(dir, "s.sock")
	e.env = []string{"DOCKER_HOST=unix://" + sock, "DOCKER_CONFIG=" + filepath.Join(dir, "dc"), "HOME=" + dir}
	e.http = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	t.Cleanup(func() { e.cleanup(t) })
	e.start(t)
	e.ok(t, "import", "-c", `CMD ["sh"]`, imageTar(t), "busybox:latest")
	return e
}

// root is the daemon's data root.
func (e *engine) root() string { return filepath.Join(e.dir, "root") }

// start runs the engine's daemon (again) and waits until it answers.
func (e *engine) start(t *testing.T) {
	t.Helper()
	d := &daemonProc{host: "unix://" + filepath.Join(e.dir, "s.sock"), log: &bytes.Buffer{}, done: make(chan error, 1)}
	args := append([]string{"daemon", "--host", d.host, "--data-root", e.root(),
		"--pidfile", filepath.Join(e.dir, "corral.pid")}, e.args...)
	d.cmd = exec.Command(testutil.EngineBinary(t), args...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	e.d = d
	waitPing(t, d.host)
}

// restart starts the daemon again after it was killed.
func (e *engine) restart(t *testing.T) {
	t.Helper()
	if !e.dead() {
		t.Fatal("restart of a daemon that runs")
	}
	e.dlogs = append(e.dlogs, e.d.log.String())
	e.start(t)
}

// dead reports whether the daemon exited.
func (e *engine) dead() bool {
	select {
	case err := <-e.d.done:
		e.d.done <- err
		return true
	default:
		return false
	}
}

// kill9 kills the daemon with SIGKILL and waits until it is gone.
func (e *engine) kill9(t *testing.T) {
	t.Helper()
	_ = e.d.cmd.Process.Kill()
	err := <-e.d.done
	e.d.done <- err
}

// cleanup removes every container and stops the daemon.
func (e *engine) cleanup(t *testing.T) {
	if e.d == nil {
		return
	}
	if e.dead() {
		e.start(t)
	}
	e.removeAll(t)
	if err := e.d.stop(t); err != nil {
		t.Errorf("daemon exit: %v", err)
	}
	if t.Failed() {
		for _, l := range append(e.dlogs, e.d.log.String()) {
			t.Logf("daemon log:\n%s", l)
		}
	}
}

// removeAll force-removes every container the data root holds; one that
// stays gets its processes killed and its cgroups removed.
func (e *engine) removeAll(t *testing.T) {
	ents, _ := os.ReadDir(filepath.Join(e.root(), "containers"))
	for _, ent := range ents {
		id := ent.Name()
		if len(id) != 64 {
			continue
		}
		if r := e.docker(t, "", "rm", "-f", id); r.code != 0 && !strings.Contains(r.stderr, "No such container") {
			t.Errorf("cleanup: %v", r)
		}
		if dirs := cgroupDirs(id); len(dirs) > 0 {
			t.Errorf("cleanup: %v left behind", dirs)
			reapCgroups(dirs)
		}
	}
}

// reapCgroups kills every process of a container's cgroups (thawed) and
// removes them: the last resort of a cleanup.
func reapCgroups(dirs []string) {
	for _, dir := range dirs {
		if strings.Contains(dir, "/freezer/") {
			_ = os.WriteFile(filepath.Join(dir, "freezer.state"), []byte("THAWED"), 0o644)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, dir := range dirs {
		for os.Remove(dir) != nil && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// docker runs the docker CLI against the engine with stdin.
func (e *engine) docker(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return run(t, e.env, stdin, "docker", args...)
}

// ok runs a docker command that must succeed and returns its stdout.
func (e *engine) ok(t *testing.T, args ...string) string {
	t.Helper()
	r := e.docker(t, "", args...)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	return r.stdout
}

// fails runs a docker command that must fail with code and returns what
// it printed (docker prints some daemon errors, exec's, on stdout).
func (e *engine) fails(t *testing.T, code int, args ...string) string {
	t.Helper()
	r := e.docker(t, "", args...)
	if r.code != code {
		t.Errorf("want exit %d: %v", code, r)
	}
	return r.stdout + r.stderr
}

// name is a container name for t, the container removed when t ends.
func (e *engine) name(t *testing.T) string {
	t.Helper()
	n := testutil.UniqueName(t)
	t.Cleanup(func() { e.docker(t, "", "rm", "-f", n) })
	return n
}

// runD runs a detached container named after t and returns its name.
func (e *engine) runD(t *testing.T, args ...string) string {
	t.Helper()
	n := e.name(t)
	e.ok(t, append([]string{"run", "-d", "--name", n}, args...)...)
	return n
}

// api makes an Engine API call over the socket and decodes a JSON answer
// into out (when not nil); it returns the status.
func (e *engine) api(t *testing.T, method, path string, body io.Reader, out any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://corral/v1.47"+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	} else if msg, ok := out.(*apiError); ok {
		_ = json.Unmarshal(data, msg)
	}
	return resp.StatusCode
}

// apiError is the body of an error answer.
type apiError struct {
	Message string `json:"message"`
}

// inspect reads a container through the API.
func (e *engine) inspect(t *testing.T, name string) container.InspectResponse {
	t.Helper()
	var c container.InspectResponse
	if st := e.api(t, "GET", "/containers/"+name+"/json", nil, &c); st != http.StatusOK {
		t.Fatalf("inspect %s: status %d", name, st)
	}
	return c
}

// exists reports whether a container answers inspect.
func (e *engine) exists(t *testing.T, name string) bool {
	t.Helper()
	return e.api(t, "GET", "/containers/"+name+"/json", nil, nil) == http.StatusOK
}

// waitState polls the container until cond holds of its inspect, or fails
// after 20 s.
func (e *engine) waitState(t *testing.T, name, what string, cond func(container.InspectResponse) bool) container.InspectResponse {
	t.Helper()
	var c container.InspectResponse
	eventually(t, 20*time.Second, name+" "+what, func() bool {
		c = e.inspect(t, name)
		return cond(c)
	})
	return c
}

// eventually polls cond every 20 ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cgroupDirs lists the directories of container id's cgroup in every
// mounted v1 hierarchy.
func cgroupDirs(id string) []string {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/corral/" + id)
	return dirs
}

// cgroupFile reads a file of a running container's cgroup.
func cgroupFile(t *testing.T, id, controller, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", controller, "corral", id, file))
	if err != nil {
		t.Fatalf("cgroup of %s: %v", id[:12], err)
	}
	return strings.TrimSpace(string(b))
}

var initBin struct {
	once sync.Once
	path string
	err  error
}

// initBinary is cmd/corral-init: $CORRAL_INIT_BINARY, or built once.
func initBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CORRAL_INIT_BINARY"); p != "" {
		return p
	}
	initBin.once.Do(func() {
		initBin.path, initBin.err = goBuild("github.com/corral-dev/corral/cmd/corral-init", "corral-init", "")
	})
	if initBin.err != nil {
		t.Fatal(initBin.err)
	}
	return initBin.path
}

// goBuild builds a static program (pkg, an import path, or the single
// file src) into the sandbox's tmpfs, which goes with the sandbox.
func goBuild(pkg, name, src string) (string, error) {
	base := ""
	if testutil.InSandbox() {
		base = "/tmp/corral-test"
	}
	dir, err := os.MkdirTemp(base, "corral-e2e-bin-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	if src != "" {
		file := filepath.Join(dir, name+".go")
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			return "", err
		}
		cmd = exec.Command("go", "build", "-o", out, file)
		cmd.Dir = dir
	}
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", name, err, b)
	}
	return out, nil
}

var image struct {
	once sync.Once
	tar  string
	err  error
}

// imageTar is a tarball of testutil's busybox root filesystem with
// /bin/sysprobe added, made once per test process.
func imageTar(t *testing.T) string {
	t.Helper()
	tar := busyboxTar(t)
	image.once.Do(func() {
		var probe string
		if probe, image.err = goBuild("", "sysprobe", sysprobeSource); image.err != nil {
			return
		}
		image.tar = filepath.Join(filepath.Dir(probe), "image.tar")
		image.err = appendToTar(tar, image.tar, probe, "bin/sysprobe")
	})
	if image.err != nil {
		t.Fatal(image.err)
	}
	return image.tar
}

// appendToTar copies tarball src to dst and adds file as name.
func appendToTar(src, dst, file, name string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		return err
	}
	stage := filepath.Join(filepath.Dir(file), "stage")
	if err := os.MkdirAll(filepath.Join(stage, filepath.Dir(name)), 0o755); err != nil {
		return err
	}
	if err := os.Link(file, filepath.Join(stage, name)); err != nil {
		return err
	}
	if b, err := exec.Command("tar", "-C", stage, "--numeric-owner", "--owner=0", "--group=0",
		"-rf", dst, "./"+name).CombinedOutput(); err != nil {
		return fmt.Errorf("tar: %v: %s", err, b)
	}
	return nil
}

// sysprobeSource is a static program that tries system calls the default
// seccomp profile denies and prints, for each, "name=OK" or
// "name=ERRNO".
const sysprobeSource = `package main

import (
	"fmt"
	"os"
	"syscall"
)

func main() {
	for _, name := range os.Args[1:] {
		var err syscall.Errno
		switch name {
		case "keyctl": // KEYCTL_GET_KEYRING_ID of the session keyring, no create
			_, _, err = syscall.RawSyscall(syscall.SYS_KEYCTL, 0, ^uintptr(2), 0)
		case "unshare": // a user namespace (EINVAL in a threaded process)
			_, _, err = syscall.RawSyscall(syscall.SYS_UNSHARE, syscall.CLONE_NEWUSER, 0, 0)
		case "userfaultfd": // UFFD_USER_MODE_ONLY needs no capability
			var fd uintptr
			fd, _, err = syscall.RawSyscall(323, 1, 0, 0)
			if err == 0 {
				syscall.Close(int(fd))
			}
		default:
			fmt.Println(name + "=unknown")
			continue
		}
		if err == 0 {
			fmt.Println(name + "=OK")
		} else {
			fmt.Printf("%s=%d\n", name, int(err))
		}
	}
}
`
