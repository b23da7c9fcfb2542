package nsinit

// Bind sources the runtime opens for init. In a user namespace init is the
// mapped root, which cannot reach a source below a directory only the
// host's root may search (mode 0700, owned by root). As runc does, the
// runtime opens such sources itself, O_PATH, in init's mount namespace
// (a descriptor of another mount namespace cannot be bind-mounted), and
// init mounts from the descriptor's /proc/self/fd link instead of the path.

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// mountSources maps indexes into spec.Mounts to the O_PATH handles of
// their sources.
type mountSources map[int]*os.File

// Close closes every handle.
func (s mountSources) Close() {
	for i, f := range s {
		f.Close()
		delete(s, i)
	}
}

// receiveMountSources asks the runtime for the sources of
// cfg.MountSources and receives them (see MsgMountSources).
func receiveMountSources(cfg *Config, sync *syncConn) (mountSources, error) {
	if len(cfg.MountSources) == 0 {
		return nil, nil
	}
	if err := sync.send(Msg{Type: MsgMountSources}); err != nil {
		return nil, err
	}
	srcs := mountSources{}
	for _, i := range cfg.MountSources {
		f, err := recvMountSource(int(sync.f.Fd()))
		if err == nil && (i < 0 || i >= len(cfg.Spec.Mounts) || srcs[i] != nil) {
			err = errors.New("no such bind mount")
		}
		if err != nil {
			if f != nil {
				f.Close()
			}
			srcs.Close()
			return nil, fmt.Errorf("receive the source of mounts[%d]: %w", i, err)
		}
		if f != nil {
			srcs[i] = f
		}
	}
	return srcs, nil
}

// recvMountSource reads one byte and the descriptor it may carry, with
// recvmsg only: the runtime sends these unasked by the JSON decoder, which
// has nothing buffered since init's request.
func recvMountSource(sock int) (*os.File, error) {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, flags, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, io.ErrUnexpectedEOF
		}
		fds, err := Rights(oob[:oobn])
		if err != nil {
			return nil, err
		}
		switch {
		case buf[0] == 0 && len(fds) == 0:
			return nil, nil
		case buf[0] == 1 && len(fds) == 1 && flags&unix.MSG_CTRUNC == 0:
			return os.NewFile(uintptr(fds[0]), "mount-source"), nil
		}
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("malformed message (byte %d, %d descriptors)", buf[0], len(fds))
	}
}

// Rights returns the descriptors of the SCM_RIGHTS messages in oob, the
// control data of one recvmsg; other control messages are passed over.
// The runtime's standby (runcli) reads its request's stdio with it too.
func Rights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parse control message: %w", err)
	}
	var fds []int
	for i := range msgs {
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			continue
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

// bindSource is what a bind mount is made from: the handle the runtime
// opened, else the spec's path.
func bindSource(m string, src *os.File) string {
	if src != nil {
		return procFD(src)
	}
	return m
}
