package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/corral-dev/corral/errdefs"
	"golang.org/x/sys/unix"
)

// envReady names the descriptor on which the monitor reports to Start,
// envGo the one on which it waits for Create.
const (
	envReady = "_CORRAL_MONITOR_READY"
	envGo    = "_CORRAL_MONITOR_GO"
)

// readyMsg is what the monitor reports to Start once the container is
// created (or could not be).
type readyMsg struct {
	Pid   int    `json:"pid"`
	Init  int    `json:"init,omitempty"` // the container's init
	Error string `json:"error,omitempty"`
	Class string `json:"class,omitempty"`
}

// Start starts a monitor for cfg and returns its client once the container
// is created; its process then waits for Client.Start, so that clients can
// attach first and see the output from its first byte. It is Spawn, then
// Create at once.
//
// The monitor, `corral-monitor monitor DIR` (cmd/corral-monitor, found
// beside cfg.Binary), runs detached from the caller: in a
// new session, with /dev/null as stdio. It is the caller's child (one exec,
// not a double fork), reaped by a goroutine; when the caller goes, it is
// re-parented to the nearest subreaper or to pid 1 and goes on. It makes
// itself a child subreaper, so the container's init and exec processes are
// its children. (`monitor --fork DIR`, the older double fork, still works.)
func Start(ctx context.Context, cfg Config) (*Client, error) {
	return Spawn(cfg).Create(ctx)
}

// Spawned is a monitor process started ahead of its directory and its
// container's bundle: starting a process costs its caller about a
// millisecond (the fork, the exec it waits for), which thus overlaps the
// caller's own work (mounting the rootfs, writing the bundle). The
// process waits, having made nothing, for Create or Abort.
type Spawned struct {
	cfg   Config
	done  chan struct{} // closed once the process is started, or failed to
	err   error
	ready *os.File // the monitor's report (readyMsg)
	goW   *os.File // the go message lets the monitor go on; closing it, exit
	// exited is closed once the process has exited (and was reaped).
	exited chan struct{}
	pid    int
	// spare: the process was spawned ahead of any container (Spares), as
	// `monitor -`; the go message names its directory.
	spare   bool
	program string // what runs (spares: to check it still is what would)
	// file is the program's file when it was spawned (spares: a program
	// replaced since, as by an upgrade, is not taken).
	file os.FileInfo
}

// Spawn starts a monitor process for cfg in the background; cfg's bundle
// may be written until Create. The caller must call Create or Abort.
func Spawn(cfg Config) *Spawned {
	p := newSpawned(cfg)
	go func() {
		defer close(p.done)
		p.err = p.startFor()
	}()
	return p
}

func newSpawned(cfg Config) *Spawned {
	return &Spawned{cfg: cfg, done: make(chan struct{}), exited: make(chan struct{})}
}

// startFor checks the config and runs the monitor process for it.
func (p *Spawned) startFor() error {
	cfg, err := p.cfg.withDefaults()
	if err != nil {
		return err
	}
	p.cfg = cfg
	if p.program, err = monitorProgramOf(cfg.Binary); err != nil {
		return err
	}
	return p.start(cfg.Dir())
}

// start runs the monitor process, which waits on its go pipe (fd 4)
// before it reads its directory dir ("-": the go message names it), which
// it changes to itself.
func (p *Spawned) start(dir string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start monitor: %w", err)
	}
	goR, goW, err := os.Pipe()
	if err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("start monitor: %w", err)
	}
	// The monitor runs in a session of its own, so that nothing sent to the
	// caller's process group reaches it; the caller reaps it if it is still
	// there when the monitor exits, else it is re-parented and reaped by the
	// nearest subreaper.
	cmd := exec.Command(p.program, "monitor", dir)
	cmd.ExtraFiles = []*os.File{w, goR}
	cmd.Env = monitorEnv
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	goR.Close()
	if err != nil {
		r.Close()
		goW.Close()
		return fmt.Errorf("start monitor: %w", err)
	}
	p.pid = cmd.Process.Pid
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	p.ready, p.goW = r, goW
	return nil
}

