package archive

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/corral-dev/corral/errdefs"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression is the compression of a layer blob.
type Compression int

// The compressions Decompress recognises and Compress writes.
const (
	Uncompressed Compression = iota
	Gzip
	Zstd
)

// String returns "none", "gzip" or "zstd".
func (c Compression) String() string {
	switch c {
	case Uncompressed:
		return "none"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("compression(%d)", int(c))
}

// zstdMaxWindow bounds the memory a zstd stream may ask for (its window):
// 128 MiB covers `zstd --long=27` and every ordinary level.
const zstdMaxWindow = 1 << 27

var (
	magicGzip = []byte{0x1f, 0x8b}
	magicZstd = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicXz   = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicBz2  = []byte{'B', 'Z', 'h'}
)

// Decompress sniffs the compression of r (gzip, zstd, or a plain tar) and
// returns a reader of the uncompressed stream. Closing it releases the
// decompressor; it does not close r. A stream that is none of these is an
// errdefs.ErrInvalidArgument error; an empty stream is an empty plain tar.
//
// Decompression runs ahead of the reader in a goroutine (gzip) or several
// (zstd), so that it overlaps with what the reader does with the data; the
// goroutines read r. Close stops them and waits for them, which can mean
// waiting for a Read of r in progress: to abandon a stalled r, make its
// Read return (close it, cancel its request) before or while closing.
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(tarBlock)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, Uncompressed, fmt.Errorf("read layer header: %w", err)
	}
	switch {
	case bytes.HasPrefix(head, magicGzip):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, Gzip, errdefs.InvalidArgument(fmt.Errorf("open gzip stream: %w", err))
		}
		return newReadAhead(zr, zr.Close), Gzip, nil
	case bytes.HasPrefix(head, magicZstd):
		zr, err := zstd.NewReader(br, zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, Zstd, errdefs.InvalidArgument(fmt.Errorf("open zstd stream: %w", err))
		}
		return zstdReadCloser{zr}, Zstd, nil
	case len(head) == 0 || isTarHeader(head):
		return bufReadCloser{br}, Uncompressed, nil
	case bytes.HasPrefix(head, magicXz):
		return nil, Uncompressed, errdefs.InvalidArgument(fmt.Errorf("unsupported layer compression xz"))
	case bytes.HasPrefix(head, magicBz2):
		return nil, Uncompressed, errdefs.InvalidArgument(fmt.Errorf("unsupported layer compression bzip2"))
	}
	return nil, Uncompressed, errdefs.InvalidArgument(fmt.Errorf("unknown layer compression"))
}

// zstdReadCloser makes a zstd decoder an io.ReadCloser; Close stops its
// goroutines.
type zstdReadCloser struct{ *zstd.Decoder }

func (z zstdReadCloser) Close() error {
	z.Decoder.Close()
	return nil
}

// bufReadCloser is a buffered reader whose Close does nothing.
type bufReadCloser struct{ *bufio.Reader }

func (bufReadCloser) Close() error { return nil }

// isTarHeader reports whether block looks like the start of a tar stream: a
// ustar/gnu magic, an all-zero block (an empty archive), or an old v7
// header whose checksum matches.
func isTarHeader(block []byte) bool {
	if len(block) < tarBlock {
		return false
	}
	if bytes.Equal(block[257:262], []byte("ustar")) {
		return true
	}
	if isZero(block) {
		return true
	}
	return validChecksum(block)
}

// validChecksum checks a tar header's checksum field (bytes 148..155), the
// sum of the header's bytes with that field counted as spaces. Some writers
// used signed bytes, so both sums are accepted.
func validChecksum(block []byte) bool {
	field := bytes.Trim(block[148:156], " \x00")
	if len(field) == 0 {
		return false
	}
	var want int64
	for _, c := range field {
		if c < '0' || c > '7' {
			return false
		}
		want = want*8 + int64(c-'0')
	}
	var unsigned, signed int64
	for i, c := range block[:tarBlock] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		unsigned += int64(c)
		signed += int64(int8(c))
	}
	return want == unsigned || want == signed
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Compress returns a writer that compresses into w with c. Close flushes the
// compressor; it does not close w. The output is deterministic for the same
// input (gzip without name or time in its header).
func Compress(w io.Writer, c Compression) (io.WriteCloser, error) {
	switch c {
	case Uncompressed:
		return nopWriteCloser{w}, nil
	case Gzip:
		zw, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
		if err != nil {
			return nil, fmt.Errorf("open gzip writer: %w", err)
		}
		return zw, nil
	case Zstd:
		zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			return nil, fmt.Errorf("open zstd writer: %w", err)
		}
		return zw, nil
	}
	return nil, errdefs.InvalidArgument(fmt.Errorf("unknown compression %v", c))
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
