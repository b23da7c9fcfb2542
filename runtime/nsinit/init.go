package nsinit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Main is `corral init`. The caller must have locked the main goroutine to
// the main OS thread before the runtime started other goroutines (see
// cmd/corral): capabilities, credentials and some namespaces are per thread,
// and the thread that sets them up is the one that calls execve. Main never
// returns.
func Main() {
	CloseExeFD()
	fd, err := strconv.Atoi(os.Getenv(EnvSyncFD))
	if err != nil {
		fmt.Fprintln(os.Stderr, "corral init: this command is internal to the runtime")
		os.Exit(1)
	}
	os.Unsetenv(EnvSyncFD)
	unix.CloseOnExec(fd)
	sync := newSyncConn(os.NewFile(uintptr(fd), "sync"))
	cfg, err := readConfig(sync.dec)
	if err != nil {
		sync.fail(fmt.Errorf("read init config: %w", err))
	}
	switch cfg.Mode {
	case ModeCreate:
		err = runCreate(&cfg, sync)
	case ModeExec:
		err = runExec(&cfg, sync)
	default:
		err = fmt.Errorf("unknown init mode %q", cfg.Mode)
	}
	// Both modes end in execve; reaching here means a failure.
	sync.fail(err)
}

// syncConn is init's end of the sync socket: JSON messages, one per line.
type syncConn struct {
	f      *os.File
	doneFD int // after start, errors also go to the done fifo
	dec    *json.Decoder
	enc    *json.Encoder
}

func newSyncConn(f *os.File) *syncConn {
	return &syncConn{f: f, dec: json.NewDecoder(bufio.NewReader(f)), enc: json.NewEncoder(f)}
}

func (s *syncConn) send(m Msg) error {
	if err := s.enc.Encode(m); err != nil {
		return fmt.Errorf("send %s to runtime: %w", m.Type, err)
	}
	return nil
}

// expect reads the next message and checks its type.
func (s *syncConn) expect(t MsgType) error {
	var m Msg
	if err := s.dec.Decode(&m); err != nil {
		return fmt.Errorf("wait for %s from runtime: %w", t, err)
	}
	if m.Type != t {
		return fmt.Errorf("runtime sent %q, want %q", m.Type, t)
	}
	return nil
}

// sendFD hands a descriptor to the runtime (see MsgSeccompListener). It
// runs right after a seccomp filter with a notify listener was loaded:
// until the agent holds the listener nobody answers notified syscalls, and
// read or write may be among them. So it uses only sendmsg and recvmsg.
func (s *syncConn) sendFD(t MsgType, fd int) error {
	sock := int(s.f.Fd())
	line, err := json.Marshal(Msg{Type: t})
	if err != nil {
		return err
	}
	if err := unix.Sendmsg(sock, append(line, '\n'), nil, nil, 0); err != nil {
		return fmt.Errorf("send %s to runtime: %w", t, err)
	}
	if err := recvMsg(sock, MsgContinue); err != nil {
		return err
	}
	if err := unix.Sendmsg(sock, []byte{0}, unix.UnixRights(fd), nil, 0); err != nil {
		return fmt.Errorf("send %s descriptor to runtime: %w", t, err)
	}
	return recvMsg(sock, MsgContinue)
}

// recvMsg reads one JSON line with recvmsg only and checks its type. The
// runtime sends nothing unasked, so the decoder has nothing buffered.
func recvMsg(sock int, want MsgType) error {
	var line []byte
	buf := make([]byte, 256)
	for !bytes.HasSuffix(line, []byte("\n")) {
		n, _, _, _, err := unix.Recvmsg(sock, buf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return fmt.Errorf("wait for %s from runtime: %v", want, err)
		}
		line = append(line, buf[:n]...)
	}
	var m Msg
	if err := json.Unmarshal(line, &m); err != nil || m.Type != want {
		return fmt.Errorf("runtime sent %q, want %q", line, want)
	}
	return nil
}

// fail reports err to the runtime and exits.
func (s *syncConn) fail(err error) {
	if err == nil {
		err = errors.New("init ended without running the process")
	}
	if s.doneFD != 0 {
		unix.Write(s.doneFD, []byte(err.Error()))
	}
	if s.send(Msg{Type: MsgError, Error: err.Error()}) != nil {
		fmt.Fprintln(os.Stderr, "corral init:", err)
	}
	os.Exit(1)
}

// runCreate sets up a new container, waits for start and execs its process.
func runCreate(cfg *Config, sync *syncConn) error {
	spec := cfg.Spec
	if spec == nil || spec.Process == nil || spec.Linux == nil {
		return errors.New("config has no process or linux section")
	}
	if err := enterOwnNamespaces(cfg); err != nil {
		return err
	}
	ownMounts := hasNamespace(spec, specs.MountNamespace)
	var devRO *pendingRemount
	if ownMounts {
		var err error
		if devRO, err = buildRootfs(cfg, sync); err != nil {
			return err
		}
		defer devRO.Close()
	} else if err := warnSharedMounts(spec, sync); err != nil {
		return err
	}
	if err := sync.send(Msg{Type: MsgCreateRuntime}); err != nil {
		return err
	}
	if err := sync.expect(MsgContinue); err != nil {
		return err
	}
	if spec.Hooks != nil {
		// As runc, createContainer hooks run from the rootfs directory.
		if err := os.Chdir(cfg.Rootfs); err != nil {
			return fmt.Errorf("chdir to rootfs for createContainer hooks: %w", err)
		}
		if err := RunHooks(spec.Hooks.CreateContainer, cfg.State); err != nil {
			return fmt.Errorf("createContainer hook: %w", err)
		}
	}
	if err := jail(spec, cfg, ownMounts); err != nil {
		return err
	}
	if err := setUTS(spec); err != nil {
		return err
	}
	p, err := prepareProcess(cfg)
	if err != nil {
		return err
	}
	// /dev/console is bound by now: a read-only /dev may become so.
	if err := devRO.finishReadonly(); err != nil {
		return err
	}
	if err := p.finalize(sync); err != nil {
		return err
	}
	if err := sync.send(Msg{Type: MsgReady}); err != nil {
		return err
	}
	if err := waitStart(cfg); err != nil {
		return err
	}
	sync.doneFD = cfg.DoneFD
	if spec.Hooks != nil && cfg.State != nil {
		cfg.State.Status = specs.StateCreated
		if err := RunHooks(spec.Hooks.StartContainer, cfg.State); err != nil {
			return fmt.Errorf("startContainer hook: %w", err)
		}
	}
	return p.exec()
}

