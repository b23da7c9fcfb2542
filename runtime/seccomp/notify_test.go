package seccomp

import (
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// struct seccomp_notif and seccomp_notif_resp (linux/seccomp.h); x/sys has
// the ioctl numbers but not the types.
type notifData struct {
	Nr   int32
	Arch uint32
	IP   uint64
	Args [6]uint64
}

type notif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Data  notifData
}

type notifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

func ioctl(fd int, req uint, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}

// recvNotif waits (at most 20s) for a notification on the listener.
func recvNotif(t *testing.T, fd int) notif {
	t.Helper()
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(pfd, 20000); err != nil || n != 1 {
		t.Fatalf("poll listener: %d %v", n, err)
	}
	var req notif
	if err := ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&req)); err != nil {
		t.Fatalf("SECCOMP_IOCTL_NOTIF_RECV: %v", err)
	}
	return req
}

// acceptListener accepts one connection on ln and returns the container
// process state and the descriptor that came with it.
func acceptListener(t *testing.T, ln *net.UnixListener) (specs.ContainerProcessState, int) {
	t.Helper()
	ln.SetDeadline(time.Now().Add(20 * time.Second))
	conn, err := ln.AcceptUnix()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	buf, oob := make([]byte, 64<<10), make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatalf("read state: %v", err)
	}
	rest, err := io.ReadAll(conn) // the spec lets the runtime send it in parts
	if err != nil {
		t.Fatalf("read state: %v", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages: %v %v", msgs, err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("SCM_RIGHTS: %v %v", fds, err)
	}
	t.Cleanup(func() { unix.Close(fds[0]) })
	var st specs.ContainerProcessState
	if err := json.Unmarshal(append(buf[:n], rest...), &st); err != nil {
		t.Fatalf("state JSON %q: %v", buf[:n], err)
	}
	return st, fds[0]
}

// The whole notify path: Load returns a listener, SendListener hands it with
// the state to an agent, the agent receives the notification of the
// filtered syscall and answers it with an error the syscall then returns.
func TestLoadNotify(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	sock := filepath.Join(tmp, "agent.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := denyMkdirat(specs.ActNotify, nil)
	cfg.ListenerPath, cfg.ListenerMetadata = sock, "agent-meta"
	dir := filepath.Join(tmp, "d")
	cmd, out, errb := startChild(t, childSpec{Config: cfg, Do: "mkdir", Path: dir, Mode: 0o711,
		State: `{"ociVersion":"1.2.0","id":"ctr-1","status":"creating","bundle":"/bundle"}`})
	st, fd := acceptListener(t, ln)
	pid := cmd.Process.Pid
	want := specs.ContainerProcessState{Version: specs.Version, Fds: []string{"seccompFd"}, Pid: pid, Metadata: "agent-meta",
		State: specs.State{Version: "1.2.0", ID: "ctr-1", Status: "creating", Pid: pid, Bundle: "/bundle"}}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("state:\n got %+v\nwant %+v", st, want)
	}

	req := recvNotif(t, fd)
	if req.Data.Nr != unix.SYS_MKDIRAT || req.Data.Arch != auditArchX86_64 || req.Pid != uint32(pid) || req.Data.Args[2] != 0o711 {
		t.Errorf("notification %+v: want mkdirat(…, 0711) by pid %d", req, pid)
	}
	resp := notifResp{ID: req.ID, Error: -int32(unix.EXDEV)}
	if err := ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&resp)); err != nil {
		t.Fatalf("SECCOMP_IOCTL_NOTIF_SEND: %v", err)
	}
	r := waitChild(t, cmd, out, errb)
	if r.errno != int(unix.EXDEV) {
		t.Fatalf("mkdirat: errno %d, want the agent's EXDEV; stdout %q stderr %q", r.errno, r.stdout, r.stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the directory was made: %v", err)
	}
}

func TestNotifStructSizes(t *testing.T) {
	t.Parallel()
	// The ioctl numbers encode the sizes: 0x50 and 0x18.
	if s := unsafe.Sizeof(notif{}); s != (unix.SECCOMP_IOCTL_NOTIF_RECV>>16)&0x3fff {
		t.Errorf("sizeof(notif) = %d", s)
	}
	if s := unsafe.Sizeof(notifResp{}); s != (unix.SECCOMP_IOCTL_NOTIF_SEND>>16)&0x3fff {
		t.Errorf("sizeof(notifResp) = %d", s)
	}
}

func TestSendListenerErrors(t *testing.T) {
	t.Parallel()
	if err := SendListener(filepath.Join(t.TempDir(), "none.sock"), 0, []byte(`{}`), ""); err == nil {
		t.Error("sent to a socket that does not exist")
	}
	if err := SendListener("/x", 0, []byte(`{`), ""); err == nil {
		t.Error("sent a state that is not JSON")
	}
}
