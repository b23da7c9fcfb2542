package monitor

import (
	"net"
	"sync"
	"time"
)

// session is one attached client's output side: frames (or raw bytes, with
// a terminal) queued for a writer goroutine. A client whose queue reaches
// its bound holds up the output (back-pressure, as dockerd's attach): the
// container's writes wait rather than the client losing output; the log has
// been written first. A client that goes away is dropped.
type session struct {
	conn    *net.UnixConn
	streams [3]bool // which output streams it wants
	limit   int
	wake    chan struct{} // cap 1: the writer has something to do

	mu sync.Mutex // guards the fields below
	// space is signalled when the writer took the queue, or the session
	// ended.
	space    *sync.Cond
	queue    [][]byte
	queued   int
	finished bool // no more output: flush and close
	dropped  bool // closed: queue nothing more
}

func newSession(conn *net.UnixConn, stdout, stderr bool, limit int) *session {
	a := &session{conn: conn, streams: [3]bool{false, stdout, stderr}, limit: limit,
		wake: make(chan struct{}, 1)}
	a.space = sync.NewCond(&a.mu)
	return a
}

// push queues b (never modified afterwards) for the client, waiting while
// the queue is at its bound.
func (a *session) push(stream byte, b []byte) {
	if !a.streams[stream] {
		return
	}
	a.mu.Lock()
	for a.queued > 0 && a.queued+len(b) > a.limit && !a.dropped && !a.finished {
		a.space.Wait()
	}
	if a.dropped || a.finished {
		a.mu.Unlock()
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
	a.space.Broadcast()
	a.mu.Unlock()
	a.signal()
}

// drop closes the connection at once (the client went away).
func (a *session) drop() {
	a.mu.Lock()
	a.dropped = true
	a.queue, a.queued = nil, 0
	a.space.Broadcast()
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
		a.space.Broadcast()
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
