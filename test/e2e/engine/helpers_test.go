// Package engine_test tests `corral daemon` from the outside: the corral
// CLI and the real docker CLI driving one daemon over its socket, and the
// CLI starting the daemon itself on first use. As root inside testutil's
// sandbox (private mount and network namespaces; /run/corral and
// /var/lib/corral are the sandbox's own tmpfs), with Debian's
// docker-registry on the loopback for push and pull.
package engine_test

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

	"github.com/corral-dev/corral/client"
	"github.com/corral-dev/corral/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Sandbox(m)) }

// cmdTimeout bounds every command a test runs.
const cmdTimeout = 2 * time.Minute

// result is what a command did.
type result struct {
	args   []string
	stdout string
	stderr string
	code   int
}

func (r result) String() string {
	return fmt.Sprintf("%s: exit %d\nstdout:\n%sstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// run runs a program with env added to a clean environment (no
// CORRAL_HOST or DOCKER_HOST unless env sets them).
func run(t *testing.T, env []string, stdin string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "CORRAL_HOST=", "DOCKER_HOST=", "CORRAL_ROOT=")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{args: append([]string{filepath.Base(name)}, args...), stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return r
}

// ok runs a command that must succeed and returns its stdout.
func ok(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	r := run(t, env, "", name, args...)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	return r.stdout
}

// daemonProc is a `corral daemon` the test started.
type daemonProc struct {
	cmd  *exec.Cmd
	host string
	log  *bytes.Buffer
	done chan error
}

// startDaemon runs `corral daemon` on a socket and data root under dir,
// waits until it answers and stops it when the test ends.
func startDaemon(t *testing.T, dir string, args ...string) *daemonProc {
	t.Helper()
	sock := filepath.Join(dir, "s.sock")
	d := &daemonProc{host: "unix://" + sock, log: &bytes.Buffer{}, done: make(chan error, 1)}
	args = append([]string{"daemon", "--host", d.host, "--data-root", filepath.Join(dir, "root"),
		"--pidfile", filepath.Join(dir, "corral.pid")}, args...)
	d.cmd = exec.Command(testutil.EngineBinary(t), args...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		d.stop(t)
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.log.String())
		}
	})
	waitPing(t, d.host)
	return d
}

// stop sends SIGTERM and waits for the daemon to exit.
func (d *daemonProc) stop(t *testing.T) error {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		d.done <- err
		return err
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		t.Error("daemon did not stop on SIGTERM")
		return <-d.done
	}
}

// waitPing waits until a daemon answers at host.
func waitPing(t *testing.T, host string) {
	t.Helper()
	c, err := client.New(host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := c.Ping(context.Background())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon at %s does not answer: %v", host, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pidOf reads a pid file.
func pidOf(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %s: %q", path, b)
	}
	return pid
}

// alive reports whether pid is a live process (not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}

// exists reports whether process pid exists, a zombie included.
func exists(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

// killPID signals a daemon the test did not start (the CLI did) and waits
// until it is gone: reaped by the sandbox's reaper, not only a zombie, whose
// other threads may still hold its listening socket open.
func killPID(t *testing.T, pid int, sig syscall.Signal) {
	t.Helper()
	_ = syscall.Kill(pid, sig)
	deadline := time.Now().Add(20 * time.Second)
	for exists(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("pid %d did not exit on %v", pid, sig)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
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

// startRegistry starts Debian's docker-registry on addr (the sandbox's
// loopback), stopped when the test ends.
func startRegistry(t *testing.T, addr string) {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("docker-registry is not installed")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	conf := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n"+
		"  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
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
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
				resp.Body.Close()
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("docker-registry on %s did not come up", addr)
}
