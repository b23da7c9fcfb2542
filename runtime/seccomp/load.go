package seccomp

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Load installs the filter on the calling thread. The caller must have set
// no_new_privs (prctl PR_SET_NO_NEW_PRIVS) or hold CAP_SYS_ADMIN.
//
// Without SECCOMP_FILTER_FLAG_TSYNC in config.flags only the calling thread
// is filtered, as runc does: call Load on the locked OS thread that will
// execve the container's process (execve keeps only that thread), as late
// as possible before it. Threads made later by that thread inherit the
// filter. With TSYNC every thread of the process gets it.
// The config's SECCOMP_FILTER_FLAG_LOG, _SPEC_ALLOW and _WAIT_KILLABLE_RECV
// are passed on.
//
// When a rule uses SCMP_ACT_NOTIFY, Load returns the listener file descriptor
// (SECCOMP_FILTER_FLAG_NEW_LISTENER, close-on-exec); hand it to the agent
// at config.listenerPath (SendListener) before the filtered thread makes a
// notifying syscall, or that syscall waits until the descriptor is closed.
// Otherwise it returns -1.
func (p *Program) Load() (listenerFD int, err error) {
	if len(p.filter) == 0 {
		return -1, errors.New("load seccomp filter: empty program")
	}
	prog := unix.SockFprog{Len: uint16(len(p.filter)), Filter: &p.filter[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, p.flags, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(&prog)
	runtime.KeepAlive(p.filter)
	switch {
	case errno == unix.EACCES:
		return -1, fmt.Errorf("load seccomp filter: %w (no_new_privs is not set and CAP_SYS_ADMIN is missing)", errno)
	case errno == unix.EINVAL && p.flags&^unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0:
		return -1, fmt.Errorf("load seccomp filter with flags %#x: %w (a flag this kernel does not know?)", p.flags, errno)
	case errno != 0:
		return -1, fmt.Errorf("load seccomp filter: %w", errno)
	case p.notify:
		return int(r), nil
	case p.flags&unix.SECCOMP_FILTER_FLAG_TSYNC != 0 && r != 0:
		return -1, fmt.Errorf("load seccomp filter: thread %d cannot be synchronized", r)
	}
	return -1, nil
}

// SendListener sends the seccomp listener fd to the agent at path, as the
// runtime spec requires: it connects to the unix stream socket, sends the
// container process state (JSON: ociVersion, fds ["seccompFd"], pid,
// metadata, and state, the container's state JSON the caller gives) with fd
// as SCM_RIGHTS, then closes the connection. fd stays open.
func SendListener(path string, fd int, state []byte, metadata string) error {
	var st specs.State
	if err := json.Unmarshal(state, &st); err != nil {
		return fmt.Errorf("send seccomp listener: decode container state: %w", err)
	}
	msg, err := json.Marshal(specs.ContainerProcessState{
		Version:  specs.Version,
		Fds:      []string{specs.SeccompFdName},
		Pid:      st.Pid,
		Metadata: metadata,
		State:    st,
	})
	if err != nil {
		return fmt.Errorf("send seccomp listener: encode state: %w", err)
	}
	sock, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("send seccomp listener: socket: %w", err)
	}
	defer unix.Close(sock)
	if err := unix.Connect(sock, &unix.SockaddrUnix{Name: path}); err != nil {
		return fmt.Errorf("send seccomp listener: failed to connect with seccomp agent at %s: %w", path, err)
	}
	if err := sendAll(sock, msg, unix.UnixRights(fd)); err != nil {
		return fmt.Errorf("send seccomp listener to %s: %w", path, err)
	}
	return nil
}

// sendAll writes msg, the descriptors in oob with the first part only.
func sendAll(sock int, msg, oob []byte) error {
	for len(msg) > 0 {
		n, err := unix.SendmsgN(sock, msg, oob, nil, unix.MSG_NOSIGNAL)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		msg, oob = msg[n:], nil
	}
	return nil
}
