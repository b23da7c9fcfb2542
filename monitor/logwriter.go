package monitor

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// maxLogLine is the longest message one log entry holds, as Docker's
// json-file: a longer line is split into partial entries (whose "log" does
// not end in a newline), as is output that reaches this size with no
// newline at all.
const maxLogLine = 16 << 10

// keepBuf is the largest buffer the log writer keeps between entries.
const keepBuf = 4 << 10

// logWriter writes the container's output to a json-file log, one entry a
// line: {"log":"...","stream":"stdout","time":"RFC3339Nano"}, rotating the
// file at maxSize and keeping maxFiles files (path, path.1, ...).
// Writes never wait for anything but the file.
type logWriter struct {
	path     string
	maxSize  int64 // < 0: never rotate
	maxFiles int

	mu      sync.Mutex // guards the fields below; stdout and stderr write concurrently
	f       *os.File
	size    int64
	pending [3][]byte // per stream: the line begun but not ended
	buf     []byte    // the entry being encoded
	errs    int       // failed writes, for the monitor's own log
}

// openLog opens (appending) or creates the log at path.
func openLog(path string, maxSize int64, maxFiles int) (*logWriter, error) {
	w := &logWriter{path: path, maxSize: maxSize, maxFiles: maxFiles}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *logWriter) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open log: %w", err)
	}
	w.f, w.size = f, st.Size()
	return nil
}

// Write logs p, output of stream read at t, splitting it into entries.
func (w *logWriter) Write(stream byte, p []byte, t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	pend := w.pending[stream]
	for len(p) > 0 {
		room := maxLogLine - len(pend)
		window := p[:min(len(p), room+1)] // content up to room, then its newline
		if i := bytes.IndexByte(window, '\n'); i >= 0 {
			pend = w.emit(stream, pend, p[:i+1], t)
			p = p[i+1:]
			continue
		}
		if len(p) < room {
			pend = append(pend, p...)
			break
		}
		pend = w.emit(stream, pend, p[:room], t) // a partial entry
		p = p[room:]
	}
	w.pending[stream] = pend
}

// Flush writes what is left of a line begun on stream, at its end.
func (w *logWriter) Flush(stream byte, t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending[stream]) > 0 {
		w.pending[stream] = w.emit(stream, w.pending[stream], nil, t)
	}
}

// emit writes the entry pend+msg and returns pend emptied (and let go of
// when it grew large, so an idle container holds no big buffer).
func (w *logWriter) emit(stream byte, pend, msg []byte, t time.Time) []byte {
	if len(pend) == 0 {
		w.writeEntry(stream, msg, t)
		return pend
	}
	pend = append(pend, msg...)
	w.writeEntry(stream, pend, t)
	if cap(pend) > keepBuf {
		return nil
	}
	return pend[:0]
}

// writeEntry encodes one entry and appends it, rotating first if it would
// take the file past maxSize.
func (w *logWriter) writeEntry(stream byte, msg []byte, t time.Time) {
	b := append(w.buf[:0], `{"log":`...)
	b = appendJSONString(b, msg)
	if stream == StreamStderr {
		b = append(b, `,"stream":"stderr","time":"`...)
	} else {
		b = append(b, `,"stream":"stdout","time":"`...)
	}
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, "\"}\n"...)
	if cap(b) > keepBuf {
		w.buf = nil // a long line's: not kept while idle
	} else {
		w.buf = b
	}
	if w.maxSize > 0 && w.size > 0 && w.size+int64(len(b)) > w.maxSize {
		if err := w.rotate(); err != nil {
			w.errs++
		}
	}
	if w.f == nil {
		w.errs++
		return
	}
	n, err := w.f.Write(b)
	w.size += int64(n)
	if err != nil {
		w.errs++
	}
}

// rotate shifts path.i to path.i+1 (dropping the oldest), path to path.1,
// and starts a new file. Readers holding the old file read it to its end
// and move on; no file is ever truncated in place.
func (w *logWriter) rotate() error {
	w.f.Close()
	w.f = nil
	var err error
	if w.maxFiles <= 1 {
		err = os.Remove(w.path)
	} else {
		err = os.Remove(rotated(w.path, w.maxFiles-1))
		for i := w.maxFiles - 2; i >= 1; i-- {
			if e := os.Rename(rotated(w.path, i), rotated(w.path, i+1)); e != nil && !os.IsNotExist(e) {
				err = e
			}
		}
		if e := os.Rename(w.path, rotated(w.path, 1)); e != nil {
			err = e
		}
	}
	if err != nil && !os.IsNotExist(err) {
		err = fmt.Errorf("rotate log: %w", err)
	} else {
		err = nil
	}
	if oerr := w.open(); oerr != nil {
		return oerr
	}
	return err
}

// Close closes the file.
func (w *logWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// rotated is the name of the i-th rotated file.
func rotated(path string, i int) string {
	if i == 0 {
		return path
	}
	return path + "." + strconv.Itoa(i)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, as encoding/json writes it:
// control characters, <, > and & escaped, U+2028 and U+2029 escaped,
// invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b, s []byte) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			b = appendEscaped(b, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			switch r {
			case utf8.RuneError:
				b = append(b, `\ufffd`...)
			default:
				b = append(b, `\u202`...)
				b = append(b, hexDigits[r&0xf])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendEscaped appends the escape of one ASCII byte.
func appendEscaped(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}
