package client

import (
	"context"
	"net"
	"sync"
	"time"
)

// earlyMaxAge is how long an early connection is kept for the first
// request: a daemon closes a connection that sends nothing for a while
// (corrald after 30 s, its header timeout), and the transport does not
// retry a request that fails on a connection it has just been handed.
const earlyMaxAge = 5 * time.Second

// early is a connection dialed before the first request (Connect).
type early struct {
	// mu guards conn and at: conn is nil once taken, or without Connect.
	mu   sync.Mutex
	conn net.Conn
	at   time.Time // when conn was dialed
}

// Connect dials the daemon now rather than at the first request, which
// then goes over this connection. A command line that must tell an absent
// daemon (to start one) from a present one learns it so without a round
// trip: the error is the dial's, as a *ConnectError (see IsDaemonAbsent).
func (c *Client) Connect(ctx context.Context) error {
	conn, err := c.dial(ctx)
	if err != nil {
		return &ConnectError{Host: c.host, Err: err}
	}
	c.early.mu.Lock()
	defer c.early.mu.Unlock()
	if c.early.conn != nil {
		_ = c.early.conn.Close()
	}
	c.early.conn, c.early.at = conn, time.Now()
	return nil
}

// take answers the early connection, once; nil if there is none, or it is
// older than earlyMaxAge (it is closed then).
func (e *early) take() net.Conn {
	e.mu.Lock()
	defer e.mu.Unlock()
	conn := e.conn
	e.conn = nil
	if conn != nil && time.Since(e.at) > earlyMaxAge {
		_ = conn.Close()
		return nil
	}
	return conn
}

// dialContext is the transport's dial: the early connection if there is
// one, else a new one.
func (c *Client) dialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	if conn := c.early.take(); conn != nil {
		return conn, nil
	}
	return c.dial(ctx)
}
