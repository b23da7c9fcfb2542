package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/corral-dev/corral/runtime/cgroups"
	"github.com/corral-dev/corral/runtime/nsenter"
	"github.com/corral-dev/corral/runtime/nsinit"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ExecOpts describe a process to run in an existing container.
type ExecOpts struct {
	Process       *specs.Process
	ConsoleSocket string
	PidFile       string
	Detach        bool
	PreserveFDs   int
	Stdio         Stdio
	// IgnorePaused allows exec into a paused container.
	IgnorePaused bool
	// SubCgroups puts the process in a sub-cgroup of the container's, per
	// controller ("" for all of them), as runc's exec --cgroup.
	SubCgroups map[string]string
}

// Exec runs a process inside a running container: it joins every namespace
// of the container and its cgroup. In the foreground it returns the
// process's exit code.
func (r *Runtime) Exec(ctx context.Context, id string, o ExecOpts) (int, error) {
	rec, err := r.load(id)
	if err != nil {
		return -1, err
	}
	st := r.status(rec)
	if st == statusPaused && !o.IgnorePaused {
		// runc's wording, which its callers and tests look for.
		return -1, fmt.Errorf("container %s: cannot exec in a paused container (use --ignore-paused to override): %w", id, ErrBadState)
	}
	if st != specs.StateRunning && st != specs.StateCreated && st != statusPaused {
		return -1, fmt.Errorf("cannot exec in container %s: it is %s: %w", id, st, ErrBadState)
	}
	paths, err := subCgroupPaths(rec.Cgroups, o.SubCgroups)
	if err != nil {
		return -1, err
	}
	if o.Process == nil || len(o.Process.Args) == 0 {
		return -1, fmt.Errorf("%w: exec needs a command", ErrBadConfig)
	}
	if o.Process.Terminal && o.Detach && o.ConsoleSocket == "" {
		return -1, fmt.Errorf("%w: a detached exec with a terminal needs --console-socket", ErrBadConfig)
	}
	console, ours, err := execConsole(&o)
	if err != nil {
		return -1, err
	}
	if ours != nil {
		defer ours.Close()
	}
	sp := &spawner{stdio: o.Stdio, preserve: o.PreserveFDs, extra: []*os.File{console},
		cg: cgroups.Load(paths), joins: containerJoins(rec)}
	proc, err := sp.start()
	if console != nil {
		console.Close()
	}
	if err != nil {
		if proc != nil {
			proc.kill()
		}
		return -1, err
	}
	cfg := &nsinit.Config{Mode: nsinit.ModeExec, ID: id, Spec: rec.Spec, Process: o.Process,
		Rootfs: rec.Rootfs, NoPivot: rec.NoPivot, PreserveFDs: o.PreserveFDs}
	if console != nil {
		cfg.ConsoleFD = sp.fd(0)
	}
	state := rec.ociState(specs.StateRunning)
	if err := proc.handshake(cfg, handlers{listener: listenerTo(rec.Spec, state)}); err != nil {
		proc.kill()
		return -1, fmt.Errorf("exec in %s: %w", id, err)
	}
	slog.Debug("setns_init: about to exec", "id", id, "pid", proc.pid)
	slog.Debug("init: closing the pipe to signal completion: the process is being executed", "id", id)
	if err := writePidFile(o.PidFile, proc.pid); err != nil {
		return -1, err
	}
	if o.Detach {
		proc.sync.Close()
		return 0, nil
	}
	var master *os.File
	if ours != nil {
		if master, err = recvConsole(ours); err != nil {
			return -1, err
		}
		defer master.Close()
	}
	return foreground(proc, master, o.Stdio)
}

// execConsole returns the console socket end init gets, and ours when the
// runtime proxies the terminal itself.
func execConsole(o *ExecOpts) (console, ours *os.File, err error) {
	if !o.Process.Terminal {
		return nil, nil, nil
	}
	if o.ConsoleSocket != "" {
		f, err := dialConsole(o.ConsoleSocket)
		return f, nil, err
	}
	ours, console, err = consolePair()
	return console, ours, err
}

// containerJoins lists the namespaces of the container's init to enter.
func containerJoins(rec *record) []nsenter.Join {
	var joins []nsenter.Join
	for _, ns := range rec.Spec.Linux.Namespaces {
		name := nsFile[ns.Type]
		joins = append(joins, nsenter.Join{Type: name, Path: fmt.Sprintf("/proc/%d/ns/%s", rec.Pid, name)})
	}
	return joins
}

// subCgroupPaths applies exec --cgroup to the container's cgroup paths:
// each named controller (or all, for "") moves to an existing directory
// at or below the container's own. The errors use runc's wording.
func subCgroupPaths(paths, sub map[string]string) (map[string]string, error) {
	if len(sub) == 0 {
		return paths, nil
	}
	for key := range sub {
		if _, ok := paths[key]; key != "" && !ok {
			return nil, fmt.Errorf("%w: --cgroup: unknown controller %s", ErrBadConfig, key)
		}
	}
	out := make(map[string]string, len(paths))
	for key, dir := range paths {
		rel, ok := sub[key]
		if !ok {
			rel, ok = sub[""]
		}
		if !ok {
			out[key] = dir
			continue
		}
		p, err := subCgroupPath(dir, rel)
		if err != nil {
			return nil, err
		}
		out[key] = p
	}
	return out, nil
}

// subCgroupPath resolves rel below the cgroup directory dir ("/" is dir
// itself) and checks the cgroup exists.
func subCgroupPath(dir, rel string) (string, error) {
	p := filepath.Join(dir, rel)
	if p != dir && !strings.HasPrefix(p, dir+"/") {
		return "", fmt.Errorf("%w: --cgroup: %s is not a sub cgroup path", ErrBadConfig, rel)
	}
	if _, err := os.Stat(filepath.Join(p, "cgroup.procs")); err != nil {
		return "", fmt.Errorf("%w: --cgroup %s: adding pid to cgroups: %w", ErrBadConfig, rel, err)
	}
	return p, nil
}
