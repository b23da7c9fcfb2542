// Package images_test tests the image commands of the built corral binary
// from the outside, as a user runs them: as root inside testutil's sandbox
// (private mount and network namespaces), each test on its own --data-root
// (whose daemon the first command starts, and the test stops) and $HOME,
// with Debian's docker-registry for push, pull and login.
package images_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corral-dev/corral/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Sandbox(m)) }

// engine runs corral commands on one data root and home.
type engine struct {
	t    *testing.T
	bin  string
	root string
	home string
}

func newEngine(t *testing.T) *engine {
	t.Helper()
	testutil.RequireRoot(t)
	e := &engine{t: t, bin: testutil.EngineBinary(t), root: t.TempDir(), home: t.TempDir()}
	t.Cleanup(e.stopDaemon)
	return e
}

// withRoot is an engine on a fresh data root sharing e's home (and so its
// credentials).
func (e *engine) withRoot() *engine {
	f := &engine{t: e.t, bin: e.bin, root: e.t.TempDir(), home: e.home}
	e.t.Cleanup(f.stopDaemon)
	return f
}

// stopDaemon stops the daemon the first command on e's data root started
// (corral --data-root DIR talks to DIR's own daemon, on DIR/corral.sock),
// and waits until it is gone.
func (e *engine) stopDaemon() {
	b, err := os.ReadFile(filepath.Join(e.root, "corral.pid"))
	if err != nil {
		return // no command started one
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		e.t.Errorf("pid file of %s: %q", e.root, b)
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(20 * time.Second)
	for syscall.Kill(pid, 0) == nil && !isZombie(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			e.t.Errorf("daemon %d of %s did not stop on SIGTERM", pid, e.root)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// isZombie reports whether pid has exited and waits for its reaper.
func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	i := bytes.LastIndexByte(b, ')')
	return err != nil || i < 0 || i+2 >= len(b) || b[i+2] == 'Z'
}

// result is what a command did.
type result struct {
	args   []string
	stdout string
	stderr string
	code   int
}

func (r result) String() string {
	return fmt.Sprintf("corral %s: exit %d\nstdout:\n%sstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// run runs corral --data-root <root> args with stdin.
func (e *engine) run(stdin string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, append([]string{"--data-root", e.root}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+e.home, "XDG_CONFIG_HOME=", "CORRAL_ROOT=", "CORRAL_HOST=", "DOCKER_HOST=")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{args: args, stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		e.t.Fatalf("corral %v: %v", args, err)
	}
	return r
}

// ok runs a command that must succeed and returns its stdout.
func (e *engine) ok(args ...string) string {
	e.t.Helper()
	r := e.run("", args...)
	if r.code != 0 {
		e.t.Fatalf("%v", r)
	}
	return r.stdout
}

// fails runs a command that must fail with code and a stderr containing
// want.
func (e *engine) fails(code int, want string, args ...string) result {
	e.t.Helper()
	r := e.run("", args...)
	if r.code != code || !strings.Contains(r.stderr, want) {
		e.t.Fatalf("want exit %d and stderr with %q, got %v", code, want, r)
	}
	return r
}

// busyboxTar writes a tarball of testutil's busybox root filesystem.
func busyboxTar(t *testing.T) string {
	t.Helper()
	dir := testutil.BusyboxRootfs(t)
	out := filepath.Join(t.TempDir(), "busybox.tar")
	if b, err := exec.Command("tar", "-C", dir, "--numeric-owner", "-cf", out, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, b)
	}
	return out
}

// importBusybox imports the busybox tarball as ref and returns its ID.
func (e *engine) importBusybox(ref string) string {
	e.t.Helper()
	out := e.ok("import", "-c", `CMD ["sh"]`, "-m", "busybox-static", busyboxTar(e.t), ref)
	id := strings.TrimSpace(out)
	if !strings.HasPrefix(id, "sha256:") || len(id) != 71 {
		e.t.Fatalf("import printed %q, want an image ID", out)
	}
	return id
}

// registryConfig is a docker-registry (distribution 2.x) configuration.
const registryConfig = `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s`

// The htpasswd of user "e2e", password "e2e-secret" (bcrypt, cost 4).
const (
	registryUser     = "e2e"
	registryPassword = "e2e-secret"
	registryHtpasswd = "e2e:$2b$04$75I4.2XhcRc45hZPi0AWXupb1z.MPyheHnZcs2AsSumAstKyqFfaW\n"
)

// startRegistry starts Debian's docker-registry on addr (127.0.0.1:port,
// in the sandbox's own network namespace), with basic auth if htpasswd,
// stopped when the test ends.
func startRegistry(t *testing.T, addr string, htpasswd bool) {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("docker-registry is not installed")
	}
	dir := t.TempDir()
	auth := ""
	if htpasswd {
		pw := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(pw, []byte(registryHtpasswd), 0o600); err != nil {
			t.Fatal(err)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: e2e\n    path: %s\n", pw)
	}
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(registryConfig, filepath.Join(dir, "data"), addr, auth)), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve", cfg)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("docker-registry log:\n%s", logs.String())
		}
	})
	waitRegistry(t, addr)
}

// waitRegistry waits until the registry answers /v2/.
func waitRegistry(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			resp, err := http.Get("http://" + addr + "/v2/")
			if err == nil {
				resp.Body.Close()
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("docker-registry on %s did not come up", addr)
}
