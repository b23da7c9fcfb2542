package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/cli"
	"github.com/corral-dev/corral/client"
)

// Auto-start of the daemon.
const (
	// startTimeout bounds the wait for a daemon the CLI started.
	startTimeout = 10 * time.Second
	// defaultDaemonLog takes the output of a daemon started for the
	// default data root.
	defaultDaemonLog = "/var/log/corral.log"
	// maxSocketPath is the longest path a unix socket address holds.
	maxSocketPath = 107
)

// daemonTarget is the daemon a command line asks for.
type daemonTarget struct {
	host     string
	explicit bool   // given by --host or the environment: never started
	dataRoot string // --data-root, absolute, or ""
}

// target resolves the daemon: --host, $CORRAL_HOST, $DOCKER_HOST, else the
// default socket, or with --data-root DIR (or $CORRAL_ROOT) the socket
// DIR/corral.sock of that data root's own daemon.
func target(g cli.Globals) (daemonTarget, error) {
	def := api.DefaultHost
	var root string
	if g.DataRoot == "" {
		g.DataRoot = os.Getenv("CORRAL_ROOT")
	}
	if g.DataRoot != "" {
		var err error
		if root, err = filepath.Abs(g.DataRoot); err != nil {
			return daemonTarget{}, fmt.Errorf("data root: %w", err)
		}
		sock := filepath.Join(root, "corral.sock")
		if len(sock) > maxSocketPath {
			return daemonTarget{}, fmt.Errorf("data root %s: path too long for its socket %s (at most %d bytes)", root, sock, maxSocketPath)
		}
		def = "unix://" + sock
	}
	host, explicit := client.ResolveHost(g.Host, os.Getenv, def)
	return daemonTarget{host: host, explicit: explicit, dataRoot: root}, nil
}

// connect answers a client of the daemon, starting the daemon first if
// the default socket (or the data root's) has none.
func connect(ctx context.Context, g cli.Globals) (*client.Client, error) {
	t, err := target(g)
	if err != nil {
		return nil, err
	}
	c, err := client.New(t.host)
	if err != nil {
		return nil, err
	}
	if t.explicit {
		return c, nil // a failure to connect is the first call's error
	}
	// A dial tells an absent daemon without a round trip, and its
	// connection serves the first call.
	if err := c.Connect(ctx); err == nil || !client.IsDaemonAbsent(err) || os.Geteuid() != 0 {
		return c, nil // a failure to connect is the first call's error
	}
	if err := t.start(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// start runs `corral daemon` detached (its own session, output to its log
// file) and waits until it answers. Concurrent command lines take turns on
// a lock file beside the socket, so only the first starts a daemon.
func (t daemonTarget) start(ctx context.Context, c *client.Client) error {
	sock := strings.TrimPrefix(t.host, "unix://")
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		return fmt.Errorf("start the corral daemon: %w", err)
	}
	unlock, err := lockFile(sock + ".start.lock")
	if err != nil {
		return fmt.Errorf("start the corral daemon: %w", err)
	}
	defer unlock()
	if c.NegotiateAPIVersion(ctx) == nil {
		return nil // another command line started it meanwhile
	}
	logPath := defaultDaemonLog
	args := []string{"daemon"}
	if t.dataRoot != "" {
		logPath = filepath.Join(t.dataRoot, "daemon.log")
		args = append(args, "--data-root", t.dataRoot, "--host", t.host,
			"--pidfile", filepath.Join(t.dataRoot, "corral.pid"))
	}
	exited, err := spawnDaemon(args, logPath)
	if err != nil {
		return err
	}
	return waitDaemon(ctx, c, exited, logPath)
}

// lockFile takes an exclusive flock on path, waiting for it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { _ = f.Close() }, nil
}

// spawnDaemon starts corrald with args in a session of its own, with no
// terminal and its output appended to logPath. It is not a child to wait
// for: the channel only reports an exit during start-up.
func spawnDaemon(args []string, logPath string) (<-chan error, error) {
	exe, err := enginePath()
	if err != nil {
		return nil, fmt.Errorf("start the corral daemon: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, fmt.Errorf("start the corral daemon: %w", err)
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start the corral daemon: open its log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the corral daemon: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	return exited, nil
}

// waitDaemon pings the daemon until it answers, it exits, or startTimeout
// passes.
func waitDaemon(ctx context.Context, c *client.Client, exited <-chan error, logPath string) error {
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("the corral daemon failed to start (%v)%s; see %s", err, lastLine(logPath), logPath)
		case <-deadline.C:
			return fmt.Errorf("the corral daemon did not answer on %s within %v; see %s", c.Host(), startTimeout, logPath)
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-tick.C:
			if c.NegotiateAPIVersion(ctx) == nil {
				return nil
			}
		}
	}
}

// lastLine is ": <the log's last line>", or "".
func lastLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	data := make([]byte, min(st.Size(), 4096))
	n, _ := f.ReadAt(data, st.Size()-int64(len(data)))
	data = bytes.TrimSpace(data[:n])
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[i+1:]
	}
	if len(data) == 0 {
		return ""
	}
	return ": " + string(data)
}
