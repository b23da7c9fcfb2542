package runtime

import (
	"context"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
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
	if err := checkID(id); err != nil {
		return -1, err
	}
	o.sealAhead()
	defer o.seal.discard()
	b, err := loadBundle(o.Bundle)
	if err != nil {
		return -1, err
	}
	o.loaded = b
	var fwd *signalForwarder
	if !o.Detach {
		// As runc does, signals are caught from the start: one that
		// arrives while the container is created reaches its process
		// once it runs. Catching every signal takes the Go runtime a
		// couple of milliseconds, spent here beside the creation.
		fwd = forwardSignals()
		defer fwd.release()
	}
	var ours, theirs *os.File
	if !o.Detach && o.ConsoleSocket == "" && b.spec.Process.Terminal {
		if ours, theirs, err = consolePair(); err != nil {
			return -1, err
		}
		defer ours.Close()
		o.console = theirs
	}
	c, err := r.create(ctx, id, &o.CreateOpts)
	if theirs != nil {
		theirs.Close()
	}
	if err != nil {
		return -1, err
	}
	return r.runCreated(ctx, c, ours, fwd, &o)
}

// runCreated starts a created container and, in the foreground, waits for
// it and deletes it. The record create made serves throughout: nothing
// else writes it meanwhile.
func (r *Runtime) runCreated(ctx context.Context, c *creation, ours *os.File, fwd *signalForwarder, o *RunOpts) (int, error) {
	var master *os.File
	var err error
	if ours != nil {
		if master, err = recvConsole(ours); err != nil {
			r.delete(ctx, c.rec, true)
			return -1, err
		}
		defer master.Close()
	}
	if err := r.start(c.rec); err != nil {
		r.delete(ctx, c.rec, true)
		return -1, err
	}
	if o.Detach {
		c.proc.sync.Close()
		return 0, nil
	}
	code, err := foregroundWith(fwd, c.proc, master, o.Stdio)
	if !o.Keep {
		if derr := r.delete(ctx, c.rec, true); derr != nil && err == nil {
			err = derr
		}
	}
	return code, err
}

// foreground waits for a process while forwarding our signals to it and
// proxying its terminal.
func foreground(p *initProc, master *os.File, stdio Stdio) (int, error) {
	fwd := forwardSignals()
	defer fwd.release()
	return foregroundWith(fwd, p, master, stdio)
}

// foregroundWith is foreground with signals already being caught by fwd.
func foregroundWith(fwd *signalForwarder, p *initProc, master *os.File, stdio Stdio) (int, error) {
	fwd.start(p.pid)
	defer fwd.stop()
	var outDone chan struct{}
	if master != nil {
		restore := proxyConsole(master, stdio)
		defer restore()
		outDone = make(chan struct{})
		go func() { io.Copy(stdio.Out, master); close(outDone) }()
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

// signalForwarder catches every signal the runtime receives and relays it
// to the container's process. Signals caught before the process runs wait
// for it; once stopped, it hands signals back to the process's own
// handling.
type signalForwarder struct {
	sigc     chan os.Signal
	pid      chan int      // the process to relay to; 0 when there is none
	caught   chan struct{} // closed once every signal is caught
	stopped  atomic.Bool
	released atomic.Bool
}

// forwardSignals starts catching signals on a goroutine of its own: the Go
// runtime enables them one at a time, each a round trip with its signal
// thread, about two milliseconds for all of them.
func forwardSignals() *signalForwarder {
	f := &signalForwarder{sigc: make(chan os.Signal, 32), pid: make(chan int, 1), caught: make(chan struct{})}
	go func() {
		signal.Notify(f.sigc)
		close(f.caught)
		f.relay(<-f.pid)
	}()
	return f
}

// start names the process to relay to, once every signal is caught.
func (f *signalForwarder) start(pid int) {
	<-f.caught
	f.pid <- pid
}

// stop ends the relaying; signals caught from now on wait for release. It
// may be called more than once, and on a nil forwarder.
func (f *signalForwarder) stop() {
	if f == nil || f.stopped.Swap(true) {
		return
	}
	select {
	case f.pid <- 0: // start never came
	default:
	}
}

// release stops, and undoes signal.Notify (once; it may be called more than
// once, and on a nil forwarder). That takes as long as catching
// did, so it happens in the background (a command line process is usually
// gone before it ends): a signal caught after stop is raised again once it
// is undone, to have the effect it would have had after signal.Stop.
func (f *signalForwarder) release() {
	if f == nil || f.released.Swap(true) {
		return
	}
	f.stop()
	go func() {
		<-f.caught
		signal.Stop(f.sigc)
		close(f.sigc)
	}()
}

func (f *signalForwarder) relay(pid int) {
	var later []syscall.Signal
	for s := range f.sigc {
		sig := s.(syscall.Signal)
		switch {
		case sig == unix.SIGCHLD || sig == unix.SIGURG || sig == unix.SIGWINCH || sig == unix.SIGPIPE:
		case pid == 0 || f.stopped.Load():
			later = append(later, sig)
		default:
			unix.Kill(pid, sig)
		}
	}
	// signal.Stop has returned: these now get the process's own handling.
	for _, sig := range later {
		unix.Kill(unix.Getpid(), sig)
	}
}
