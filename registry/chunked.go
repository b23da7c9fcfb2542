package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// chunkedUpload sends a blob in PATCH requests of Options.ChunkSize bytes
// with Content-Range; when one fails it asks the session's offset and goes
// on from there.
type chunkedUpload struct {
	c        *Client
	t        target
	desc     ocispec.Descriptor
	open     func() (io.ReadCloser, error)
	location string

	src      io.ReadCloser // positioned at off; nil when unknown
	off      int64         // bytes the registry has
	failures int           // failed PATCHes since the last progress
}

func (u *chunkedUpload) run(ctx context.Context) error {
	defer u.closeSource()
	for u.off < u.desc.Size {
		if err := u.patch(ctx); err != nil {
			if err := u.recover(ctx, err); err != nil {
				return err
			}
		}
	}
	return u.c.finishUpload(ctx, u.t, u.location, u.desc, nil)
}

// patch sends the next chunk.
func (u *chunkedUpload) patch(ctx context.Context) error {
	if u.src == nil {
		if err := u.openSource(); err != nil {
			return err
		}
	}
	n := min(u.c.opts.ChunkSize, u.desc.Size-u.off)
	g := &guardedReader{r: io.LimitReader(u.src, n)}
	resp, err := u.c.do(ctx, &request{
		method: http.MethodPatch,
		domain: u.t.domain,
		path:   u.location,
		header: http.Header{
			"Content-Type":  {"application/octet-stream"},
			"Content-Range": {fmt.Sprintf("%d-%d", u.off, u.off+n-1)},
		},
		body:   func() (io.ReadCloser, error) { return g, nil },
		size:   n,
		scopes: u.t.scopes,
		once:   true,
	})
	g.detach() // the transport may still hold the body: cut it off
	if err != nil {
		u.closeSource() // how much of it was read is unknown
		return fmt.Errorf("upload bytes %d-%d: %w", u.off, u.off+n-1, err)
	}
	discard(resp)
	if end, ok := rangeEnd(resp.Header.Get("Range")); ok && end != u.off+n && u.off+n != 1 {
		u.closeSource()
		return fmt.Errorf("upload bytes %d-%d: registry has %d bytes", u.off, u.off+n-1, end)
	}
	u.off += n
	u.failures = 0
	if loc := resp.Header.Get("Location"); loc != "" {
		u.location = loc
	}
	return nil
}

// recover waits after a failed PATCH and learns the session's offset; an
// error means the session cannot go on.
func (u *chunkedUpload) recover(ctx context.Context, err error) error {
	u.failures++
	if u.failures > u.c.opts.Retries || !retriable(ctx, err) {
		return err
	}
	if serr := u.c.sleep(ctx, u.failures-1, err); serr != nil {
		return serr
	}
	resp, serr := u.c.do(ctx, &request{method: http.MethodGet, domain: u.t.domain, path: u.location, scopes: u.t.scopes})
	if serr != nil {
		return fmt.Errorf("%w; then upload status: %w", err, serr)
	}
	discard(resp)
	end, ok := rangeEnd(resp.Header.Get("Range"))
	if !ok || end > u.desc.Size {
		return fmt.Errorf("%w; then upload status: bad range %q", err, resp.Header.Get("Range"))
	}
	u.closeSource()
	u.off = end
	if loc := resp.Header.Get("Location"); loc != "" {
		u.location = loc
	}
	return nil
}

// rangeEnd parses an upload's Range "0-<last byte>" into the number of
// bytes the registry has. distribution writes "0-0" for both 0 and 1 byte;
// it is read as 0.
func rangeEnd(v string) (int64, bool) {
	first, last, ok := strings.Cut(strings.TrimPrefix(v, "bytes="), "-")
	if !ok || first != "0" {
		return 0, false
	}
	n, err := strconv.ParseInt(last, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	if n == 0 {
		return 0, true
	}
	return n + 1, true
}

// openSource opens the blob and moves to off.
func (u *chunkedUpload) openSource() error {
	src, err := u.open()
	if err != nil {
		return noRetry(fmt.Errorf("open blob: %w", err))
	}
	if s, ok := src.(io.Seeker); ok {
		_, err = s.Seek(u.off, io.SeekStart)
	} else {
		_, err = io.CopyN(io.Discard, src, u.off)
	}
	if err != nil {
		src.Close()
		return noRetry(fmt.Errorf("skip to byte %d of blob: %w", u.off, err))
	}
	u.src = src
	return nil
}

func (u *chunkedUpload) closeSource() {
	if u.src != nil {
		u.src.Close()
		u.src = nil
	}
}

// guardedReader is a request body the upload can take back: after detach,
// the HTTP transport (which may read a body after the request returned)
// reads nothing more of the source, and its Close leaves the source open.
type guardedReader struct {
	mu       sync.Mutex
	r        io.Reader
	detached bool
}

var errDetached = errors.New("request body detached")

func (g *guardedReader) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.detached {
		return 0, errDetached
	}
	return g.r.Read(p)
}

func (g *guardedReader) Close() error { return nil }

func (g *guardedReader) detach() {
	g.mu.Lock()
	g.detached = true
	g.mu.Unlock()
}
