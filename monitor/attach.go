package monitor

import (
	"net"
	"sync"
	"time"
)

// session is one attached client's output side: frames (or raw bytes, with
// a terminal) queued for a writer goroutine, so that a slow client never
// holds up the container or the log. A client whose queue passes its bound
// is disconnected; the log still has everything.
type session struct {
	conn    *net.UnixConn
	streams [3]bool // which output streams it wants
	limit   int
	wake    chan struct{} // cap 1: the writer has something to do

	mu       sync.Mutex // guards the fields below
	queue    [][]byte
	queued   int
	finished bool // no more output: flush and close
	dropped  bool // closed: queue nothing more
}

func newSession(conn *net.UnixConn, stdout, stderr bool, limit int) *session {
	return &session{conn: conn, streams: [3]bool{false, stdout, stderr}, limit: limit,
		wake: make(chan struct{}, 1)}
}

// push queues b (never modified afterwards) for the client. Over the bound
// the client is disconnected.
func (a *session) push(stream byte, b []byte) {
	if !a.streams[stream] {
		return
	}
	a.mu.Lock()
	if a.dropped || a.finished {
		a.mu.Unlock()
		return
	}
	if a.queued+len(b) > a.limit {
		a.dropped = true
		a.queue, a.queued = nil, 0
		a.mu.Unlock()
		a.conn.Close()
		return
	}
	a.queue = append(a.queue, b)
	a.queued += len(b)
	a.mu.Unlock()
	a.signal()
}

func (a *session) signal() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// finish lets the writer flush what is queued and close the connection.
func (a *session) finish() {
	a.mu.Lock()
	a.finished = true
	a.mu.Unlock()
	a.signal()
}

// drop closes the connection at once (the client went away).
func (a *session) drop() {
	a.mu.Lock()
	a.dropped = true
	a.queue, a.queued = nil, 0
	a.mu.Unlock()
	a.conn.Close()
	a.signal()
}

// run writes queued output until the session is finished or dropped.
func (a *session) run(flushTimeout time.Duration) {
	defer a.conn.Close()
	for range a.wake {
		a.mu.Lock()
		q, finished, dropped := a.queue, a.finished, a.dropped
		a.queue, a.queued = nil, 0
		a.mu.Unlock()
		if dropped {
			return
		}
		if finished {
			a.conn.SetWriteDeadline(time.Now().Add(flushTimeout))
		}
		bufs := net.Buffers(q)
		if _, err := bufs.WriteTo(a.conn); err != nil {
			a.drop()
			return
		}
		if finished {
			a.mu.Lock()
			more := len(a.queue) > 0
			a.mu.Unlock()
			if !more {
				return
			}
			a.signal()
		}
	}
}
