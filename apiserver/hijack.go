package apiserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/corral-dev/corral/api"
)

// session is the stream side of one attach or exec start: it hijacks the
// connection when the backend asks for the streams, and closes it at the
// end.
type session struct {
	srv *Server
	w   http.ResponseWriter
	r   *http.Request
	// which streams the client asked for
	stdin, stdout, stderr bool

	// mu guards the fields below: the backend may call streams from any
	// goroutine.
	mu     sync.Mutex
	called bool
	conn   net.Conn
	out    io.Writer // the stdout writer, for an error after the upgrade
}

func (s *Server) newSession(w http.ResponseWriter, r *http.Request, stdin, stdout, stderr bool) *session {
	return &session{srv: s, w: w, r: r, stdin: stdin, stdout: stdout, stderr: stderr}
}

// streams is the session's api.StreamsFunc.
func (ss *session) streams(tty bool) (api.Streams, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.called {
		return api.Streams{}, errors.New("streams of the connection were already taken")
	}
	ss.called = true
	// What is left of the body must not pass for stdin.
	_, _ = io.Copy(io.Discard, ss.r.Body)
	conn, br, err := ss.hijack(streamType(ss.r, tty))
	if err != nil {
		return api.Streams{}, err
	}
	ss.conn = conn
	var st api.Streams
	stdout, stderr := outputs(conn, tty)
	ss.out = stdout
	if ss.stdin {
		st.Stdin = &stdinReader{br: br, conn: conn}
	}
	if ss.stdout {
		st.Stdout = stdout
	}
	if ss.stderr {
		st.Stderr = stderr
	}
	return st, nil
}

// hijack takes the connection over and answers 101 UPGRADED with
// contentType, or 200 OK to a client that did not ask to upgrade. The
// request body must have been read: what the client sent after it (stdin)
// is in the returned reader.
func (ss *session) hijack(contentType string) (net.Conn, *bufio.Reader, error) {
	conn, rw, err := http.NewResponseController(ss.w).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("hijack connection: %w", err)
	}
	ss.srv.track(conn)
	_ = conn.SetDeadline(time.Time{})
	status := "HTTP/1.1 200 OK\r\n"
	if _, ok := ss.r.Header["Upgrade"]; ok {
		status = "HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
	}
	w := bufio.NewWriter(conn)
	_, _ = w.WriteString(status + "Content-Type: " + contentType + "\r\n")
	_ = ss.w.Header().WriteSubset(w, map[string]bool{"Content-Type": true, "Connection": true, "Upgrade": true})
	_, _ = w.WriteString("\r\n")
	if err := w.Flush(); err != nil {
		ss.srv.untrack(conn)
		_ = conn.Close()
		return nil, nil, fmt.Errorf("answer upgrade: %w", err)
	}
	return conn, rw.Reader, nil
}

// upgraded reports whether the connection was taken over.
func (ss *session) upgraded() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.conn != nil
}

// finish ends the session after the backend returned err: before the
// upgrade err is the HTTP answer (a backend that neither failed nor asked
// for the streams still gets an upgraded, empty stream); after it, err is
// written into the stream if tell is set, and the connection is closed.
func (ss *session) finish(err error, tell bool) error {
	if !ss.upgraded() {
		if err != nil {
			return err
		}
		if _, serr := ss.streams(false); serr != nil {
			return serr
		}
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if err != nil {
		ss.srv.log.Debug("stream ended with an error", "path", ss.r.URL.Path, "err", err)
		if tell {
			_, _ = io.WriteString(ss.out, err.Error()+"\r\n")
		}
	}
	ss.srv.untrack(ss.conn)
	_ = ss.conn.Close()
	return nil
}

// stdinReader reads the client's stdin from a hijacked connection: first
// what the HTTP server had buffered, then the connection. It ends with
// io.EOF when the client half-closes (CloseWrite) its side.
type stdinReader struct {
	br   *bufio.Reader
	conn net.Conn
}

func (s *stdinReader) Read(p []byte) (int, error) { return s.br.Read(p) }

// Close stops reading the connection: a Read blocked on it returns.
func (s *stdinReader) Close() error {
	if cr, ok := s.conn.(interface{ CloseRead() error }); ok {
		return cr.CloseRead()
	}
	return nil
}