// Create prepares the monitor's directory and lets the monitor create the
// container from its bundle, which must be written by now; it returns the
// client once the container is created, as Start does.
func (p *Spawned) Create(ctx context.Context) (*Client, error) {
	if <-p.done; p.err != nil && p.spare {
		p = Spawn(p.cfg) // the spare could not be started: try as a start would
		<-p.done
	}
	if p.err != nil {
		return nil, p.err
	}
	c := &Client{dir: p.cfg.Dir(), ID: p.cfg.ID}
	if err := prepareDir(ctx, c, &p.cfg); err != nil {
		p.Abort()
		return nil, err
	}
	p, err := p.letGo()
	if err != nil {
		return nil, err
	}
	defer p.ready.Close()
	msg, err := awaitReady(ctx, p.ready)
	if err != nil {
		return nil, err
	}
	c.pid, c.initPid = msg.Pid, msg.Init
	return c, nil
}

// letGo sends the go message and returns the process that got it: p, or,
// when p was a spare that died before it was needed, a new process.
func (p *Spawned) letGo() (*Spawned, error) {
	err := p.send()
	if err != nil && p.spare && errors.Is(err, syscall.EPIPE) {
		p.ready.Close()
		p = Spawn(p.cfg)
		if <-p.done; p.err != nil {
			return nil, p.err
		}
		err = p.send()
	}
	if err != nil {
		p.ready.Close()
		return nil, fmt.Errorf("start monitor: %w", err)
	}
	return p, nil
}

// send writes the go message (a spare's names its directory) and closes
// the go pipe.
func (p *Spawned) send() error {
	msg := []byte{1}
	if p.spare {
		msg = []byte(p.cfg.Dir() + "\n")
	}
	_, err := p.goW.Write(msg)
	p.goW.Close()
	return err
}

// Abort lets a spawned monitor go without creating anything: it exits.
func (p *Spawned) Abort() {
	<-p.done
	if p.err == nil {
		p.goW.Close()
		p.ready.Close()
	}
}

// monitorEnv is the whole environment of a monitor: a PATH for what it
// runs, the descriptor it reports on and the one it waits on.
var monitorEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	envReady + "=3",
	envGo + "=4",
}

// monitorProgramOf is the monitor program for the corral binary: binary
// itself when it is corral-monitor, else corral-monitor beside it (the
// small C program of cmd/corral-monitor, which scripts/install.sh puts
// there).
func monitorProgramOf(binary string) (string, error) {
	if filepath.Base(binary) == monitorProgram {
		return binary, nil
	}
	if p := besides(binary, monitorProgram); p != "" {
		return p, nil
	}
	return "", fmt.Errorf("start monitor: no %s beside %s: build it with cmd/corral-monitor/build.sh (scripts/install.sh installs it)",
		monitorProgram, binary)
}

// prepareDir makes the monitor's directory, refuses one whose monitor is
// alive, clears what a previous run left and saves cfg.
func prepareDir(ctx context.Context, c *Client, cfg *Config) error {
	if err := os.MkdirAll(cfg.StateDir, 0o711); err != nil {
		return fmt.Errorf("create monitor state dir: %w", err)
	}
	if err := os.Mkdir(c.dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create monitor dir: %w", err)
	}
	if conn, err := c.dial(ctx); err == nil {
		conn.Close()
		return errdefs.Conflict(fmt.Errorf("container %s already has a monitor", cfg.ID))
	}
	for _, f := range []string{exitFile, socketFile, pidFile} {
		if err := os.Remove(filepath.Join(c.dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("clear monitor dir: %w", err)
		}
	}
	data, err := json.MarshalIndent(cfg, "", "\t")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(c.dir, configFile), data, 0o600)
}

// awaitReady reads the monitor's report. When ctx ends first, the
// container (if it gets created) is killed in the background.
func awaitReady(ctx context.Context, r *os.File) (*readyMsg, error) {
	type result struct {
		msg readyMsg
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var res result
		res.err = readLine(bufio.NewReader(r), &res.msg)
		ch <- res
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			return nil, fmt.Errorf("start monitor: it exited before it was ready: %w", res.err)
		}
		if res.msg.Error != "" {
			return nil, (&response{Error: res.msg.Error, Class: res.msg.Class}).err()
		}
		return &res.msg, nil
	case <-ctx.Done():
		go func() {
			if res := <-ch; res.err == nil && res.msg.Error == "" {
				unix.Kill(res.msg.Pid, unix.SIGKILL)
			}
		}()
		return nil, ctx.Err()
	}
}
