package nsinit

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/corral-dev/corral/runtime/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// defaultPath is searched when the process environment has no PATH.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// process is the user program, ready to be executed once credentials and
// capabilities are applied.
type process struct {
	spec   *specs.Process
	path   string
	caps   *capSets
	filter *seccomp.Program // nil without linux.seccomp
}

// prepareProcess does everything that needs privileges and may fail, so that
// failures reach `create` (or `exec`) before the process is reported ready.
func prepareProcess(cfg *Config) (*process, error) {
	p := cfg.Process
	if p == nil || len(p.Args) == 0 {
		return nil, errors.New("process.args must not be empty")
	}
	if cfg.ConsoleFD != 0 {
		if err := setupConsole(cfg.ConsoleFD, p, cfg.Mode == ModeCreate); err != nil {
			return nil, err
		}
	}
	if err := setRlimits(p.Rlimits); err != nil {
		return nil, err
	}
	if err := setOOMScoreAdj(p.OOMScoreAdj); err != nil {
		return nil, err
	}
	if err := enterCwd(p.Cwd); err != nil {
		return nil, err
	}
	if err := verifyCwd(); err != nil {
		return nil, err
	}
	path, err := lookPath(p.Args[0], p.Env)
	if err != nil {
		return nil, err
	}
	caps, err := parseCaps(p.Capabilities)
	if err != nil {
		return nil, err
	}
	filter, err := seccompFilter(cfg)
	if err != nil {
		return nil, err
	}
	// Nothing but stdio and the preserved descriptors may reach the process.
	if err := unix.CloseRange(uint(3+cfg.PreserveFDs), math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return nil, fmt.Errorf("mark descriptors close-on-exec: %w", err)
	}
	return &process{spec: p, path: path, caps: caps, filter: filter}, nil
}

// seccompFilter returns the filter the runtime compiled, else compiles
// linux.seccomp; nil without either.
func seccompFilter(cfg *Config) (*seccomp.Program, error) {
	if len(cfg.Seccomp) > 0 {
		return seccomp.Decode(cfg.Seccomp)
	}
	sc := cfg.Spec.Linux.Seccomp
	if sc == nil {
		return nil, nil
	}
	filter, err := seccomp.Compile(sc)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: %w", err)
	}
	return filter, nil
}

// finalize applies, on this thread, the process's umask, user, capabilities,
// no_new_privs and seccomp filter, while init can still report failures to
// the runtime. As runc does: without no_new_privs the filter goes in first,
// while init still has CAP_SYS_ADMIN; with it, last.
func (p *process) finalize(sync *syncConn) error {
	if p.caps != nil {
		for _, w := range p.caps.warnings {
			if err := sync.send(Msg{Type: MsgWarning, Error: w}); err != nil {
				return err
			}
		}
	}
	unix.Umask(int(umaskOf(p.spec)))
	if !p.spec.NoNewPrivileges {
		if err := p.loadSeccomp(sync); err != nil {
			return err
		}
	}
	if err := p.caps.applyBounding(); err != nil {
		return err
	}
	if err := setUser(&p.spec.User, p.caps != nil); err != nil {
		return err
	}
	if err := p.caps.applyRest(); err != nil {
		return err
	}
	if !p.spec.NoNewPrivileges {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	return p.loadSeccomp(sync)
}

func (p *process) loadSeccomp(sync *syncConn) error {
	if p.filter == nil {
		return nil
	}
	fd, err := p.filter.Load()
	if err != nil {
		return fmt.Errorf("load seccomp filter: %w", err)
	}
	if fd < 0 {
		return nil
	}
	defer unix.Close(fd)
	return sync.sendFD(MsgSeccompListener, fd)
}

// exec replaces init with the user program.
func (p *process) exec() error {
	err := syscall.Exec(p.path, p.spec.Args, p.spec.Env)
	return fmt.Errorf("exec %s: %w", p.spec.Args[0], err)
}

func umaskOf(p *specs.Process) uint32 {
	if p.User.Umask != nil {
		return *p.User.Umask
	}
	return 0o022
}

// setUser switches to the process's gid, additional gids and uid, with raw
// system calls that change only this thread: it is the one that execs.
func setUser(u *specs.User, keepCaps bool) error {
	if keepCaps {
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("set keepcaps: %w", err)
		}
	}
	if err := setGroups(u.AdditionalGids); err != nil {
		return err
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return fmt.Errorf("set gid %d: %w", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return fmt.Errorf("set uid %d: %w", u.UID, e)
	}
	if keepCaps {
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
			return fmt.Errorf("clear keepcaps: %w", err)
		}
	}
	return nil
}

