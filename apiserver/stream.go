package apiserver

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/moby/moby/api/types"
	"github.com/moby/moby/api/types/jsonstream"
)

// The stream identifiers of the 8-byte header protocol (stdcopy).
const (
	streamStdin  = 0
	streamStdout = 1
	streamStderr = 2
	// streamSystemErr carries an error of the server; the docker client
	// ends the stream with it.
	streamSystemErr = 3
)

// maxFrame bounds the payload of one frame; a longer write is split.
const maxFrame = 32 << 10

// muxWriter writes each Write as frames of one stream: an 8-byte header
// [stream, 0, 0, 0, length as uint32 big-endian] and the payload. Writers
// of the streams of one connection share mu so that frames do not
// interleave.
type muxWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	stream byte
}

func (m *muxWriter) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	buf := make([]byte, 8+min(len(p), maxFrame))
	for len(p) > 0 {
		chunk := p[:min(len(p), maxFrame)]
		buf = buf[:8+len(chunk)]
		buf[0] = m.stream
		binary.BigEndian.PutUint32(buf[4:8], uint32(len(chunk)))
		copy(buf[8:], chunk)
		if _, err := m.w.Write(buf); err != nil {
			return n, err
		}
		n += len(chunk)
		p = p[len(chunk):]
	}
	return n, nil
}

// lockedWriter serializes writes (the raw TTY stream, written by stdout and
// stderr copiers).
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// outputs answers the stdout and stderr writers over w: frames of streams 1
// and 2, or the same raw writer with a TTY.
func outputs(w io.Writer, tty bool) (stdout, stderr io.Writer) {
	mu := &sync.Mutex{}
	if tty {
		raw := &lockedWriter{mu: mu, w: w}
		return raw, raw
	}
	return &muxWriter{mu: mu, w: w, stream: streamStdout}, &muxWriter{mu: mu, w: w, stream: streamStderr}
}

// streamType is the Content-Type of an attach, exec or logs stream: raw
// with a TTY, multiplexed without (announced so from API 1.42; clients
// before it were told raw-stream either way).
func streamType(r *http.Request, tty bool) string {
	if !tty && versionAtLeast(r, "1.42") {
		return types.MediaTypeMultiplexedStream
	}
	return types.MediaTypeRawStream
}

// flushWriter flushes the response after every write, so that each
// message of a stream reaches the client at once.
type flushWriter struct {
	w http.ResponseWriter
	f *http.ResponseController
}

func newFlushWriter(w http.ResponseWriter) *flushWriter {
	return &flushWriter{w: w, f: http.NewResponseController(w)}
}

func (f *flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.f.Flush()
	}
	if err != nil {
		return n, fmt.Errorf("%w: %w", errWriteFailed, err)
	}
	return n, nil
}

func (f *flushWriter) flush() error { return f.f.Flush() }

// jsonStream writes newline-delimited JSON objects, each flushed.
type jsonStream struct {
	fw  *flushWriter
	enc *json.Encoder
}

// startJSONStream answers 200 with Content-Type application/json and
// flushes the headers.
func startJSONStream(w http.ResponseWriter) *jsonStream {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	fw := newFlushWriter(w)
	_ = fw.flush()
	enc := json.NewEncoder(fw)
	enc.SetEscapeHTML(false)
	return &jsonStream{fw: fw, enc: enc}
}

func (s *jsonStream) send(v any) error { return s.enc.Encode(v) }

// streamMessage is a JSON stream message as dockerd writes it, with the
// legacy "error" beside errorDetail.
type streamMessage struct {
	jsonstream.Message
	Error string `json:"error,omitempty"`
}

// sendError ends a JSON message stream with err.
func (s *jsonStream) sendError(err error) error {
	return s.send(streamMessage{Message: jsonstream.Message{Error: &jsonstream.Error{Message: err.Error()}}, Error: err.Error()})
}

// copyJSONStream answers the backend's JSON message stream rc, flushed as
// it comes. A read failure becomes an error message at the end. The
// backend may still be reading the request's body (load streams progress
// while it reads the archive): the server must not discard the body's
// unread part when the answer starts, as net/http does by default for
// HTTP/1.
func copyJSONStream(w http.ResponseWriter, rc io.ReadCloser) {
	defer rc.Close()
	_ = http.NewResponseController(w).EnableFullDuplex()
	s := startJSONStream(w)
	if _, err := io.Copy(s.fw, rc); err != nil && !errors.Is(err, errWriteFailed) {
		_ = s.sendError(err)
	}
}

// copyBinary answers the backend's stream rc (a tar) with contentType. A
// read failure aborts the connection, so that the client sees a broken
// answer rather than a short one.
func copyBinary(w http.ResponseWriter, rc io.ReadCloser, contentType string) {
	defer rc.Close()
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		panic(http.ErrAbortHandler)
	}
}

// errWriteFailed marks a failure to write to the client (which left).
var errWriteFailed = errors.New("write to client failed")
