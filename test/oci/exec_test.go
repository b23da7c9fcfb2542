package oci_test

import (
	"bytes"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// running starts a container that sleeps, for exec tests.
func running(t *testing.T, edit func(*ctr)) (*rt, *ctr, *specs.State) {
	t.Helper()
	r := newRT(t)
	c := newCtr(t, r)
	if edit != nil {
		edit(c)
	}
	c.args("sleep", "1000")
	return r, c, c.start()
}

func withUserNS(c *ctr) {
	setNamespace(c.spec, specs.UserNamespace, "")
	c.spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	c.spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
}

// execOut runs exec with args and returns stdout, failing on an error.
func execOut(t *testing.T, r *rt, args ...string) string {
	t.Helper()
	return r.must(append([]string{"exec"}, args...)...).stdout
}

// execDetached starts `exec -d --pid-file` and returns the host pid.
func execDetached(t *testing.T, r *rt, id string, args ...string) string {
	t.Helper()
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	r.must(append([]string{"exec", "--detach", "--pid-file", pidFile, id}, args...)...)
	pid := strings.TrimSpace(readFile(t, pidFile))
	if n, err := strconv.Atoi(pid); err != nil || !alive(n) {
		t.Fatalf("exec --pid-file holds %q, not a live process", pid)
	}
	return pid
}

func TestExecJoinsNamespaces(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(*ctr)
	}{{"default", nil}, {"userns", withUserNS}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, c, st := running(t, tc.edit)
			init := strconv.Itoa(st.Pid)
			got := map[string]string{}
			for _, l := range strings.Split(strings.TrimSpace(execOut(t, r, c.id, "sh", "-c", printNS)), "\n") {
				if k, v, ok := strings.Cut(l, " "); ok {
					got[k] = v
				}
			}
			for _, k := range []string{"pid", "net", "ipc", "uts", "mnt", "cgroup", "user", "time"} {
				if want := nsLink(t, init, k); got[k] != want {
					t.Errorf("exec %s namespace %q, container's %q", k, got[k], want)
				}
			}
			// From the host, the exec'd process is in init's namespaces and
			// cgroups, with init's ids.
			pid := execDetached(t, r, c.id, "sleep", "1000")
			for _, k := range []string{"pid", "net", "ipc", "uts", "mnt", "cgroup", "user"} {
				if nsLink(t, pid, k) != nsLink(t, init, k) {
					t.Errorf("exec -d: %s namespace differs from init's", k)
				}
			}
			if a, b := readFile(t, "/proc/"+pid+"/cgroup"), readFile(t, "/proc/"+init+"/cgroup"); a != b {
				t.Errorf("exec -d: cgroups\n%s\ndiffer from init's\n%s", a, b)
			}
			sa, sb := procStatus(readFile(t, "/proc/"+pid+"/status")), procStatus(readFile(t, "/proc/"+init+"/status"))
			if sa["Uid"] != sb["Uid"] || sa["Gid"] != sb["Gid"] {
				t.Errorf("exec -d: uid %q gid %q, init has %q %q", sa["Uid"], sa["Gid"], sb["Uid"], sb["Gid"])
			}
		})
	}
}

func TestExecEnvUserCwd(t *testing.T) {
	t.Parallel()
	r, c, _ := running(t, nil)
	i := parseInfo(t, execOut(t, r, "--env", "FOO=bar", c.id, "/bin/testprog", "info"))
	if !hasWord(i.Env, "FOO=bar") {
		t.Errorf("exec --env: env %q", i.Env)
	}
	i = parseInfo(t, execOut(t, r, "-e", "FOO=bar", "-e", "BAR=baz qux", "-u", "1000:1000", "--cwd", "/etc",
		c.id, "/bin/testprog", "info"))
	for _, want := range []string{"FOO=bar", "BAR=baz qux", "TERM=xterm"} {
		if !hasWord(i.Env, want) {
			t.Errorf("exec env %q lacks %q", i.Env, want)
		}
	}
	if i.UID != 1000 || i.GID != 1000 || i.Cwd != "/etc" {
		t.Errorf("exec -u 1000:1000 --cwd /etc: uid %d gid %d cwd %q", i.UID, i.GID, i.Cwd)
	}
	// The defaults come from the container's process.
	i = parseInfo(t, execOut(t, r, c.id, "/bin/testprog", "info"))
	if i.UID != 0 || i.Cwd != "/" || hasWord(i.Env, "FOO=bar") {
		t.Errorf("plain exec: uid %d cwd %q env %q", i.UID, i.Cwd, i.Env)
	}
}

