package daemon

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/moby/moby/api/types/events"

	"github.com/corral-dev/corral/api"
	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/monitor"
)

// ContainerAttach is POST /containers/{id}/attach. An attach to a
// container that is not running waits for its start (docker run and start
// -a attach first), so it sees the output from the first byte.
func (s *Containers) ContainerAttach(ctx context.Context, name string, opts api.ContainerAttachOptions) error {
	c, err := s.get(name)
	if err != nil {
		return err
	}
	if err := c.State.Check(ccontainer.OpAttach, c.ID); err != nil {
		return err
	}
	keys, err := parseDetachKeys(opts.DetachKeys)
	if err != nil {
		return err
	}
	var pending *pendingAttach
	if opts.Stream && !c.State.Running {
		pending = s.addPendingAttach(c.ID)
		defer s.dropPendingAttach(c.ID, pending)
	}
	streams, err := opts.Streams(c.Config.Tty)
	if err != nil {
		return err
	}
	if opts.Logs {
		s.replayLogs(ctx, c, streams, opts)
	}
	if !opts.Stream {
		return nil
	}
	m, err := s.attachMonitor(ctx, c, pending)
	if err != nil {
		return err
	}
	stdin := opts.Stdin && c.Config.OpenStdin && streams.Stdin != nil
	stream, err := m.Attach(ctx, monitor.AttachOptions{Stdin: stdin, Stdout: opts.Stdout, Stderr: opts.Stderr})
	if pending != nil {
		close(pending.attached)
	}
	if err != nil {
		return err
	}
	defer stream.Close()
	s.publish(c, events.ActionAttach, nil)
	if stdin {
		go copyStdin(stream, streams.Stdin, ttyKeys(keys, c.Config.Tty))
	}
	return copyOutput(streams, stream, c.Config.Tty)
}

// attachMonitor is the monitor to attach to: the running container's, or
// the one its start hands over.
func (s *Containers) attachMonitor(ctx context.Context, c *ccontainer.Container, p *pendingAttach) (*monitor.Client, error) {
	if p == nil {
		return s.monitorOf(ctx, c)
	}
	select {
	case m := <-p.ready:
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// replayLogs writes the container's log to the attached streams (attach
// with logs=1).
func (s *Containers) replayLogs(ctx context.Context, c *ccontainer.Container, st api.Streams, opts api.ContainerAttachOptions) {
	lo := monitor.LogOptions{Tail: monitor.TailAll, Stdout: opts.Stdout, Stderr: opts.Stderr}
	_ = monitor.ReadLogEntries(ctx, c.LogPath, lo, func(e *monitor.LogEntry) error {
		w := st.Stdout
		if e.Stream == monitor.StreamStderr && st.Stderr != nil {
			w = st.Stderr
		}
		if w == nil {
			return nil
		}
		_, err := w.Write(e.Line)
		return err
	})
}

// copyOutput copies the monitor's output to the client until it ends:
// raw with a terminal, else demultiplexed from the monitor's frames (the
// server frames them again for the client).
func copyOutput(st api.Streams, from io.Reader, tty bool) error {
	if tty {
		if st.Stdout == nil {
			_, err := io.Copy(io.Discard, from)
			return err
		}
		_, err := io.Copy(st.Stdout, from)
		return ignoreClosed(err)
	}
	var hdr [monitor.FrameHeaderLen]byte
	for {
		if _, err := io.ReadFull(from, hdr[:]); err != nil {
			return ignoreClosed(err)
		}
		n := int64(binary.BigEndian.Uint32(hdr[4:]))
		w := io.Discard
		switch hdr[0] {
		case monitor.StreamStdout:
			if st.Stdout != nil {
				w = st.Stdout
			}
		case monitor.StreamStderr:
			if st.Stderr != nil {
				w = st.Stderr
			}
		}
		if _, err := io.CopyN(w, from, n); err != nil {
			return ignoreClosed(err)
		}
	}
}

func ignoreClosed(err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "use of closed network connection") {
		return nil
	}
	return err
}

// ttyKeys are the detach keys that apply to an input stream: none without
// a terminal, as with dockerd, where piped input is data (a binary stream
// holds the default ctrl-p ctrl-q pair often enough).
func ttyKeys(keys []byte, tty bool) []byte {
	if !tty {
		return nil
	}
	return keys
}

// stdinSink is where attached input goes: the monitor's stream.
type stdinSink interface {
	io.Writer
	CloseStdin() error
	Close() error
}

// copyStdin copies the client's input to the process until it ends (the
// process's stdin is closed then, as with docker's half-close) or the
// client types the detach keys (the stream is dropped: a detach).
func copyStdin(to stdinSink, from io.Reader, keys []byte) {
	buf := make([]byte, 32<<10)
	matched := 0
	for {
		n, err := from.Read(buf)
		if n > 0 {
			out, m, detach := scanDetach(buf[:n], keys, matched)
			matched = m
			if len(out) > 0 {
				if _, werr := to.Write(out); werr != nil {
					return
				}
			}
			if detach {
				to.Close()
				return
			}
		}
		if err != nil {
			_ = to.CloseStdin()
			return
		}
	}
}

// scanDetach passes input through, holding back bytes that may begin the
// detach sequence keys; matched is how many of keys the previous input
// ended with. It reports whether the sequence is complete.
func scanDetach(in, keys []byte, matched int) (out []byte, stillMatched int, detach bool) {
	if len(keys) == 0 {
		return in, 0, false
	}
	for _, b := range in {
		if b == keys[matched] {
			matched++
			if matched == len(keys) {
				return out, 0, true
			}
			continue
		}
		out = append(out, keys[:matched]...)
		matched = 0
		if b == keys[0] {
			matched = 1
			continue
		}
		out = append(out, b)
	}
	return out, matched, false
}

// parseDetachKeys reads docker's detach key list ("ctrl-p,ctrl-q"; "" is
// that default): ctrl-a..ctrl-z, ctrl-@, ctrl-[, ctrl-\, ctrl-], ctrl-^,
// ctrl-_ and single characters.
func parseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		s = "ctrl-p,ctrl-q"
	}
	var keys []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			keys = append(keys, k[0])
		case len(k) == 6 && strings.HasPrefix(strings.ToLower(k), "ctrl-"):
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				keys = append(keys, c-'a'+1)
			case c >= 'A' && c <= 'Z':
				keys = append(keys, c-'A'+1)
			case c >= '@' && c <= '_':
				keys = append(keys, c-'@')
			default:
				return nil, errdefs.InvalidArgument(fmt.Errorf("invalid detach keys (%s) provided", s))
			}
		default:
			return nil, errdefs.InvalidArgument(fmt.Errorf("invalid detach keys (%s) provided", s))
		}
	}
	return keys, nil
}

