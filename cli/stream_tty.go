package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/term"

	"github.com/corral-dev/corral/api"
)

// attachTo is what an attach carries: which streams, the detach keys, and
// the writers output goes to.
type attachTo struct {
	stdin, stdout, stderr bool
	detachKeys            string
	out, err              io.Writer
}

func (a attachTo) options() api.ContainerAttachOptions {
	return api.ContainerAttachOptions{Stream: true, Stdin: a.stdin, Stdout: a.stdout, Stderr: a.stderr,
		DetachKeys: a.detachKeys}
}

// lockedWriter serializes the writes of the goroutines that share a
// stream (output copiers, warnings of the wait and the resize).
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// syncStreams answers the command line's stdout and stderr for use from
// several goroutines.
func (c *cli) syncStreams() (out, errOut io.Writer) {
	mu := &sync.Mutex{}
	return lockedWriter{mu: mu, w: c.out}, lockedWriter{mu: mu, w: c.err}
}

// checkTTY refuses a TTY with input when stdin is not a terminal.
func (c *cli) checkTTY(attachStdin, tty bool) error {
	if tty && attachStdin && !isTerminal(c.in) {
		return errors.New("the input device is not a TTY")
	}
	return nil
}

// ttySize is stdout's terminal's height and width, zero if it is not one.
func (c *cli) ttySize() (height, width uint) {
	n, ok := fd(c.out)
	if !ok || !term.IsTerminal(n) {
		return 0, 0
	}
	w, h, err := term.GetSize(n)
	if err != nil {
		return 0, 0
	}
	return uint(h), uint(w)
}

// resizeFunc resizes a container's or an exec's TTY.
type resizeFunc func(ctx context.Context, height, width int) error

// resizeTTY sends stdout's terminal's size, if it has one.
func (c *cli) resizeTTY(ctx context.Context, resize resizeFunc) error {
	h, w := c.ttySize()
	if h == 0 && w == 0 {
		return nil
	}
	return resize(ctx, int(h), int(w))
}

// monitorTTYSize sends stdout's terminal's size now (retrying a few times
// for a process whose TTY is not there yet, as docker's CLI does) and on
// every SIGWINCH until stop.
func (c *cli) monitorTTYSize(ctx context.Context, resize resizeFunc, errOut io.Writer) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if err := c.resizeTTY(ctx, resize); err != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.retryResize(ctx, resize, errOut)
		}()
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range winch {
			_ = c.resizeTTY(ctx, resize)
		}
	}()
	return func() {
		signal.Stop(winch)
		close(winch)
		cancel()
		wg.Wait()
	}
}

// retryResize tries the first resize again ten times, 10 ms more apart
// each time.
func (c *cli) retryResize(ctx context.Context, resize resizeFunc, errOut io.Writer) {
	for retry := range 10 {
		select {
		case <-time.After(time.Duration(retry+1) * 10 * time.Millisecond):
		case <-ctx.Done():
			return
		}
		if c.resizeTTY(ctx, resize) == nil {
			return
		}
	}
	fmt.Fprintln(errOut, "failed to resize tty, using default size")
}

// waitExitOrRemoved waits (the daemon has answered when it returns) for
// the container's next exit, or its removal with --rm, and sends its exit
// code: 125 if waiting failed. The channel closes without a value if ctx
// ends first.
func waitExitOrRemoved(ctx context.Context, ra ContainerRunAPI, id string, removed bool, errOut io.Writer) <-chan int {
	cond := container.WaitConditionNextExit
	if removed {
		cond = container.WaitConditionRemoved
	}
	results, errs := ra.ContainerWait(ctx, id, cond)
	status := make(chan int, 1)
	go func() {
		defer close(status)
		select {
		case <-ctx.Done():
		case r := <-results:
			if r.Error != nil {
				fmt.Fprintf(errOut, "Error waiting for container: %v\n", r.Error.Message)
				status <- 125
				return
			}
			status <- int(r.StatusCode)
		case err := <-errs:
			if errors.Is(err, context.Canceled) {
				return
			}
			fmt.Fprintf(errOut, "error waiting for container: %v\n", err)
			status <- 125
		}
	}()
	return status
}
