package runtime

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/corral-dev/corral/runtime/cgroups"
	"github.com/corral-dev/corral/runtime/nsenter"
	"github.com/corral-dev/corral/runtime/nsinit"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cloneFlags maps the namespaces that can be created at clone time. A
// cgroup namespace is unshared by init itself, a time namespace by nsenter
// (see spawner.viaNsenter).
var cloneFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.PIDNamespace: unix.CLONE_NEWPID, specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace: unix.CLONE_NEWNS, specs.IPCNamespace: unix.CLONE_NEWIPC,
	specs.UTSNamespace: unix.CLONE_NEWUTS, specs.UserNamespace: unix.CLONE_NEWUSER,
}

// nsFile maps a namespace type to its name under /proc/<pid>/ns.
var nsFile = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.NetworkNamespace: "net", specs.MountNamespace: "mnt",
	specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.UserNamespace: "user",
	specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
}

// spawner starts `corral init` with its descriptors: stdio, the preserved
// descriptors 3..3+preserve-1, the sync socket, then extra.
type spawner struct {
	stdio    Stdio
	preserve int
	extra    []*os.File
	cg       *cgroups.Manager
	// thread, when set, is a thread already entering cg (see
	// cgroups.Manager.EnterThread) that init is to be forked from.
	thread *cgroups.ThreadIn
	// seal, when set, is the sealed binary to run init from, under way.
	seal *pendingSeal

	newFlags uintptr // CLONE_NEW* flags, CLONE_NEWTIME included
	joins    []nsenter.Join
	uidMaps  []specs.LinuxIDMapping
	gidMaps  []specs.LinuxIDMapping
	// timeOffsets are those of a new time namespace, sorted by clock.
	timeOffsets []nsenter.TimeOffset
}

// fd is the descriptor number init sees for extra[i].
func (s *spawner) fd(i int) int { return 3 + s.preserve + 1 + i }

// namespaces records which namespaces to create and which to join.
func (s *spawner) namespaces(spec *specs.Spec) error {
	for _, ns := range spec.Linux.Namespaces {
		if ns.Path != "" {
			s.joins = append(s.joins, nsenter.Join{Type: nsFile[ns.Type], Path: ns.Path})
			continue
		}
		s.newFlags |= cloneFlags[ns.Type]
		if ns.Type == specs.TimeNamespace {
			s.newFlags |= unix.CLONE_NEWTIME
		}
	}
	if s.newFlags&unix.CLONE_NEWUSER != 0 {
		s.uidMaps, s.gidMaps = spec.Linux.UIDMappings, spec.Linux.GIDMappings
	}
	if s.newFlags&unix.CLONE_NEWTIME != 0 {
		return s.setTimeOffsets(spec.Linux.TimeOffsets)
	}
	return nil
}

// setTimeOffsets checks and records the offsets of a new time namespace.
func (s *spawner) setTimeOffsets(offsets map[string]specs.LinuxTimeOffset) error {
	for _, clock := range slices.Sorted(maps.Keys(offsets)) {
		if clock != "monotonic" && clock != "boottime" {
			return fmt.Errorf("%w: linux.timeOffsets: unknown clock %q (want monotonic or boottime)", ErrBadConfig, clock)
		}
		off := offsets[clock]
		if off.Nanosecs >= 1e9 {
			return fmt.Errorf("%w: linux.timeOffsets.%s.nanosecs %d: a second or more", ErrBadConfig, clock, off.Nanosecs)
		}
		s.timeOffsets = append(s.timeOffsets, nsenter.TimeOffset{Clock: clock, Secs: off.Secs, Nanosecs: off.Nanosecs})
	}
	return nil
}

// viaNsenter tells whether init goes through the nsenter constructor rather
// than clone flags: to join namespaces, or to make a time namespace, whose
// offsets must be written before any process is in it and which execve
// enters only since Linux 6.2 (so nsenter forks into it).
func (s *spawner) viaNsenter() bool {
	return len(s.joins) > 0 || s.newFlags&unix.CLONE_NEWTIME != 0
}

// initProc is a started init process and the runtime's end of its socket.
type initProc struct {
	cmd  *exec.Cmd
	pid  int // differs from cmd's pid when nsenter forked
	sync *os.File
	r    *bufio.Reader
}

