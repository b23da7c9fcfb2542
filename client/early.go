package client

import (
	"context"
	"net"
	"sync"
)

// early is a connection dialed before the first request (Connect).
type early struct {
	// mu guards conn: nil once taken, or without Connect.
	mu   sync.Mutex
	conn net.Conn
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
	c.early.conn = conn
	return nil
}

// take answers the early connection, once; nil if there is none.
func (e *early) take() net.Conn {
	e.mu.Lock()
	defer e.mu.Unlock()
	conn := e.conn
	e.conn = nil
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