// buildRootfs receives the bind sources the runtime opened, if any, and
// builds the rootfs; the sources are closed before any hook or user code
// runs.
func buildRootfs(cfg *Config, sync *syncConn) (*pendingRemount, error) {
	srcs, err := receiveMountSources(cfg, sync)
	if err != nil {
		return nil, err
	}
	defer srcs.Close()
	return prepareRootfs(cfg.Spec, cfg.Rootfs, srcs, cfg.CgroupMounts)
}

// runExec runs an extra process in a container whose namespaces nsenter
// already joined.
func runExec(cfg *Config, sync *syncConn) error {
	if cfg.NoPivot {
		if err := unix.Chroot(cfg.Rootfs); err != nil {
			return fmt.Errorf("chroot into %s: %w", cfg.Rootfs, err)
		}
	}
	if err := os.Chdir("/"); err != nil {
		return fmt.Errorf("chdir to container root: %w", err)
	}
	p, err := prepareProcess(cfg)
	if err != nil {
		return err
	}
	if err := p.finalize(sync); err != nil {
		return err
	}
	if err := sync.send(Msg{Type: MsgReady}); err != nil {
		return err
	}
	return p.exec()
}

// jail enters the rootfs. Without a mount namespace of its own the
// container shares the host's mounts: it is only chrooted, since pivot_root,
// moving mounts or masking paths would change the host's mount table.
func jail(spec *specs.Spec, cfg *Config, ownMounts bool) error {
	if !ownMounts {
		if err := unix.Chroot(cfg.Rootfs); err != nil {
			return fmt.Errorf("chroot into %s: %w", cfg.Rootfs, err)
		}
		return os.Chdir("/")
	}
	if err := enterRootfs(cfg.Rootfs, cfg.NoPivot); err != nil {
		return err
	}
	return finishRootfs(spec)
}

// warnSharedMounts tells the runtime which parts of the config a container
// without its own mount namespace does not get.
func warnSharedMounts(spec *specs.Spec, sync *syncConn) error {
	var skipped []string
	if len(spec.Mounts) > 0 {
		skipped = append(skipped, "mounts")
	}
	if l := spec.Linux; len(l.MaskedPaths) > 0 || len(l.ReadonlyPaths) > 0 || len(l.Sysctl) > 0 || len(l.Devices) > 0 {
		skipped = append(skipped, "maskedPaths, readonlyPaths, sysctl and devices")
	}
	if spec.Root.Readonly {
		skipped = append(skipped, "root.readonly")
	}
	if len(skipped) == 0 {
		return nil
	}
	msg := fmt.Sprintf("no mount namespace in linux.namespaces: the container shares the host's mounts and is only chrooted; not applied: %s", strings.Join(skipped, "; "))
	return sync.send(Msg{Type: MsgWarning, Error: msg})
}

// enterOwnNamespaces unshares the namespace that cannot be entered at clone
// time: cgroup, after the runtime placed us in our cgroup, so that it becomes
// the namespace's root. A new time namespace is not made here: its offsets
// must be written before a process enters it, and before Linux 6.2 execve
// does not enter it, so runtime/nsenter unshares it and forks init into it.
func enterOwnNamespaces(cfg *Config) error {
	if cfg.NewCgroupNS {
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("unshare cgroup namespace: %w", err)
		}
	}
	return nil
}

func hasNamespace(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

func setUTS(spec *specs.Spec) error {
	if spec.Hostname == "" && spec.Domainname == "" {
		return nil
	}
	if !hasNamespace(spec, specs.UTSNamespace) {
		return errors.New("hostname or domainname needs a uts namespace")
	}
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("set hostname %q: %w", spec.Hostname, err)
		}
	}
	if spec.Domainname != "" {
		if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
			return fmt.Errorf("set domainname %q: %w", spec.Domainname, err)
		}
	}
	return nil
}

// waitStart blocks until `start` writes a byte into the exec fifo.
func waitStart(cfg *Config) error {
	if cfg.FifoFD == 0 {
		return nil
	}
	if err := unix.SetNonblock(cfg.FifoFD, false); err != nil {
		return fmt.Errorf("exec fifo: %w", err)
	}
	r := os.NewFile(uintptr(cfg.FifoFD), "exec.fifo")
	buf := make([]byte, 1)
	n, err := r.Read(buf)
	if err != nil || n != 1 {
		return fmt.Errorf("wait for start on exec fifo: read %d bytes: %v", n, err)
	}
	return nil
}