// start runs init. Without namespaces to join, new ones come from clone
// flags; otherwise the nsenter constructor joins and unshares them. Either
// way the process is in its cgroup before it does anything.
func (s *spawner) start() (*initProc, error) {
	if s.cg != nil && s.thread == nil {
		s.thread = s.cg.EnterThread()
	}
	defer func() {
		if s.thread != nil { // not used: let it go
			s.thread.Release()
			s.thread = nil
		}
	}()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("create sync socket: %w", err)
	}
	parent, child := os.NewFile(uintptr(pair[0]), "sync"), os.NewFile(uintptr(pair[1]), "sync-child")
	defer child.Close()
	cmd, err := s.command(child)
	if err != nil {
		parent.Close()
		return nil, err
	}
	if s.viaNsenter() {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			parent.Close()
			return nil, fmt.Errorf("become subreaper: %w", err)
		}
	}
	release, err := sealExecutableFrom(cmd, s.seal)
	if err != nil {
		parent.Close()
		return nil, err
	}
	placed, err := s.startInCgroup(cmd)
	release()
	if err != nil {
		parent.Close()
		return nil, fmt.Errorf("start init: %w", err)
	}
	p := &initProc{cmd: cmd, pid: cmd.Process.Pid, sync: parent, r: bufio.NewReader(parent)}
	// The wording of runc's debug lines, which its callers and tests look for.
	slog.Debug("nsexec container setup: init started", "pid", p.pid, "joins", len(s.joins))
	if err := s.settle(p, !placed); err != nil {
		return p, err
	}
	return p, nil
}

// startInCgroup starts init already in its cgroup where it can (from the
// thread of cgroups.Manager.EnterThread), else plainly; placed tells which.
func (s *spawner) startInCgroup(cmd *exec.Cmd) (placed bool, err error) {
	if s.thread != nil {
		t := s.thread
		s.thread = nil
		placed, err = t.Start(func(unifiedFD int) error {
			if unifiedFD < 0 {
				return cmd.Start()
			}
			cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, unifiedFD
			if err := cmd.Start(); err != nil {
				return fmt.Errorf("in cgroup %s: %w", s.cg.Paths()[cgroups.UnifiedKey], err)
			}
			return nil
		})
	}
	if !placed {
		err = cmd.Start()
	}
	return placed, err
}

// settle puts init in its cgroup unless it started there and, when init
// goes through nsenter, runs the exchange: the namespaces to join, those to
// unshare (all but cgroup, which init unshares once in its cgroup) and the
// offsets of a new time namespace.
func (s *spawner) settle(p *initProc, join bool) error {
	if s.cg != nil && join {
		if err := s.cg.Join(p.cmd.Process.Pid); err != nil {
			return fmt.Errorf("join cgroup: %w", err)
		}
	}
	if !s.viaNsenter() {
		return nil
	}
	req := nsenter.Request{Joins: s.joins, Unshare: s.newFlags &^ unix.CLONE_NEWCGROUP, TimeOffsets: s.timeOffsets}
	if _, err := req.WriteTo(p.sync); err != nil {
		return err
	}
	p.sync.SetReadDeadline(time.Now().Add(30 * time.Second))
	pid, err := nsenter.Await(p.r, p.sync, s.writeMaps)
	p.sync.SetReadDeadline(time.Time{})
	if err != nil {
		return fmt.Errorf("enter namespaces: %w", err)
	}
	p.pid = pid
	return nil
}

func (s *spawner) command(child *os.File) (*exec.Cmd, error) {
	if err := closeInheritedFDs(s.preserve); err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: []string{"corral", "init"}}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.stdio.In, s.stdio.Out, s.stdio.Err
	for i := 0; i < s.preserve; i++ {
		f := os.NewFile(uintptr(3+i), "preserved-"+strconv.Itoa(3+i))
		if _, err := f.Stat(); err != nil {
			return nil, fmt.Errorf("--preserve-fds: descriptor %d is not open", 3+i)
		}
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, child)
	cmd.ExtraFiles = append(cmd.ExtraFiles, s.extra...)
	syncFD := strconv.Itoa(3 + s.preserve)
	// Init runs on one thread (see cmd/corral); saying so before the Go
	// runtime starts spares it sizing itself from cgroup files and then
	// stopping the world to shrink. The user process gets its own
	// environment, never init's.
	cmd.Env = []string{nsinit.EnvSyncFD + "=" + syncFD, "GOMAXPROCS=1"}
	attr := &syscall.SysProcAttr{}
	if s.viaNsenter() {
		cmd.Env = append(cmd.Env, nsenter.Env+"="+syncFD)
	} else {
		attr.Cloneflags = s.newFlags
		if s.newFlags&unix.CLONE_NEWUSER != 0 {
			attr.UidMappings = idMaps(s.uidMaps)
			attr.GidMappings = idMaps(s.gidMaps)
			attr.GidMappingsEnableSetgroups = true
			attr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
		}
	}
	cmd.SysProcAttr = attr
	return cmd, nil
}

func idMaps(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, x := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(x.ContainerID), HostID: int(x.HostID), Size: int(x.Size)}
	}
	return out
}