// ContainerResize is POST /containers/{id}/resize.
func (s *Containers) ContainerResize(ctx context.Context, name string, height, width int) error {
	c, err := s.get(name)
	if err != nil {
		return err
	}
	if err := c.State.Check(ccontainer.OpResize, c.ID); err != nil {
		return err
	}
	m, err := s.monitorOf(ctx, c)
	if err != nil {
		return err
	}
	return m.Resize(ctx, uint16(height), uint16(width))
}

// ContainerLogs is GET /containers/{id}/logs.
func (s *Containers) ContainerLogs(ctx context.Context, name string, opts api.ContainerLogsOptions) (<-chan api.LogMessage, bool, error) {
	c, err := s.get(name)
	if err != nil {
		return nil, false, err
	}
	if t := c.HostConfig.LogConfig.Type; t != "" && t != "json-file" {
		return nil, false, errdefs.Wrap(errdefs.ErrNotImplemented, errors.New("configured logging driver does not support reading"))
	}
	lo := monitor.LogOptions{Follow: opts.Follow, Since: opts.Since, Until: opts.Until, Tail: opts.Tail,
		Stdout: opts.Stdout, Stderr: opts.Stderr}
	if opts.Follow {
		lo.Done = s.exitSignal(ctx, c.ID)
		// The running container's monitor hands the reader each log file
		// it makes; without one nothing writes the log any more.
		m, err := s.monitorOf(ctx, c)
		if err != nil && !errdefs.IsConflict(err) {
			return nil, false, err
		}
		lo.Monitor = m
	}
	out := make(chan api.LogMessage, 64)
	go func() {
		defer close(out)
		err := monitor.ReadLogEntries(ctx, c.LogPath, lo, func(e *monitor.LogEntry) error {
			m := api.LogMessage{Stream: "stdout", Line: append([]byte(nil), e.Line...), Timestamp: e.Time}
			if e.Stream == monitor.StreamStderr {
				m.Stream = "stderr"
			}
			select {
			case out <- m:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if err != nil && ctx.Err() == nil {
			select {
			case out <- api.LogMessage{Err: err}:
			case <-ctx.Done():
			}
		}
	}()
	return out, c.Config.Tty, nil
}

// exitSignal is a channel closed when container id is not running (at
// once if it is not running now), or ctx ends.
func (s *Containers) exitSignal(ctx context.Context, id string) <-chan struct{} {
	done := make(chan struct{})
	w := s.addWaiter(id, false)
	c, err := s.get(id)
	if err != nil || !c.State.Running || c.State.Restarting {
		s.dropWaiter(id, w)
		close(done)
		return done
	}
	go func() {
		// The monitor has written the last entries before it records the
		// exit, so the log is complete when the waiter wakes.
		s.await(ctx, id, w)
		close(done)
	}()
	return done
}
