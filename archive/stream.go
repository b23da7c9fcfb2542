package archive

import (
	"bufio"
	"context"
	"io"
	"sync"
)

// tarBlock is the tar format's block size.
const tarBlock = 512

// copyBufSize is the size of the pooled buffers that file data is copied
// through.
const copyBufSize = 128 << 10

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, copyBufSize)
	return &b
}}

func getBuf() *[]byte  { return bufPool.Get().(*[]byte) }
func putBuf(b *[]byte) { bufPool.Put(b) }

// tarStream is what Apply reads the tar from: it buffers the source, counts
// the bytes consumed and tracks how many zero bytes ended the data read so
// far, so that a stream that stops without the end-of-archive marker (two
// zero blocks) is told apart from a complete one.
type tarStream struct {
	r        io.Reader
	n        int64
	zeroTail int64
}

// newTarStream reads r, through a buffer unless r has one already (what
// Decompress returns has).
func newTarStream(r io.Reader) *tarStream {
	switch r.(type) {
	case io.ByteReader, *readAhead, zstdReadCloser:
	default:
		r = bufio.NewReaderSize(r, 64<<10)
	}
	return &tarStream{r: r}
}

func (s *tarStream) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.n += int64(n)
		s.trackZeros(p[:n])
	}
	return n, err
}

// trackZeros updates the count of trailing zero bytes with data.
func (s *tarStream) trackZeros(data []byte) {
	i := len(data) - 1
	for i >= 0 && data[i] == 0 {
		i--
	}
	if i < 0 {
		s.zeroTail += int64(len(data))
		return
	}
	s.zeroTail = int64(len(data) - 1 - i)
}

// complete reports whether the stream read so far ended with the
// end-of-archive marker, or was empty (an empty layer).
func (s *tarStream) complete() bool {
	return s.n == 0 || s.zeroTail >= 2*tarBlock
}

// drain reads and counts what follows the end-of-archive marker (a tar
// writer's padding to its record size), so that a caller digesting the
// stream sees all of it.
func (s *tarStream) drain(ctx context.Context) error {
	buf := getBuf()
	defer putBuf(buf)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := s.r.Read(*buf)
		s.n += int64(n)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
