package oci_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// markerEnv is set in every test container's environment to its id.
const markerEnv = "OCI_TEST_CONTAINER"

// assertNoState fails the test if any entry under the runtime root names id.
func assertNoState(t testing.TB, root, id string) {
	t.Helper()
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), id) {
			t.Errorf("state left behind for %s: %s", id, p)
		}
		return nil
	})
}

// assertNoProcs fails the test if a process still belongs to the container:
// its root or cwd lies in the bundle, its command line names the bundle or
// the id, or its cgroup path names the id. It waits up to 5s for the kernel
// to finish killing.
func assertNoProcs(t testing.TB, bundle, id string) {
	t.Helper()
	var left []string
	for deadline := time.Now().Add(5 * time.Second); ; {
		left = containerProcs(bundle, id)
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Errorf("processes left behind for %s: %s", id, strings.Join(left, "; "))
	}
}

func containerProcs(bundle, id string) []string {
	ents, _ := os.ReadDir("/proc")
	self := strconv.Itoa(os.Getpid())
	var out []string
	for _, e := range ents {
		pid := e.Name()
		if _, err := strconv.Atoi(pid); err != nil || pid == self {
			continue
		}
		if why := belongs(pid, bundle, id); why != "" {
			out = append(out, pid+" ("+why+")")
		}
	}
	return out
}

func belongs(pid, bundle, id string) string {
	base := "/proc/" + pid + "/"
	if st, _ := os.ReadFile(base + "stat"); isZombie(st) {
		return ""
	}
	for _, l := range []string{"root", "cwd"} {
		if p, err := os.Readlink(base + l); err == nil && under(p, bundle) {
			return l + " " + p
		}
	}
	cmd, _ := os.ReadFile(base + "cmdline")
	c := string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))
	if strings.Contains(c, bundle) || strings.Contains(c, id) {
		return "cmdline " + c
	}
	env, _ := os.ReadFile(base + "environ")
	if bytes.Contains(env, []byte(markerEnv+"="+id+"\x00")) {
		return "environ"
	}
	cg, _ := os.ReadFile(base + "cgroup")
	if strings.Contains(string(cg), "/"+id) {
		return "cgroup"
	}
	return ""
}

func isZombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && len(stat) > i+2 && stat[i+2] == 'Z'
}

func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !isZombie(st)
}

// waitDead waits up to 5s for pid to be gone.
func waitDead(t testing.TB, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); alive(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still alive", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// nsLink reads /proc/<pid>/ns/<kind> ("net:[4026...]").
func nsLink(t testing.TB, pid, kind string) string {
	t.Helper()
	l, err := os.Readlink("/proc/" + pid + "/ns/" + kind)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// procStatus parses /proc/<pid>/status text into its fields.
func procStatus(text string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return m
}

// consoleServer is the test's end of --console-socket: it accepts one
// connection, takes the pty master sent with SCM_RIGHTS and collects
// everything the container writes to its terminal.
type consoleServer struct {
	path   string
	ln     *net.UnixListener
	master chan *os.File
	done   chan struct{}
	buf    bytes.Buffer
	err    error
}

func newConsoleServer(t testing.TB) *consoleServer {
	t.Helper()
	dir, err := os.MkdirTemp("", "oci-console-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &consoleServer{path: filepath.Join(dir, "sock"), master: make(chan *os.File, 1), done: make(chan struct{})}
	s.ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: s.path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.ln.Close() })
	go s.serve()
	return s
}

func (s *consoleServer) serve() {
	defer close(s.done)
	_ = s.ln.SetDeadline(time.Now().Add(cmdTimeout))
	conn, err := s.ln.AcceptUnix()
	if err != nil {
		s.err = err
		close(s.master)
		return
	}
	defer conn.Close()
	f, err := recvFD(conn)
	if err != nil {
		s.err = err
		close(s.master)
		return
	}
	s.master <- f
	defer f.Close()
	_ = f.SetReadDeadline(time.Now().Add(cmdTimeout))
	_, err = io.Copy(&s.buf, f)
	if err != nil && !errors.Is(err, unix.EIO) {
		s.err = err
	}
}

func recvFD(conn *net.UnixConn) (*os.File, error) {
	oob := make([]byte, unix.CmsgSpace(4))
	buf := make([]byte, 4096)
	_ = conn.SetReadDeadline(time.Now().Add(cmdTimeout))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, errors.New("no control message with the pty master")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, errors.New("no file descriptor in the control message")
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}

// getMaster waits for the pty master (to write input to it).
func (s *consoleServer) getMaster(t testing.TB) *os.File {
	t.Helper()
	select {
	case f, ok := <-s.master:
		if !ok {
			t.Fatalf("console socket: %v", s.err)
		}
		return f
	case <-time.After(cmdTimeout):
		t.Fatal("console socket: no pty master received")
	}
	return nil
}

// output waits until the terminal is closed (all slaves gone) and returns
// what was written to it.
func (s *consoleServer) output(t testing.TB) string {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(cmdTimeout):
		t.Fatal("console: terminal output did not end")
	}
	if s.err != nil {
		t.Fatalf("console: %v", s.err)
	}
	return s.buf.String()
}
