package daemon

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/jsonstream"

	cimage "github.com/corral-dev/corral/image"
)

// message is one message of a JSON stream as dockerd writes it: with the
// legacy "error" field beside errorDetail.
type message struct {
	jsonstream.Message
	ErrorMessage string `json:"error,omitempty"`
}

// streamMode says what an operation's failure becomes.
type streamMode int

const (
	// lazy: a failure before the first byte is the call's error (an HTTP
	// error status), after it a message in the stream; dockerd answers
	// pull, push, import and save so.
	lazy streamMode = iota
	// eager: the stream starts at once and failures are messages in it
	// (load).
	eager
)

// startStream runs op in the background writing to a pipe and returns the
// pipe's reader once op has written something or ended. Closing the reader
// cancels op and waits for it to return. With lazy, an op that fails before writing returns its error
// here. A failure after that goes to onErr, which writes it into the
// stream, or, with no onErr, is the error of the reader's last Read.
func startStream(ctx context.Context, mode streamMode, op func(ctx context.Context, w io.Writer) error,
	onErr func(w io.Writer, err error)) (io.ReadCloser, error) {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	sw := &startWriter{w: pw, started: make(chan struct{})}
	if mode == eager {
		sw.start()
	}
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		err := op(ctx, sw)
		done <- err
		if err != nil && sw.hasStarted() && onErr != nil {
			onErr(sw, err)
			err = nil // told in the stream
		}
		pw.CloseWithError(err)
	}()
	select {
	case <-sw.started:
		return &cancelReader{ReadCloser: pr, cancel: cancel, finished: finished}, nil
	case err := <-done:
		if err != nil && !sw.hasStarted() {
			cancel()
			return nil, err
		}
		return &cancelReader{ReadCloser: pr, cancel: cancel, finished: finished}, nil
	}
}

// startWriter signals its first write.
type startWriter struct {
	w       io.Writer
	once    sync.Once
	started chan struct{}
}

func (s *startWriter) start() { s.once.Do(func() { close(s.started) }) }

func (s *startWriter) hasStarted() bool {
	select {
	case <-s.started:
		return true
	default:
		return false
	}
}

func (s *startWriter) Write(p []byte) (int, error) {
	s.start()
	return s.w.Write(p)
}

// cancelReader cancels the operation behind it when closed, and waits for
// it to end.
type cancelReader struct {
	io.ReadCloser
	cancel   context.CancelFunc
	finished <-chan struct{}
}

func (c *cancelReader) Close() error {
	c.cancel()
	err := c.ReadCloser.Close() // the operation's writes fail from now on
	<-c.finished
	return err
}

// jsonWriter writes JSON messages, one call at a time.
type jsonWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
	// held is a message kept back (see holdFirst).
	held *message
	// holdFirst keeps a "Pulling from" status back until the next message:
	// dockerd only starts its answer once the manifest was found.
	holdFirst bool
}

func newJSONWriter(w io.Writer) *jsonWriter {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &jsonWriter{enc: enc}
}

func (j *jsonWriter) write(m message) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.holdFirst && j.held == nil && strings.HasPrefix(m.Status, "Pulling from ") {
		j.held = &m
		return
	}
	if j.held != nil {
		_ = j.enc.Encode(j.held)
		j.held, j.holdFirst = nil, false
	}
	_ = j.enc.Encode(m)
}

// writeError ends a stream with an error message.
func (j *jsonWriter) writeError(err error) {
	j.write(message{Message: jsonstream.Message{Error: &jsonstream.Error{Message: err.Error()}}, ErrorMessage: err.Error()})
}

// layerActions are the statuses dockerd sends about one layer, with a
// progressDetail (empty when there are no byte counts).
var layerActions = map[string]bool{
	cimage.ActionPullingLayer: true, cimage.ActionWaiting: true, cimage.ActionDownloading: true,
	cimage.ActionVerifying: true, cimage.ActionDownloadComplete: true, cimage.ActionExtracting: true,
	cimage.ActionPullComplete: true, cimage.ActionAlreadyExists: true, cimage.ActionPreparing: true,
	cimage.ActionPushing: true, cimage.ActionPushed: true, cimage.ActionLayerExists: true,
	cimage.ActionLoading: true,
}

// progressMessage turns a store progress event into dockerd's message.
func progressMessage(p cimage.Progress) message {
	m := message{Message: jsonstream.Message{Status: p.Action, ID: p.ID}}
	if layerActions[p.Action] || strings.HasPrefix(p.Action, "Mounted from ") {
		m.Progress = &jsonstream.Progress{Current: p.Current, Total: p.Total}
	}
	return m
}
