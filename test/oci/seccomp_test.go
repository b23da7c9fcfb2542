package oci_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// seccompCtr is a container whose config has profile as linux.seccomp and
// that makes no core dump when seccomp kills it.
func seccompCtr(t *testing.T, r *rt, profile *specs.LinuxSeccomp) *ctr {
	t.Helper()
	c := newCtr(t, r)
	c.spec.Linux.Seccomp = profile
	c.spec.Process.Rlimits = append(c.spec.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_CORE"})
	return c
}

func deny(act specs.LinuxSeccompAction, errno *uint, names ...string) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls:      []specs.LinuxSyscall{{Names: names, Action: act, ErrnoRet: errno}}}
}

func uintp(v uint) *uint { return &v }

// mkdirScript tries mkdir, then shows the container still works otherwise.
const mkdirScript = `mkdir /dev/shm/x 2>&1; echo "rc=$?"; echo hello >/dev/shm/f && cat /dev/shm/f; ls -d /dev/shm/x 2>&1; true`

func TestSeccompErrno(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		errno *uint
		msg   string
	}{{"default", nil, "Operation not permitted"}, {"custom", uintp(38), "Function not implemented"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRT(t)
			c := seccompCtr(t, r, deny(specs.ActErrno, tc.errno, "mkdir", "mkdirat"))
			out := c.args("sh", "-c", mkdirScript).output()
			contains(t, "output", out, tc.msg)
			contains(t, "output", out, "rc=1")
			contains(t, "output", out, "hello")
			contains(t, "output", out, "No such file") // x was not made
		})
	}
}

// An argument filter: personality is denied for PER_LINUX32 (8) only, and
// for a value that differs from 0 in the high 32 bits only, which must not
// catch personality(0).
func TestSeccompArgFilter(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	c := seccompCtr(t, r, &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"personality"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}},
		{Names: []string{"personality"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x1_00000000, Op: specs.OpEqualTo}}},
	}})
	out := c.args("sh", "-c", `linux32 true 2>&1; echo "l32=$?"; linux64 true 2>&1; echo "l64=$?"`).output()
	contains(t, "output", out, "l32=1")
	contains(t, "output", out, "Operation not permitted")
	contains(t, "output", out, "l64=0")
}

// SCMP_ACT_KILL and its variants end the process with SIGSYS.
func TestSeccompKill(t *testing.T) {
	t.Parallel()
	for _, act := range []specs.LinuxSeccompAction{specs.ActKill, specs.ActKillThread, specs.ActKillProcess} {
		t.Run(string(act), func(t *testing.T) {
			t.Parallel()
			r := newRT(t)
			c := seccompCtr(t, r, deny(act, nil, "mkdir", "mkdirat"))
			res := c.args("mkdir", "/dev/shm/x").runC(nil)
			if res.code != 128+int(unix.SIGSYS) {
				t.Fatalf("want exit 128+SIGSYS (%d): %v", 128+int(unix.SIGSYS), res)
			}
			c.assertGone() // run deleted it
		})
	}
}

// struct seccomp_notif and seccomp_notif_resp (linux/seccomp.h).
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// agent is a seccomp agent listening at path: it takes the listener from the
// runtime and answers every notification with errno.
type agent struct {
	path  string
	ln    *net.UnixListener
	errno unix.Errno
	mu    sync.Mutex
	// What it saw, guarded by mu.
	state  specs.ContainerProcessState
	notifs []seccompNotif
	err    error
	done   chan struct{}
}

func startAgent(t *testing.T, dir string, errno unix.Errno) *agent {
	t.Helper()
	a := &agent{path: filepath.Join(dir, "agent.sock"), errno: errno, done: make(chan struct{})}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: a.path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	a.ln = ln
	stop := make(chan struct{})
	go a.serve(stop)
	t.Cleanup(func() {
		close(stop)
		ln.Close()
		<-a.done
	})
	return a
}

func (a *agent) fail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err == nil {
		a.err = err
	}
}

func (a *agent) serve(stop chan struct{}) {
	defer close(a.done)
	a.ln.SetDeadline(time.Now().Add(cmdTimeout))
	conn, err := a.ln.AcceptUnix()
	if err != nil {
		a.fail(err)
		return
	}
	fd, err := a.receive(conn)
	conn.Close()
	if err != nil {
		a.fail(err)
		return
	}
	defer unix.Close(fd)
	for {
		select {
		case <-stop:
			return
		default:
		}
		if err := a.answer(fd); err != nil {
			a.fail(err)
			return
		}
	}
}