// writeMaps writes the id maps of a user namespace nsenter unshared.
func (s *spawner) writeMaps(pid int) error {
	write := func(name string, maps []specs.LinuxIDMapping) error {
		var text string
		for _, m := range maps {
			text += fmt.Sprintf("%d %d %d\n", m.ContainerID, m.HostID, m.Size)
		}
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/%s", pid, name), []byte(text), 0); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		return nil
	}
	if err := write("uid_map", s.uidMaps); err != nil {
		return err
	}
	return write("gid_map", s.gidMaps)
}

// handlers serve init's requests during the handshake; nil ones are no-ops.
type handlers struct {
	createRuntime func() error
	// listener receives a seccomp notify listener init installed.
	listener func(fd int) error
}

// handshake sends the config and serves init's requests until it is ready.
func (p *initProc) handshake(cfg *nsinit.Config, h handlers) error {
	planMountSources(cfg)
	if err := json.NewEncoder(p.sync).Encode(cfg); err != nil {
		return fmt.Errorf("send config to init: %w", err)
	}
	dec := json.NewDecoder(p.r)
	for {
		var m nsinit.Msg
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("init exited before it was ready%s", p.exitNote())
			}
			return fmt.Errorf("read from init: %w", err)
		}
		switch m.Type {
		case nsinit.MsgReady:
			slog.Debug("child process in init(): setup done", "mode", cfg.Mode)
			return nil
		case nsinit.MsgWarning:
			slog.Warn(m.Error)
		case nsinit.MsgError:
			return errors.New(m.Error)
		case nsinit.MsgCreateRuntime:
			if err := runHandler(h.createRuntime); err != nil {
				return err
			}
			if err := p.resume(); err != nil {
				return err
			}
		case nsinit.MsgSeccompListener:
			if err := p.takeListener(h.listener); err != nil {
				return err
			}
		case nsinit.MsgMountSources:
			if err := p.sendMountSources(cfg); err != nil {
				return err
			}
		default:
			return fmt.Errorf("init sent unknown message %q", m.Type)
		}
	}
}

func runHandler(f func() error) error {
	if f == nil {
		return nil
	}
	return f()
}

func (p *initProc) resume() error {
	if err := json.NewEncoder(p.sync).Encode(nsinit.Msg{Type: nsinit.MsgContinue}); err != nil {
		return fmt.Errorf("resume init: %w", err)
	}
	return nil
}

// takeListener receives the seccomp listener init sends after our
// go-ahead, hands it on and lets init continue.
func (p *initProc) takeListener(give func(fd int) error) error {
	if err := p.resume(); err != nil {
		return err
	}
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(p.sync.Fd()), buf, oob, 0)
	if err != nil {
		return fmt.Errorf("receive seccomp listener: %w", err)
	}
	fds, err := parseRights(oob[:oobn])
	if err != nil {
		return fmt.Errorf("receive seccomp listener: %w", err)
	}
	defer unix.Close(fds[0])
	if give == nil {
		return errors.New("init sent a seccomp listener nobody asked for")
	}
	if err := give(fds[0]); err != nil {
		return err
	}
	return p.resume()
}

func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil || len(msgs) != 1 {
		return nil, errors.New("no descriptor in message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, errors.New("bad descriptor message")
	}
	return fds, nil
}

func (p *initProc) exitNote() string {
	var ws unix.WaitStatus
	if wpid, err := unix.Wait4(p.cmd.Process.Pid, &ws, unix.WNOHANG, nil); err == nil && wpid > 0 {
		return fmt.Sprintf(" (%s)", describeWait(ws))
	}
	return ""
}

func describeWait(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + unix.SignalName(ws.Signal())
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}

// kill stops a half-created init and reaps what is ours to reap.
func (p *initProc) kill() {
	unix.Kill(p.pid, unix.SIGKILL)
	if p.cmd.Process.Pid != p.pid {
		unix.Kill(p.cmd.Process.Pid, unix.SIGKILL)
	}
	p.cmd.Wait()
	if p.cmd.Process.Pid != p.pid {
		var ws unix.WaitStatus
		unix.Wait4(p.pid, &ws, 0, nil)
	}
	p.sync.Close()
}

// wait waits for init to exit and returns its exit code (128+signal when it
// was killed).
func (p *initProc) wait() (int, error) {
	if p.cmd.Process.Pid == p.pid {
		err := p.cmd.Wait()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			return -1, fmt.Errorf("wait for container process: %w", err)
		}
		return exitCode(p.cmd.ProcessState.Sys().(syscall.WaitStatus)), nil
	}
	p.cmd.Wait()
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(p.pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("wait for container process %d: %w", p.pid, err)
		}
		return exitCode(syscall.WaitStatus(ws)), nil
	}
}

func exitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