func TestExecCap(t *testing.T) {
	t.Parallel()
	r, c, _ := running(t, nil)
	netRaw := capMask("CAP_NET_RAW")
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{c.id, "/bin/testprog", "info"}, false},
		{[]string{"--cap", "CAP_NET_RAW", c.id, "/bin/testprog", "info"}, true},
	} {
		i := parseInfo(t, execOut(t, r, tc.args...))
		for _, set := range []string{"CapBnd", "CapEff", "CapPrm"} {
			v, _ := strconv.ParseUint(i.Caps[set], 16, 64)
			if (v&netRaw != 0) != tc.want {
				t.Errorf("exec %v: %s = %s, want CAP_NET_RAW %v", tc.args[:len(tc.args)-3], set, i.Caps[set], tc.want)
			}
		}
	}
}

func TestExecProcessJSON(t *testing.T) {
	t.Parallel()
	r, c, _ := running(t, nil)
	p := specs.Process{
		Args: []string{"sh", "-c", `echo "$X $(pwd) $(id -u):$(id -g)"; exit 4`},
		Env:  []string{"PATH=/bin", "X=from-json"},
		Cwd:  "/tmp",
		User: specs.User{UID: 1000, GID: 1000},
	}
	path := filepath.Join(t.TempDir(), "process.json")
	writeFile(t, path, mustJSON(t, p))
	res := r.run("exec", "-p", path, c.id)
	if res.code != 4 || res.stdout != "from-json /tmp 1000:1000\n" {
		t.Errorf("exec -p: %v", res)
	}
}

func TestExecExitCode(t *testing.T) {
	t.Parallel()
	r, c, _ := running(t, nil)
	for _, code := range []int{0, 5, 127} {
		if res := r.run("exec", c.id, "sh", "-c", "exit "+strconv.Itoa(code)); res.code != code {
			t.Errorf("exec exit %d, want %d: %v", res.code, code, res)
		}
	}
	if res := r.run("exec", c.id, "/bin/no-such-program"); res.code == 0 {
		t.Errorf("exec of a missing program succeeded: %v", res)
	}
}

func TestExecStdio(t *testing.T) {
	t.Parallel()
	r, c, _ := running(t, nil)
	res := r.exec(func(cmd *exec.Cmd) { cmd.Stdin = strings.NewReader("in-data\n") },
		"exec", c.id, "sh", "-c", "cat; echo to-err >&2")
	if res.code != 0 || res.stdout != "in-data\n" || !strings.Contains(res.stderr, "to-err") {
		t.Errorf("exec stdio: %v", res)
	}
}

const ttyLinks = "readlink /proc/self/fd/0; readlink /proc/self/fd/1; exit 6"

// checkOnePty checks that the two lines of ttyLinks name the same pty.
func checkOnePty(t *testing.T, how, out string) {
	t.Helper()
	f := strings.Fields(out)
	if len(f) != 2 || !strings.HasPrefix(f[0], "/dev/pts/") || f[0] != f[1] {
		t.Errorf("%s: stdio are %q, want one pty", how, f)
	}
}

func TestExecTTYConsoleSocket(t *testing.T) {
	t.Parallel()
	r, c, _ := running(t, nil)
	srv := newConsoleServer(t)
	r.must("exec", "-t", "-d", "--console-socket", srv.path, c.id, "sh", "-c", ttyLinks)
	checkOnePty(t, "exec -t -d --console-socket", srv.output(t))
}

// Without a console socket, the runtime itself holds the pty master and
// copies it to its own stdio, which here is a terminal of the test's own.
func TestExecTTYForeground(t *testing.T) {
	t.Parallel()
	r, c, _ := running(t, nil)
	master, slave, err := pty.Open()
	must(t, err)
	defer master.Close()
	done := make(chan string)
	go func() {
		var b bytes.Buffer
		_, _ = io.Copy(&b, master)
		done <- b.String()
	}()
	res := r.exec(func(cmd *exec.Cmd) {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	}, "exec", "-t", c.id, "sh", "-c", ttyLinks)
	slave.Close()
	var out string
	select {
	case out = <-done:
	case <-time.After(cmdTimeout):
		t.Fatal("terminal output did not end")
	}
	if res.code != 6 {
		t.Errorf("exec -t exit %d, want 6: %v\nterminal: %q", res.code, res, out)
	}
	checkOnePty(t, "exec -t", out)
}

func TestExecDetachDiesWithContainer(t *testing.T) {
	t.Parallel()
	r, c, _ := running(t, nil)
	pid := execDetached(t, r, c.id, "sleep", "1000")
	r.must("kill", c.id, "KILL")
	c.waitStatus("stopped")
	n, _ := strconv.Atoi(pid)
	waitDead(t, n)
	r.must("delete", c.id)
	c.assertGone()
}
