package image

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestLayerStream: the unpacker reads what the download tees, in order,
// and wait returns once the download has ended, with its error.
func TestLayerStream(t *testing.T) {
	data := bytes.Repeat([]byte("layer data "), 100000) // over the buffer: the download waits
	ls := newLayerStream()
	go func() {
		_, err := io.Copy(io.Discard, ls.tee(bytes.NewReader(data)))
		ls.end(err)
	}()
	r, stop := ls.reader(context.Background())
	head := make([]byte, 1000)
	if _, err := io.ReadFull(r, head); err != nil || !bytes.Equal(head, data[:1000]) {
		t.Fatalf("read %q, %v", head[:20], err)
	}
	stop()
	if err := ls.wait(context.Background(), nil, testDesc); err != nil { // drains the rest
		t.Fatal(err)
	}

	boom := errors.New("connection reset")
	ls = newLayerStream()
	go func() {
		_, err := io.Copy(io.Discard, ls.tee(io.MultiReader(strings.NewReader("part"), errReader{boom})))
		ls.end(err)
	}()
	r, stop = ls.reader(context.Background())
	defer stop()
	if b, err := io.ReadAll(r); !errors.Is(err, boom) || string(b) != "part" {
		t.Fatalf("ReadAll: %q, %v; want the download's error", b, err)
	}
	if err := ls.wait(context.Background(), nil, testDesc); !errors.Is(err, boom) {
		t.Fatalf("wait: %v", err)
	}
}

// TestLayerStreamAbort: an unpacker that fails stops the download, and a
// canceled context stops an unpacker whose download never starts.
func TestLayerStreamAbort(t *testing.T) {
	ls := newLayerStream()
	errc := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, ls.tee(bytes.NewReader(make([]byte, 64<<20))))
		errc <- err
	}()
	ls.abort(errors.New("bad tar"))
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "unpack while downloading") {
			t.Fatalf("download: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("download not stopped by abort")
	}

	ls = newLayerStream() // nobody ever downloads it
	ctx, cancel := context.WithCancel(context.Background())
	r, stop := ls.reader(ctx)
	defer stop()
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if _, err := r.Read(make([]byte, 10)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read: %v", err)
	}
	if err := ls.wait(ctx, nil, testDesc); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait: %v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

var testDesc = ocispec.Descriptor{Digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