func setGroups(gids []uint32) error {
	if len(gids) == 0 && setgroupsDenied() {
		return nil
	}
	var ptr uintptr
	if len(gids) > 0 {
		ptr = uintptr(unsafePointer(&gids[0]))
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)), ptr, 0); e != 0 {
		return fmt.Errorf("set additional gids %v: %w", gids, e)
	}
	return nil
}

// setgroupsDenied reports whether setgroups(2) is disabled in our user
// namespace, in which case an empty group list is already in force.
func setgroupsDenied() bool {
	b, err := os.ReadFile("/proc/self/setgroups")
	return err == nil && strings.TrimSpace(string(b)) == "deny"
}

var rlimitNames = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// setRlimits uses syscall.Setrlimit so that Go does not restore its own
// RLIMIT_NOFILE at execve.
func setRlimits(limits []specs.POSIXRlimit) error {
	for _, l := range limits {
		res, ok := rlimitNames[l.Type]
		if !ok {
			return fmt.Errorf("process.rlimits: unknown type %q", l.Type)
		}
		if l.Soft > l.Hard {
			return fmt.Errorf("process.rlimits: %s soft limit %d is above hard limit %d", l.Type, l.Soft, l.Hard)
		}
		err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: l.Soft, Max: l.Hard})
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("set %s to %d/%d: %w (raising a hard limit needs CAP_SYS_RESOURCE, which this runtime does not have)", l.Type, l.Soft, l.Hard, err)
		}
		if err != nil {
			return fmt.Errorf("set %s to %d/%d: %w", l.Type, l.Soft, l.Hard, err)
		}
	}
	return nil
}

func setOOMScoreAdj(adj *int) error {
	if adj == nil {
		return nil
	}
	if *adj < -1000 || *adj > 1000 {
		return fmt.Errorf("process.oomScoreAdj %d is outside -1000..1000", *adj)
	}
	err := writeThreadSelf("oom_score_adj", fmt.Sprint(*adj))
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		return fmt.Errorf("set oom_score_adj %d: %w (lowering it needs CAP_SYS_RESOURCE)", *adj, err)
	}
	return err
}

// enterCwd changes to the process's working directory, creating it when the
// image lacks it, as runc does. The root is already the container's, so the
// path cannot resolve outside it.
func enterCwd(cwd string) error {
	if cwd == "" {
		cwd = "/"
	}
	if !filepath.IsAbs(cwd) {
		return fmt.Errorf("process.cwd %q must be an absolute path", cwd)
	}
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		return fmt.Errorf("create cwd %s: %w", cwd, err)
	}
	if err := os.Chdir(cwd); err != nil {
		return fmt.Errorf("chdir to cwd %s: %w", cwd, err)
	}
	return nil
}

// lookPath finds the program as execve would run it: a name with a slash is
// used as is, a bare name is searched in the process's PATH.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		if err := checkExecutable(file); err != nil {
			return "", fmt.Errorf("exec: %q: %w", file, err)
		}
		return file, nil
	}
	pathVar := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	for _, dir := range filepath.SplitList(pathVar) {
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, file)
		if checkExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", file)
}

func checkExecutable(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return errors.New("is a directory")
	}
	if st.Mode()&0o111 == 0 {
		return errors.New("permission denied")
	}
	return nil
}
