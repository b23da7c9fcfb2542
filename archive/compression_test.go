package archive

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/corral-dev/corral/errdefs"
)

func compress(t *testing.T, data []byte, c Compression) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := Compress(&buf, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCompressRoundTrip(t *testing.T) {
	layer := mkTar(t, fileE("a", strings.Repeat("hello ", 10000), 0o644), dirE("d", 0o755))
	for _, c := range []Compression{Uncompressed, Gzip, Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			blob := compress(t, layer, c)
			if again := compress(t, layer, c); !bytes.Equal(blob, again) {
				t.Error("compression is not deterministic")
			}
			r, got, err := Decompress(bytes.NewReader(blob))
			if err != nil || got != c {
				t.Fatalf("Decompress: %v, %v; want %v", got, err, c)
			}
			out, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, layer) {
				t.Fatal("round trip changed the data")
			}
		})
	}
}

func TestDecompressSniff(t *testing.T) {
	v7 := mkTar(t, fileE("f", "x", 0o644))
	copy(v7[257:265], make([]byte, 8)) // no ustar magic: an old v7 header, checksum still right
	sum := 0
	for i, c := range v7[:tarBlock] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int(c)
	}
	copy(v7[148:156], fmt.Sprintf("%06o\x00 ", sum))
	cases := []struct {
		name string
		data []byte
		want Compression
		err  bool
	}{
		{"empty", nil, Uncompressed, false},
		{"ustar", mkTar(t, fileE("f", "x", 0o644)), Uncompressed, false},
		{"empty-tar", make([]byte, 1024), Uncompressed, false},
		{"v7", v7, Uncompressed, false},
		{"gzip", compress(t, []byte("x"), Gzip), Gzip, false},
		{"zstd", compress(t, []byte("x"), Zstd), Zstd, false},
		{"xz", []byte("\xfd7zXZ\x00rest"), Uncompressed, true},
		{"bzip2", []byte("BZh91AY&SY"), Uncompressed, true},
		{"text", []byte("hello, this is not a layer"), Uncompressed, true},
		{"garbage-block", bytes.Repeat([]byte{1}, 600), Uncompressed, true},
		{"bad-gzip", []byte{0x1f, 0x8b, 0, 0}, Gzip, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, got, err := Decompress(bytes.NewReader(c.data))
			if c.err {
				if err == nil || !errdefs.IsInvalidArgument(err) {
					t.Fatalf("Decompress: %v; want an InvalidArgument error", err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Decompress = %v, %v; want %v", got, err, c.want)
			}
			r.Close()
		})
	}
}

// TestDecompressTruncated cuts compressed streams: reading must fail, not
// end early as if the layer were shorter.
func TestDecompressTruncated(t *testing.T) {
	layer := mkTar(t, fileE("a", strings.Repeat("0123456789abcdef", 1<<16), 0o644))
	for _, c := range []Compression{Gzip, Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			blob := compress(t, layer, c)
			r, _, err := Decompress(bytes.NewReader(blob[:len(blob)/2]))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if _, err := io.ReadAll(r); err == nil {
				t.Fatal("read a truncated stream without error")
			}
			if _, err := Apply(context.Background(), t.TempDir(), mustDecompress(t, blob[:len(blob)-20]), plain); !errdefs.IsInvalidArgument(err) {
				t.Fatalf("Apply of a truncated %v stream: %v", c, err)
			}
		})
	}
}

func mustDecompress(t *testing.T, blob []byte) io.Reader {
	t.Helper()
	r, _, err := Decompress(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestDecompressCloseEarly closes a decompressor after reading a little:
// the read-ahead goroutine must stop.
func TestDecompressCloseEarly(t *testing.T) {
	blob := compress(t, bytes.Repeat([]byte("layer data "), 1<<20), Gzip)
	before := runtime.NumGoroutine()
	for range 20 {
		r, _, err := Decompress(bytes.NewReader(blob))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Read(make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil { // twice is fine
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after closing, %d before", n, before)
	}
}
