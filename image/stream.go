package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// layerStream hands a layer blob to its unpacker while it downloads, so
// that a pull decompresses and unpacks each layer as it arrives instead of
// after its download: the download tees what it reads into the stream (a
// bounded buffer: the download runs ahead of the unpacker by at most
// streamChunks chunks), and the unpacker commits nothing before the
// download has ended and its blob is verified and stored.
//
// The unpacker must read the stream to its end (or abort it, which fails
// the download): it drains what Apply left with wait.
type layerStream struct {
	p    *bufPipe
	once sync.Once
	done chan struct{} // closed when the download has ended
	err  error         // how it ended; read after done
}

func newLayerStream() *layerStream {
	return &layerStream{p: newBufPipe(), done: make(chan struct{})}
}

// tee returns r, whose reads are copied into the stream; r's EOF or error
// ends the stream's data (not the download: see end).
func (ls *layerStream) tee(r io.Reader) io.Reader { return &streamTee{r: r, ls: ls} }

type streamTee struct {
	r  io.Reader
	ls *layerStream
}

func (t *streamTee) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		if werr := t.ls.p.write(p[:n]); werr != nil {
			return n, fmt.Errorf("unpack while downloading: %w", werr)
		}
	}
	if err != nil {
		t.ls.p.closeWrite(err)
	}
	return n, err
}

// end records how the download ended (nil: the blob is verified and in
// the content store) and wakes the unpacker. Only the first call counts.
func (ls *layerStream) end(err error) {
	ls.once.Do(func() {
		ls.p.closeWrite(err)
		ls.err = err
		close(ls.done)
	})
}

// reader returns the unpacker's side of the stream. When ctx ends, reads
// fail (a download that never starts cannot block the unpacker); call stop
// when done reading.
func (ls *layerStream) reader(ctx context.Context) (r io.Reader, stop func()) {
	unhook := context.AfterFunc(ctx, func() { ls.p.closeRead(ctx.Err()) })
	return ls.p, func() { unhook() }
}

// abort fails the download with the unpacker's error err; the download of
// a layer that cannot be unpacked is of no use. A nil stream or err does
// nothing.
func (ls *layerStream) abort(err error) {
	if ls != nil && err != nil {
		ls.p.closeRead(err)
	}
}

// wait reads what the unpacker left of the stream and waits for the
// download to end; it returns the download's error, or ctx's. Once the
// download succeeded, rep gets the extraction of desc as done (the pull's
// events keep Docker's order: download complete, extracting, pull
// complete).
func (ls *layerStream) wait(ctx context.Context, rep *reporter, desc ocispec.Descriptor) error {
	r, stop := ls.reader(ctx)
	_, err := io.Copy(io.Discard, r)
	stop()
	select {
	case <-ls.done:
		if ls.err != nil {
			return ls.err
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	if err != nil && !errors.Is(err, io.ErrClosedPipe) {
		return fmt.Errorf("read layer download: %w", err)
	}
	rep.send(Progress{ID: ShortID(desc.Digest), Action: rep.extractAction(), Current: desc.Size, Total: desc.Size})
	return nil
}

// Geometry of a stream's buffer.
const (
	streamChunk  = 64 << 10
	streamChunks = 64
)

var chunkPool = sync.Pool{New: func() any {
	b := make([]byte, streamChunk)
	return &b
}}

// bufPipe is a pipe with a bounded buffer, for one writer and one reader
// at a time; either end can close it with an error.
type bufPipe struct {
	ch    chan pipeChunk
	rdone chan struct{} // closed by closeRead
	rerr  error         // why; set before rdone is closed
	ronce sync.Once
	wonce sync.Once
	// The reader's: the chunk being read, and the error that ended the
	// data (sticky).
	cur  []byte
	buf  *[]byte
	rend error
}

// pipeChunk is data, or the end of the data (err, io.EOF for a clean end).
type pipeChunk struct {
	b   *[]byte
	n   int
	err error
}

func newBufPipe() *bufPipe {
	return &bufPipe{ch: make(chan pipeChunk, streamChunks), rdone: make(chan struct{})}
}

// write copies p into the pipe, waiting for room; it fails once the reader
// closed the pipe.
func (bp *bufPipe) write(p []byte) error {
	for len(p) > 0 {
		b := chunkPool.Get().(*[]byte)
		n := copy(*b, p)
		select {
		case bp.ch <- pipeChunk{b: b, n: n}:
			p = p[n:]
		case <-bp.rdone:
			chunkPool.Put(b)
			return io.ErrClosedPipe
		}
	}
	return nil
}

// closeWrite ends the data with err (nil or io.EOF: a clean end). Only the
// first call counts.
func (bp *bufPipe) closeWrite(err error) {
	bp.wonce.Do(func() {
		if err == nil {
			err = io.EOF
		}
		select {
		case bp.ch <- pipeChunk{err: err}:
		case <-bp.rdone:
		}
	})
}

// closeRead makes reads fail with err and writes fail; only the first
// call counts.
func (bp *bufPipe) closeRead(err error) {
	bp.ronce.Do(func() {
		if err == nil {
			err = io.ErrClosedPipe
		}
		bp.rerr = err
		close(bp.rdone)
	})
}

func (bp *bufPipe) Read(p []byte) (int, error) {
	for len(bp.cur) == 0 {
		select {
		case <-bp.rdone:
			return 0, bp.rerr
		default:
		}
		if bp.rend != nil {
			return 0, bp.rend
		}
		if bp.buf != nil {
			chunkPool.Put(bp.buf)
			bp.buf = nil
		}
		select {
		case c := <-bp.ch:
			if c.err != nil {
				bp.rend = c.err
				return 0, c.err
			}
			bp.cur, bp.buf = (*c.b)[:c.n], c.b
		case <-bp.rdone:
			return 0, bp.rerr
		}
	}
	n := copy(p, bp.cur)
	bp.cur = bp.cur[n:]
	return n, nil
}