// receive reads the container process state and the listener fd.
func (a *agent) receive(conn *net.UnixConn) (int, error) {
	conn.SetDeadline(time.Now().Add(cmdTimeout))
	buf, oob := make([]byte, 64<<10), make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return -1, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return -1, errors.New("no SCM_RIGHTS message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return -1, errors.New("not one descriptor in SCM_RIGHTS")
	}
	// One JSON value, maybe in several parts. Reading up to EOF would hang
	// on runc 1.1.5, which keeps the connection open while the container
	// runs.
	var st specs.ContainerProcessState
	err = json.NewDecoder(io.MultiReader(bytes.NewReader(buf[:n]), conn)).Decode(&st)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.state = st
	return fds[0], err
}

// answer waits a little for a notification and answers it.
func (a *agent) answer(fd int) error {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(pfd, 100)
	if err == unix.EINTR || n == 0 {
		return nil
	}
	if err != nil || pfd[0].Revents&unix.POLLIN == 0 {
		if pfd[0].Revents&unix.POLLHUP != 0 {
			time.Sleep(50 * time.Millisecond) // every filtered process is gone
			return nil
		}
		return err
	}
	var req seccompNotif
	if err := ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&req)); err != nil {
		return nil // the process went away meanwhile
	}
	a.mu.Lock()
	a.notifs = append(a.notifs, req)
	a.mu.Unlock()
	resp := seccompNotifResp{ID: req.ID, Error: -int32(a.errno)}
	ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&resp)) // ENOENT if it went away
	return nil
}

func ioctl(fd int, req uint, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}

// listenerPath: the runtime hands the listener to the agent with the
// container's state; the agent's answer is what mkdir returns.
func TestSeccompNotify(t *testing.T) {
	t.Parallel()
	r := newRT(t)
	a := startAgent(t, r.tmp, unix.EXDEV)
	profile := deny(specs.ActNotify, nil, "mkdir", "mkdirat")
	profile.ListenerPath, profile.ListenerMetadata = a.path, "agent-metadata"
	c := seccompCtr(t, r, profile)
	out := c.args("sh", "-c", mkdirScript).output()
	contains(t, "output", out, "cross-device link")
	contains(t, "output", out, "rc=1")
	contains(t, "output", out, "hello")

	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		t.Fatalf("agent: %v", a.err)
	}
	st := a.state
	if st.Version == "" || len(st.Fds) != 1 || st.Fds[0] != "seccompFd" || st.Metadata != "agent-metadata" ||
		st.State.ID != c.id || st.Pid <= 0 || st.State.Pid != st.Pid {
		t.Errorf("container process state: %+v", st)
	}
	if len(a.notifs) == 0 {
		t.Fatal("the agent got no notification")
	}
	n := a.notifs[0]
	if (n.Nr != unix.SYS_MKDIR && n.Nr != unix.SYS_MKDIRAT) || n.Arch != 0xc000003e {
		t.Errorf("notification %+v, want mkdir on x86_64", n)
	}
}

// An invalid profile makes create fail with a message that names the
// culprit, and leaves nothing behind.
func TestSeccompInvalidProfile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, mention string
		edit          func(p *specs.LinuxSeccomp)
	}{
		{"action", "SCMP_ACT_BOGUS", func(p *specs.LinuxSeccomp) { p.Syscalls[0].Action = "SCMP_ACT_BOGUS" }},
		{"defaultAction", "SCMP_ACT_NOPE", func(p *specs.LinuxSeccomp) { p.DefaultAction = "SCMP_ACT_NOPE" }},
		{"arch", "SCMP_ARCH_VAX", func(p *specs.LinuxSeccomp) { p.Architectures = append(p.Architectures, "SCMP_ARCH_VAX") }},
		{"operator", "SCMP_CMP_XOR", func(p *specs.LinuxSeccomp) {
			p.Syscalls[0].Args = []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: "SCMP_CMP_XOR"}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRT(t)
			p := deny(specs.ActErrno, nil, "mkdir")
			tc.edit(p)
			c := seccompCtr(t, r, p)
			c.args("true")
			res := c.create()
			if res.code == 0 {
				t.Fatalf("create succeeded: %v", res)
			}
			if !strings.Contains(res.stderr, tc.mention) {
				t.Errorf("error does not name %s: %v", tc.mention, res)
			}
			c.assertGone()
		})
	}
}
