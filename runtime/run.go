package runtime

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// RunOpts are the options of run: create's, plus detach and keep.
type RunOpts struct {
	CreateOpts
	Detach bool
	Keep   bool // do not delete the container after it exits
}

// Run creates and starts a container. In the foreground it forwards signals
// (and proxies the terminal when the process has one and no console socket
// was given), waits for the container to stop, deletes it unless Keep, and
// returns its exit code.
func (r *Runtime) Run(ctx context.Context, id string, o RunOpts) (int, error) {
	var ours, theirs *os.File
	if !o.Detach && o.ConsoleSocket == "" && terminalRequested(o.Bundle) {
		var err error
		if ours, theirs, err = consolePair(); err != nil {
			return -1, err
		}
		defer ours.Close()
		o.console = theirs
	}
	proc, err := r.create(ctx, id, &o.CreateOpts)
	if theirs != nil {
		theirs.Close()
	}
	if err != nil {
		return -1, err
	}
	var master *os.File
	if ours != nil {
		if master, err = recvConsole(ours); err != nil {
			r.Delete(ctx, id, true)
			return -1, err
		}
		defer master.Close()
	}
	if err := r.Start(ctx, id); err != nil {
		r.Delete(ctx, id, true)
		return -1, err
	}
	if o.Detach {
		proc.sync.Close()
		return 0, nil
	}
	code, err := foreground(proc, master, o.Stdio)
	if !o.Keep {
		if derr := r.Delete(ctx, id, true); derr != nil && err == nil {
			err = derr
		}
	}
	return code, err
}

// terminalRequested peeks at the bundle's process.terminal.
func terminalRequested(bundle string) bool {
	spec, _, err := loadBundle(bundle)
	return err == nil && spec.Process.Terminal
}

// foreground waits for a process while forwarding our signals to it and
// proxying its terminal.
func foreground(p *initProc, master *os.File, stdio Stdio) (int, error) {
	stop := forwardSignals(p.pid)
	defer stop()
	var outDone chan struct{}
	if master != nil {
		restore := proxyConsole(master, stdio)
		defer restore()
		outDone = make(chan struct{})
		go func() { copyOutput(master, stdio.Out); close(outDone) }()
	}
	code, err := p.wait()
	p.sync.Close()
	if outDone != nil {
		select {
		case <-outDone:
		case <-time.After(time.Second):
		}
	}
	return code, err
}

// forwardSignals relays the signals we receive to pid until stop is called.
func forwardSignals(pid int) (stop func()) {
	sigc := make(chan os.Signal, 32)
	signal.Notify(sigc)
	go func() {
		for s := range sigc {
			sig := s.(syscall.Signal)
			switch sig {
			case unix.SIGCHLD, unix.SIGURG, unix.SIGWINCH, unix.SIGPIPE:
				continue
			}
			unix.Kill(pid, sig)
		}
	}()
	return func() { signal.Stop(sigc); close(sigc) }
}
