package client

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/corral-dev/corral/api"
)

// HijackedResponse is the connection of an attach or an exec start after
// the daemon answered 101 UPGRADED: the process's output is read from
// Reader (which holds what came with the answer), its input written to
// Conn. Without a TTY the output is multiplexed (StdCopy reads it).
type HijackedResponse struct {
	Conn   net.Conn
	Reader *bufio.Reader
	// mediaType is the answer's Content-Type.
	mediaType string
}

// Close closes the connection; a zero HijackedResponse (a detached exec)
// has nothing to close.
func (h HijackedResponse) Close() {
	if h.Conn != nil {
		_ = h.Conn.Close()
	}
}

// CloseWrite half-closes the connection: the daemon reads the end of the
// process's input while the output goes on.
func (h HijackedResponse) CloseWrite() error {
	if cw, ok := h.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// MediaType is the answer's Content-Type (multiplexed-stream or
// raw-stream) and whether the daemon said one.
func (h HijackedResponse) MediaType() (string, bool) {
	return h.mediaType, h.mediaType != ""
}

// dialer is the transport's dial, so that a hijacked connection goes where
// every other request goes.
func (c *Client) dialer() (func(ctx context.Context, network, addr string) (net.Conn, error), error) {
	tr, ok := c.http.Transport.(*http.Transport)
	if !ok || tr.DialContext == nil {
		return nil, errors.New("hijack connection: the client's transport cannot dial")
	}
	return tr.DialContext, nil
}

// hijack sends req on a connection of its own with Connection: Upgrade and
// Upgrade: tcp and answers the connection once the daemon has answered 101.
// An error status is the decoded error; another success status is refused,
// as the docker client refuses it.
func (c *Client) hijack(ctx context.Context, req request) (HijackedResponse, error) {
	v, err := c.negotiate(ctx)
	if err != nil {
		return HijackedResponse{}, err
	}
	u := c.base
	u.Path = "/v" + v + req.path
	u.RawQuery = req.query.Encode()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), req.body)
	if err != nil {
		return HijackedResponse{}, fmt.Errorf("make request: %w", err)
	}
	for k, vs := range req.header {
		hr.Header[k] = vs
	}
	hr.Header.Set("User-Agent", "corral-client/"+api.APIVersion)
	hr.Header.Set("Connection", "Upgrade")
	hr.Header.Set("Upgrade", "tcp")
	dial, err := c.dialer()
	if err != nil {
		return HijackedResponse{}, err
	}
	conn, err := dial(ctx, "", "")
	if err != nil {
		if ctx.Err() != nil {
			return HijackedResponse{}, context.Cause(ctx)
		}
		return HijackedResponse{}, &ConnectError{Host: c.host, Err: err}
	}
	h, err := upgrade(ctx, conn, hr)
	if err != nil {
		_ = conn.Close()
		return HijackedResponse{}, err
	}
	return h, nil
}

// upgrade writes hr on conn and reads the answer. The connection is closed
// if ctx ends before the answer.
func upgrade(ctx context.Context, conn net.Conn, hr *http.Request) (HijackedResponse, error) {
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := hr.Write(conn); err != nil {
		return HijackedResponse{}, ctxOr(ctx, fmt.Errorf("send %s %s: %w", hr.Method, hr.URL.Path, err))
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, hr)
	if err != nil {
		return HijackedResponse{}, ctxOr(ctx, fmt.Errorf("read answer of %s %s: %w", hr.Method, hr.URL.Path, err))
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		return HijackedResponse{}, decodeError(resp)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		_ = resp.Body.Close()
		return HijackedResponse{}, fmt.Errorf("unable to upgrade to tcp, received %d", resp.StatusCode)
	}
	if !stop() {
		return HijackedResponse{}, context.Cause(ctx)
	}
	_ = conn.SetDeadline(time.Time{})
	return HijackedResponse{Conn: conn, Reader: br, mediaType: resp.Header.Get("Content-Type")}, nil
}

// ctxOr is the context's cause if it ended, else err.
func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// The streams of the 8-byte header protocol.
const (
	streamStdin  = 0
	streamStdout = 1
	streamStderr = 2
	// streamSystemErr carries an error of the daemon, which ends the
	// stream.
	streamSystemErr = 3
)

// StdCopy demultiplexes a non-TTY attach, exec or logs stream: frames of an
// 8-byte header [stream, 0, 0, 0, length uint32 big-endian] and a payload,
// stdout's payloads copied to stdout, stderr's to stderr (a nil writer
// drops them). It returns the bytes written and nil at the end of src, or
// the first error: a write, a truncated frame, an unknown stream, or the
// daemon's error frame ("error from daemon in stream: ...").
func StdCopy(stdout, stderr io.Writer, src io.Reader) (int64, error) {
	var header [8]byte
	var written int64
	for {
		if _, err := io.ReadFull(src, header[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return written, nil
			}
			return written, fmt.Errorf("read stream header: %w", err)
		}
		size := int64(binary.BigEndian.Uint32(header[4:]))
		var dst io.Writer
		switch header[0] {
		case streamStdin, streamStdout:
			dst = stdout
		case streamStderr:
			dst = stderr
		case streamSystemErr:
			msg, err := io.ReadAll(io.LimitReader(src, min(size, maxSystemErr)))
			if err == nil && int64(len(msg)) < min(size, maxSystemErr) {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				return written, fmt.Errorf("read stream frame: %w", err)
			}
			return written, fmt.Errorf("error from daemon in stream: %s", msg)
		default:
			//lint:ignore ST1005 docker's wording.
			return written, fmt.Errorf("Unrecognized input header: %d", header[0])
		}
		if dst == nil {
			dst = io.Discard
		}
		n, err := io.CopyN(dst, src, size)
		if dst != io.Discard {
			written += n
		}
		if errors.Is(err, io.EOF) {
			return written, fmt.Errorf("read stream frame: %w", io.ErrUnexpectedEOF)
		}
		if err != nil {
			return written, err
		}
	}
}

// maxSystemErr bounds the daemon's error message read from a stream.
const maxSystemErr = 64 << 10
