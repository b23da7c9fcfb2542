package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/corral-dev/corral/runtime/cgroups"
	"github.com/corral-dev/corral/runtime/nsinit"
	"github.com/corral-dev/corral/runtime/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Stdio is the standard input, output and error given to a process.
type Stdio struct {
	In, Out, Err *os.File
}

// CreateOpts are the options of create and run.
type CreateOpts struct {
	Bundle        string
	ConsoleSocket string // path of a unix socket that receives the pty master
	PidFile       string
	NoPivot       bool
	PreserveFDs   int
	Stdio         Stdio

	console *os.File      // run -t without a console socket: our own end
	loaded  *loadedBundle // the bundle as run already read it
	seal    *pendingSeal  // init's sealed binary, begun early
}

// Create sets up container id from a bundle; its process waits for Start.
// On failure nothing it made is left behind.
func (r *Runtime) Create(ctx context.Context, id string, o CreateOpts) (err error) {
	_, err = r.create(ctx, id, &o)
	return err
}

// create makes the container and returns what it made: the record and the
// process waiting for start.
func (r *Runtime) create(ctx context.Context, id string, o *CreateOpts) (_ *creation, err error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	o.sealAhead()
	defer o.seal.discard()
	b, err := o.bundle()
	if err != nil {
		return nil, err
	}
	spec := b.spec
	if spec.Process.Terminal && o.ConsoleSocket == "" && o.console == nil {
		return nil, fmt.Errorf("%w: process.terminal is true but no --console-socket was given", ErrBadConfig)
	}
	if err := os.Mkdir(r.dir(id), 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("container %s: %w", id, ErrExist)
		}
		return nil, fmt.Errorf("create state dir: %w", err)
	}
	bundle, _ := filepath.Abs(o.Bundle)
	rec := &record{ID: id, Bundle: bundle, Rootfs: b.rootfs, NoPivot: o.NoPivot, Spec: spec,
		Annotations: spec.Annotations, Created: time.Now().UTC()}
	c := &creation{r: r, rec: rec, opts: o, seccomp: b.seccomp}
	defer func() {
		if err != nil {
			c.rollback()
		}
	}()
	if err := c.run(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// bundle returns the bundle's config, read once.
func (o *CreateOpts) bundle() (*loadedBundle, error) {
	if o.loaded != nil {
		return o.loaded, nil
	}
	return loadBundle(o.Bundle)
}

// sealAhead begins sealing init's binary, once: its mounts overlap the
// reading of the bundle and the making of the cgroup.
func (o *CreateOpts) sealAhead() {
	if o.seal == nil {
		o.seal = takeStandbySeal()
	}
	if o.seal == nil {
		o.seal = sealAhead()
	}
}

// creation holds what create has made so far, for rollback.
type creation struct {
	r    *Runtime
	rec  *record
	opts *CreateOpts
	// seccomp is linux.seccomp being compiled, for init.
	seccomp *pendingFilter
	cg      *cgroups.Manager
	proc    *initProc
	fifoR   *os.File
	fifoW   *os.File
	doneW   *os.File
	closer  []io.Closer
	// shared: the cgroup already held processes, so rollback leaves it.
	shared bool
}

// checkCgroup looks at the container's cgroup before create uses it, as
// runc does and in its words: a frozen one is refused (init would freeze
// before it could report), one that already has processes is used with a
// warning; shared tells the latter.
func checkCgroup(cg *cgroups.Manager) (shared bool, err error) {
	frozen, err := cg.Frozen()
	if err != nil {
		return false, fmt.Errorf("read cgroup freezer state: %w", err)
	}
	if frozen {
		return false, fmt.Errorf("%w: container's cgroup unexpectedly frozen", ErrBadState)
	}
	pids, err := cg.Pids()
	if err != nil {
		return false, err
	}
	if len(pids) > 0 {
		slog.Warn(fmt.Sprintf("container's cgroup is not empty: %d process(es) found", len(pids)))
	}
	return len(pids) > 0, nil
}

func (c *creation) run(ctx context.Context) error {
	spec := c.rec.Spec
	cg, err := cgroups.New(spec.Linux.CgroupsPath, c.rec.ID)
	if err != nil {
		return fmt.Errorf("%w: linux.cgroupsPath: %v", ErrBadConfig, err)
	}
	if c.shared, err = checkCgroup(cg); err != nil {
		return err
	}
	c.cg = cg
	if err := cg.Create(); err != nil {
		return fmt.Errorf("create cgroup: %w", err)
	}
	// The pids limit waits for "ready": init is a Go program and needs its
	// threads while it sets up; no user code runs before then.
	early, late := createLimits(spec)
	if err := cg.Set(early); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	c.rec.Cgroups = cg.Paths()
	// A thread enters the cgroup while the rest of init's start is made
	// ready: init is forked from it (see cgroups.Manager.EnterThread).
	sp := &spawner{stdio: c.opts.Stdio, preserve: c.opts.PreserveFDs, cg: cg, thread: cg.EnterThread(), seal: c.opts.seal}
	defer func() {
		if sp.thread != nil { // init was never started from it
			sp.thread.Release()
		}
	}()
	if err := c.makeFifo(); err != nil {
		return err
	}
	consoleFile, err := c.consoleFile()
	if err != nil {
		return err
	}
	sp.extra = []*os.File{c.fifoR, c.fifoW, c.doneW, consoleFile}
	if err := sp.namespaces(spec); err != nil {
		return err
	}
	proc, err := sp.start()
	c.proc = proc
	if err != nil {
		return err
	}
	c.rec.Pid = proc.pid
	c.rec.PidStart, _, _ = procStat(proc.pid)
	if err := c.r.save(c.rec); err != nil {
		return err
	}
	cfg := &nsinit.Config{
		Mode: nsinit.ModeCreate, ID: c.rec.ID, Spec: spec, Process: spec.Process,
		Rootfs: c.rec.Rootfs, NoPivot: c.opts.NoPivot, PreserveFDs: c.opts.PreserveFDs,
		FifoFD: sp.fd(0), FifoWriteFD: sp.fd(1), DoneFD: sp.fd(2),
		NewCgroupNS: newNamespace(spec, specs.CgroupNamespace),
		State:       c.rec.ociState(specs.StateCreating), CgroupMounts: cg.MountInfo(),
	}
	if err := c.giveSeccomp(cfg); err != nil {
		return err
	}
	if consoleFile != nil {
		cfg.ConsoleFD = sp.fd(3)
	}
	c.closeFifo()
	h := handlers{createRuntime: c.createRuntimeHooks, listener: listenerTo(spec, c.rec.ociState(specs.StateCreating))}
	if err := proc.handshake(cfg, h); err != nil {
		return err
	}
	if err := cg.Set(late); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	return writePidFile(c.opts.PidFile, proc.pid)
}

// giveSeccomp hands init the filter compiled while checking the config, and
// leaves the profile out of init's copy of the spec: a Docker profile is most
// of a config's bytes, and init would decode it only to compile it again.
func (c *creation) giveSeccomp(cfg *nsinit.Config) error {
	filter, err := c.seccomp.wait()
	if err != nil || filter == nil {
		return err
	}
	cfg.Seccomp = filter.Encode()
	spec, linux := *cfg.Spec, *cfg.Spec.Linux
	linux.Seccomp = nil
	spec.Linux = &linux
	cfg.Spec = &spec
	return nil
}

func (c *creation) createRuntimeHooks() error {
	h := c.rec.Spec.Hooks
	if h == nil {
		return nil
	}
	st := c.rec.ociState(specs.StateCreating)
	//lint:ignore SA1019 prestart is deprecated but still part of the spec.
	if err := nsinit.RunHooks(h.Prestart, st); err != nil {
		return fmt.Errorf("prestart hook: %w", err)
	}
	if err := nsinit.RunHooks(h.CreateRuntime, st); err != nil {
		return fmt.Errorf("createRuntime hook: %w", err)
	}
	return nil
}

// makeFifo creates the two fifos of start. Init blocks reading the exec
// fifo until start writes a byte; it holds the done fifo's write end open
// until execve, so start, reading it, returns once the process runs.
func (c *creation) makeFifo() error {
	var err error
	if c.fifoR, c.fifoW, err = openFifo(filepath.Join(c.r.dir(c.rec.ID), fifoFile)); err != nil {
		return err
	}
	var doneR *os.File
	if doneR, c.doneW, err = openFifo(filepath.Join(c.r.dir(c.rec.ID), doneFile)); err != nil {
		return err
	}
	doneR.Close()
	return nil
}

// openFifo makes a fifo and opens both of its ends without blocking.
func openFifo(path string) (r, w *os.File, err error) {
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return nil, nil, fmt.Errorf("create fifo: %w", err)
	}
	if r, err = os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0); err != nil {
		return nil, nil, fmt.Errorf("open fifo: %w", err)
	}
	if w, err = os.OpenFile(path, os.O_WRONLY|unix.O_NONBLOCK, 0); err != nil {
		r.Close()
		return nil, nil, fmt.Errorf("open fifo: %w", err)
	}
	return r, w, nil
}

