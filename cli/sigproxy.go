package cli

import (
	"context"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// sigProxy forwards the signals the command line gets to a container, as
// docker's --sig-proxy does. Catching every signal takes the Go runtime
// one handshake with its signal thread per signal, about 2 ms in all, and
// letting them go again as much: so the catching starts in the background
// as early as the command knows it will proxy, beside its first requests,
// and nothing is let go at the end, since the command exits right after.
type sigProxy struct {
	sigc    chan os.Signal
	caught  chan struct{} // closed once every signal is caught
	stopped atomic.Bool
}

// catchSignals starts catching every signal for a proxy. Signals that come
// before forward are kept (up to 128) and sent to the container then.
func catchSignals() *sigProxy {
	p := &sigProxy{sigc: make(chan os.Signal, 128), caught: make(chan struct{})}
	go func() {
		signal.Notify(p.sigc)
		close(p.caught)
	}()
	return p
}

// forward sends every caught signal to container id (as kill?signal=NAME)
// until stop. It returns once every signal is caught, so that a signal
// the command gets after the container has started always reaches it.
// SIGCHLD, SIGPIPE and the Go runtime's SIGURG are not forwarded.
func (p *sigProxy) forward(ctx context.Context, ra ContainerRunAPI, id string) (stop func()) {
	<-p.caught
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		for s := range p.sigc {
			if name := signalName(s); name != "" && !p.stopped.Load() {
				_ = ra.ContainerKill(ctx, id, name)
			}
		}
	}()
	return func() {
		p.stopped.Store(true)
		cancel() // a kill still under way
	}
}

// signalName is the name the daemon knows a signal by ("TERM"), "" for
// those not forwarded.
func signalName(s os.Signal) string {
	sig, ok := s.(syscall.Signal)
	if !ok || sig == unix.SIGCHLD || sig == unix.SIGPIPE || sig == unix.SIGURG {
		return ""
	}
	return strings.TrimPrefix(unix.SignalName(sig), "SIG")
}
