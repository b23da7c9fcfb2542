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

// envReady names the descriptor on which the monitor reports to Start.
const envReady = "_CORRAL_MONITOR_READY"

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
// attach first and see the output from its first byte.
//
// The monitor, `corral-monitor monitor DIR` (cmd/corral-monitor, found
// beside cfg.Binary), runs detached from the caller: in a
// new session, with /dev/null as stdio. It is the caller's child (one exec,
// not a double fork), reaped by a goroutine; when the caller goes, it is
// re-parented to the nearest subreaper or to pid 1 and goes on. It makes
// itself a child subreaper, so the container's init and exec processes are
// its children. (`monitor --fork DIR`, the older double fork, still works.)
func Start(ctx context.Context, cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	program, err := monitorProgramOf(cfg.Binary)
	if err != nil {
		return nil, err
	}
	c := &Client{dir: cfg.Dir(), ID: cfg.ID}
	if err := prepareDir(ctx, c, &cfg); err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start monitor: %w", err)
	}
	defer r.Close()
	// The monitor runs in a session of its own, so that nothing sent to the
	// caller's process group reaches it; the caller reaps it if it is still
	// there when the monitor exits, else it is re-parented and reaped by the
	// nearest subreaper.
	cmd := exec.Command(program, "monitor", c.dir)
	cmd.ExtraFiles = []*os.File{w}
	cmd.Env, cmd.Dir = monitorEnv, c.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return nil, fmt.Errorf("start monitor: %w", err)
	}
	go func() { _ = cmd.Wait() }()
	msg, err := awaitReady(ctx, r)
	if err != nil {
		return nil, err
	}
	c.pid, c.initPid = msg.Pid, msg.Init
	return c, nil
}

// monitorEnv is the whole environment of a monitor: a PATH for what it
// runs, and the descriptor it reports on.
var monitorEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	envReady + "=3",
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
