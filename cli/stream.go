package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"golang.org/x/term"

	"github.com/corral-dev/corral/client"
)

// streamer carries a hijacked attach or exec connection to the user's
// streams, as docker's CLI does: output copied until the daemon closes the
// connection (demultiplexed without a TTY), input copied until its end and
// then half-closed, and with a TTY a raw terminal and the detach keys.
type streamer struct {
	// in is nil when input is not attached; out and errOut are nil when
	// not attached (errOut is out with a TTY).
	in          io.Reader
	out, errOut io.Writer
	resp        client.HijackedResponse
	tty         bool
	detachKeys  string
}

// errDetached is the user typing the detach keys: docker's
// term.EscapeError, whose text attach prints.
var errDetached = errors.New("read escape sequence")

// defaultDetachKeys are ctrl-p, ctrl-q.
var defaultDetachKeys = []byte{16, 17}

// stream runs s until the output ends, the input ends and then the output,
// the user detaches (errDetached) or ctx ends.
func (c *cli) stream(ctx context.Context, s streamer) error {
	restore, err := c.setupInput(&s)
	if err != nil {
		return fmt.Errorf("unable to setup input stream: %s", err)
	}
	defer restore()
	outputDone := s.beginOutput(restore)
	inputDone, detached := s.beginInput(restore)
	select {
	case err := <-outputDone:
		return err
	case <-inputDone:
		if s.out == nil && s.errOut == nil {
			return nil
		}
		select {
		case err := <-outputDone:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	case err := <-detached:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setupInput makes the user's terminal raw and watches the input for the
// detach keys, when there is input and a TTY. The restore it answers may
// be called more than once.
func (c *cli) setupInput(s *streamer) (restore func(), err error) {
	if s.in == nil || !s.tty {
		return func() {}, nil
	}
	restore = func() {}
	if n, ok := fd(c.in); ok && term.IsTerminal(n) {
		state, err := term.MakeRaw(n)
		if err != nil {
			return nil, err
		}
		restore = sync.OnceFunc(func() { _ = term.Restore(n, state) })
	}
	keys := defaultDetachKeys
	if s.detachKeys != "" {
		if k, err := parseDetachKeys(s.detachKeys); err == nil {
			keys = k
		}
	}
	s.in = &escapeProxy{r: s.in, keys: keys}
	return restore, nil
}

// beginOutput copies the connection's output; nil when no output is
// attached.
func (s *streamer) beginOutput(restore func()) <-chan error {
	if s.out == nil && s.errOut == nil {
		return nil
	}
	done := make(chan error, 1)
	go func() {
		var err error
		if s.out != nil && s.tty {
			_, err = io.Copy(s.out, s.resp.Reader)
			// Restore the terminal at once, so that what is printed
			// next looks normal.
			restore()
		} else {
			_, err = client.StdCopy(s.out, s.errOut, s.resp.Reader)
		}
		done <- err
	}()
	return done
}

// beginInput copies the input to the connection, then half-closes it: the
// process sees the end of its input, its output goes on. The second
// channel gets errDetached if the user typed the detach keys.
func (s *streamer) beginInput(restore func()) (<-chan struct{}, <-chan error) {
	done := make(chan struct{})
	detached := make(chan error, 1)
	go func() {
		if s.in != nil {
			_, err := io.Copy(s.resp.Conn, s.in)
			restore()
			if errors.Is(err, errDetached) {
				detached <- err
				return
			}
		}
		_ = s.resp.CloseWrite()
		close(done)
	}()
	return done, detached
}

// escapeProxy passes its input through until the escape sequence (the
// detach keys), which it swallows and answers with errDetached. Bytes that
// begin the sequence are held back until it is clear they are not it.
type escapeProxy struct {
	r    io.Reader
	keys []byte
	// matched is how many of keys the input just matched (held back).
	matched int
	pending []byte
	err     error
	buf     []byte
}

func (p *escapeProxy) Read(b []byte) (int, error) {
	for len(p.pending) == 0 && p.err == nil {
		if cap(p.buf) < len(b) {
			p.buf = make([]byte, len(b))
		}
		n, err := p.r.Read(p.buf[:len(b)])
		p.scan(p.buf[:n])
		if err != nil && p.err == nil {
			p.pending = append(p.pending, p.keys[:p.matched]...)
			p.matched = 0
			p.err = err
		}
	}
	if len(p.pending) > 0 {
		n := copy(b, p.pending)
		p.pending = p.pending[n:]
		return n, nil
	}
	return 0, p.err
}

// scan moves the bytes of in that are not (the start of) the escape
// sequence to pending; the whole sequence ends the input.
func (p *escapeProxy) scan(in []byte) {
	for _, c := range in {
		if c == p.keys[p.matched] {
			p.matched++
			if p.matched == len(p.keys) {
				p.matched = 0
				p.err = errDetached
				return
			}
			continue
		}
		if p.matched > 0 {
			p.pending = append(p.pending, p.keys[:p.matched]...)
			p.matched = 0
			if c == p.keys[0] {
				p.matched = 1
				continue
			}
		}
		p.pending = append(p.pending, c)
	}
}

// parseDetachKeys reads docker's detach key syntax: a comma-separated
// list of single characters, ctrl-<a-z@[\]^_> and DEL.
func parseDetachKeys(keys string) ([]byte, error) {
	var out []byte
	for _, k := range strings.Split(keys, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case k == "DEL":
			out = append(out, 127)
		case len(k) == 6 && strings.HasPrefix(k, "ctrl-") && k[5] >= 'a' && k[5] <= 'z':
			out = append(out, k[5]-'a'+1)
		case len(k) == 6 && strings.HasPrefix(k, "ctrl-") && strings.IndexByte(`@[\]^_`, k[5]) >= 0:
			out = append(out, map[byte]byte{'@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, '_': 31}[k[5]])
		default:
			//lint:ignore ST1005 docker's wording.
			return nil, fmt.Errorf("Unknown character: '%s'", k)
		}
	}
	return out, nil
}

// attachStreams attaches to the container and streams on a goroutine of
// its own until it ends; the channel gets the stream's error. close ends
// the connection.
func (c *cli) attachStreams(ctx context.Context, ra ContainerRunAPI, id string, tty bool, opts attachTo) (<-chan error, func(), error) {
	resp, err := ra.ContainerAttach(ctx, id, opts.options())
	if err != nil {
		return nil, nil, err
	}
	s := streamer{resp: resp, tty: tty, detachKeys: opts.detachKeys}
	if opts.stdin {
		s.in = c.in
	}
	if opts.stdout {
		s.out = opts.out
	}
	if opts.stderr {
		s.errOut = opts.err
		if tty {
			s.errOut = opts.out
		}
	}
	ch := make(chan error, 1)
	go func() { ch <- c.stream(ctx, s) }()
	return ch, resp.Close, nil
}
