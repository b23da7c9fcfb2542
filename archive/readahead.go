package archive

import (
	"errors"
	"io"
	"sync"
)

var errClosed = errors.New("read after close")

// Read-ahead geometry: chunks of decompressed data kept ready for the
// consumer, so that decompressing and writing files overlap.
const (
	readAheadChunks    = 8
	readAheadChunkSize = 256 << 10
)

// readAhead reads src in its own goroutine, up to readAheadChunks chunks
// ahead of its consumer. Close stops the goroutine and waits for it, which
// may mean waiting for a Read of src in progress to return.
type readAhead struct {
	src   io.Reader
	full  chan chunk
	empty chan []byte
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
	cur   chunk
	off   int
	close func() error
}

// chunk is data read from src and the error that ended it, if any.
type chunk struct {
	b   []byte
	err error
}

// newReadAhead starts reading src; closeSrc, if not nil, is called by Close
// once the goroutine is done.
func newReadAhead(src io.Reader, closeSrc func() error) *readAhead {
	ra := &readAhead{
		src:   src,
		full:  make(chan chunk, readAheadChunks),
		empty: make(chan []byte, readAheadChunks),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		close: closeSrc,
	}
	for range readAheadChunks {
		ra.empty <- make([]byte, readAheadChunkSize)
	}
	go ra.fill()
	return ra
}

// fill is the goroutine: it fills empty chunks from src until an error
// (io.EOF included) or Close.
func (ra *readAhead) fill() {
	defer close(ra.done)
	for {
		var buf []byte
		select {
		case buf = <-ra.empty:
		case <-ra.stop:
			return
		}
		n, err := 0, error(nil)
		for n < len(buf) && err == nil {
			var m int
			m, err = ra.src.Read(buf[n:])
			n += m
		}
		select {
		case ra.full <- chunk{b: buf[:n], err: err}:
		case <-ra.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

func (ra *readAhead) Read(p []byte) (int, error) {
	for ra.off == len(ra.cur.b) {
		if ra.cur.err != nil {
			return 0, ra.cur.err
		}
		if ra.cur.b != nil {
			ra.empty <- ra.cur.b[:cap(ra.cur.b)]
		}
		select {
		case ra.cur = <-ra.full:
			ra.off = 0
		case <-ra.stop:
			return 0, errClosed
		}
	}
	n := copy(p, ra.cur.b[ra.off:])
	ra.off += n
	return n, nil
}

// Close stops the read-ahead goroutine, waits for it and closes the source.
func (ra *readAhead) Close() error {
	var err error
	ra.once.Do(func() {
		close(ra.stop)
		<-ra.done
		if ra.close != nil {
			err = ra.close()
		}
	})
	return err
}
