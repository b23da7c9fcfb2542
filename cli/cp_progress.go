package cli

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"time"

	units "github.com/docker/go-units"
)

// The terminal sequences of cp's progress line, as docker writes them: the
// cursor is saved (SCO and DEC forms) before the line and restored to
// rewrite it.
const (
	ansiSave       = "\x1b[s\x1b7"
	ansiRestore    = "\x1b[u\x1b8"
	ansiHide       = "\x1b[?25l"
	ansiShow       = "\x1b[?25h"
	ansiEraseLine  = "\x1b[2K"
	ansiEraseTail  = "\x1b[0K"
	copyProgressIv = 75 * time.Millisecond
)

// humanCopySize is a byte count as cp shows it ("2.05kB").
func humanCopySize(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

// copyProgress shows, when stderr is a terminal, the bytes copied so far
// after header on one line, rewritten as they grow, until the returned
// stop is called, which erases the line. Elsewhere it shows nothing.
func (c *cli) copyProgress(ctx context.Context, header string, total *int64) (stop func()) {
	w := c.err
	if !isTerminal(w) {
		return func() {}
	}
	fmt.Fprint(w, ansiSave, "Preparing to copy...")
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		fmt.Fprint(w, ansiHide)
		defer fmt.Fprint(w, ansiShow)
		fmt.Fprint(w, ansiRestore, ansiEraseLine, header, humanCopySize(0))
		ticker := time.NewTicker(copyProgressIv)
		defer ticker.Stop()
		var last int64
		var buf bytes.Buffer
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			n := atomic.LoadInt64(total)
			if n == last {
				continue
			}
			// One write per update, so the line does not flicker.
			fmt.Fprintf(&buf, "\x1b[%dG%s%s", len(header)+1, ansiEraseTail, humanCopySize(n))
			_, _ = buf.WriteTo(w)
			last = n
		}
	}()
	return func() {
		cancel()
		<-done
		fmt.Fprint(w, ansiRestore, ansiEraseLine)
	}
}