func (c *creation) closeFifo() {
	for _, f := range []*os.File{c.fifoR, c.fifoW, c.doneW} {
		if f != nil {
			f.Close()
		}
	}
	c.fifoR, c.fifoW, c.doneW = nil, nil, nil
}

// consoleFile returns the socket end that init sends the pty master to.
func (c *creation) consoleFile() (*os.File, error) {
	if !c.rec.Spec.Process.Terminal {
		return nil, nil
	}
	if c.opts.console != nil {
		return c.opts.console, nil
	}
	f, err := dialConsole(c.opts.ConsoleSocket)
	if err != nil {
		return nil, err
	}
	c.closer = append(c.closer, f)
	return f, nil
}

// rollback undoes a failed create.
func (c *creation) rollback() {
	c.closeFifo()
	for _, f := range c.closer {
		f.Close()
	}
	if c.proc != nil {
		c.proc.kill()
	}
	if c.cg != nil && !c.shared {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.cg.KillAll(ctx); err != nil {
			slog.Warn("rollback: kill cgroup", "id", c.rec.ID, "err", err)
		}
		if err := c.cg.Destroy(); err != nil {
			slog.Warn("rollback: remove cgroup", "id", c.rec.ID, "err", err)
		}
	}
	if err := os.RemoveAll(c.r.dir(c.rec.ID)); err != nil {
		slog.Warn("rollback: remove state", "id", c.rec.ID, "err", err)
	}
}

func newNamespace(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t {
			return ns.Path == ""
		}
	}
	return false
}

func writePidFile(path string, pid int) error {
	if path == "" {
		return nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("pid file %s: %w", path, err)
	}
	return writeFileAtomic(abs, []byte(fmt.Sprint(pid)), 0o644)
}

// listenerTo returns the handler that passes a seccomp notify listener to
// linux.seccomp.listenerPath, with the state the spec prescribes.
func listenerTo(spec *specs.Spec, st *specs.State) func(fd int) error {
	sc := spec.Linux.Seccomp
	if sc == nil || sc.ListenerPath == "" {
		return nil
	}
	return func(fd int) error {
		data, err := json.Marshal(st)
		if err != nil {
			return fmt.Errorf("encode state for the seccomp agent: %w", err)
		}
		return seccomp.SendListener(sc.ListenerPath, fd, data, sc.ListenerMetadata)
	}
}
