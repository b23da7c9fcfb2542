package contenttest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/corral-dev/corral/content"
	"github.com/corral-dev/corral/errdefs"
)

// writers is how many goroutines race in the concurrency tests.
const writers = 16

// testConcurrentSame races writers of one blob, each writing in chunks so
// that their writes interleave: exactly one Commit publishes.
func testConcurrentSame(t *testing.T, s content.Store) {
	data, dgst := randomBlob(t, 256<<10)
	errs := make([]error, writers)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range writers {
		wg.Go(func() {
			start.Wait()
			errs[i] = writeChunked(s, data, dgst)
		})
	}
	start.Done()
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errdefs.IsAlreadyExists(err):
			t.Errorf("writer %d: %v, want nil or ErrAlreadyExists", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d writers published the blob, want exactly 1", won)
	}
	checkBlob(t, s, dgst, data)
	checkWalk(t, s, map[digest.Digest]int64{dgst: int64(len(data))})
}

// writeChunked writes data in 4 KiB chunks and commits it.
func writeChunked(s content.Store, data []byte, dgst digest.Digest) error {
	ctx := context.Background()
	w, err := s.Writer(ctx, content.WriterOpts{Ref: "race", Expected: dgst, Size: int64(len(data))})
	if err != nil {
		return err
	}
	defer w.Close()
	for rest := data; len(rest) > 0; {
		c := rest[:min(4096, len(rest))]
		if _, err := w.Write(c); err != nil {
			return err
		}
		rest = rest[len(c):]
	}
	return w.Commit(ctx, int64(len(data)), dgst)
}

func testConcurrentDifferent(t *testing.T, s content.Store) {
	blobs := make([][]byte, writers)
	want := map[digest.Digest]int64{}
	for i := range blobs {
		blobs[i], _ = randomBlob(t, 10_000+i)
		want[digest.FromBytes(blobs[i])] = int64(len(blobs[i]))
	}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i, b := range blobs {
		wg.Go(func() { errs[i] = writeChunked(s, b, digest.FromBytes(b)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	for _, b := range blobs {
		checkBlob(t, s, digest.FromBytes(b), b)
	}
	checkWalk(t, s, want)
}

func testReaderBounds(t *testing.T, s content.Store) {
	data, dgst := randomBlob(t, 1000)
	commit(t, s, data)
	r, err := s.ReaderAt(context.Background(), dgst)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Size() != 1000 {
		t.Fatalf("Size = %d, want 1000", r.Size())
	}
	buf := make([]byte, 100)
	if n, err := r.ReadAt(buf, 900); n != 100 || (err != nil && err != io.EOF) || !bytes.Equal(buf, data[900:]) {
		t.Errorf("ReadAt(100 bytes, 900) = %d, %v, or wrong bytes", n, err)
	}
	if n, err := r.ReadAt(buf, 950); n != 50 || err != io.EOF || !bytes.Equal(buf[:50], data[950:]) {
		t.Errorf("ReadAt across the end = %d, %v; want 50, io.EOF", n, err)
	}
	if n, err := r.ReadAt(buf, 1000); n != 0 || err != io.EOF {
		t.Errorf("ReadAt at the end = %d, %v; want 0, io.EOF", n, err)
	}
	if n, err := r.ReadAt(buf, 5000); n != 0 || err != io.EOF {
		t.Errorf("ReadAt past the end = %d, %v; want 0, io.EOF", n, err)
	}
	if _, err := r.ReadAt(buf, -1); err == nil {
		t.Error("ReadAt at a negative offset succeeded")
	}
}

func testMissing(t *testing.T, s content.Store) {
	_, dgst := randomBlob(t, 10)
	ctx := context.Background()
	if _, err := s.Info(ctx, dgst); !errdefs.IsNotFound(err) {
		t.Errorf("Info: %v, want ErrNotFound", err)
	}
	if _, err := s.ReaderAt(ctx, dgst); !errdefs.IsNotFound(err) {
		t.Errorf("ReaderAt: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, dgst); !errdefs.IsNotFound(err) {
		t.Errorf("Delete: %v, want ErrNotFound", err)
	}
}

func testInvalidDigest(t *testing.T, s content.Store) {
	ctx := context.Background()
	for _, d := range []digest.Digest{"sha256:xyz", "sha256:../../etc/passwd", "md5:d41d8cd98f00b204e9800998ecf8427e", ""} {
		if _, err := s.Info(ctx, d); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Info(%q): %v, want ErrInvalidArgument", d, err)
		}
		if _, err := s.ReaderAt(ctx, d); !errdefs.IsInvalidArgument(err) {
			t.Errorf("ReaderAt(%q): %v, want ErrInvalidArgument", d, err)
		}
		if err := s.Delete(ctx, d); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Delete(%q): %v, want ErrInvalidArgument", d, err)
		}
	}
	if _, err := s.Writer(ctx, content.WriterOpts{Expected: "sha256:xyz"}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Writer with an invalid expected digest: %v, want ErrInvalidArgument", err)
	}
}

func testDelete(t *testing.T, s content.Store) {
	keep, _ := randomBlob(t, 100)
	gone, _ := randomBlob(t, 200)
	kd, gd := commit(t, s, keep), commit(t, s, gone)
	if err := s.Delete(context.Background(), gd); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkAbsent(t, s, gd)
	if _, err := s.ReaderAt(context.Background(), gd); !errdefs.IsNotFound(err) {
		t.Errorf("ReaderAt of a deleted blob: %v, want ErrNotFound", err)
	}
	if err := s.Delete(context.Background(), gd); !errdefs.IsNotFound(err) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	checkBlob(t, s, kd, keep)
	checkWalk(t, s, map[digest.Digest]int64{kd: 100})
	commit(t, s, gone) // a deleted digest can be written again
	checkBlob(t, s, gd, gone)
}

func testWalk(t *testing.T, s content.Store) {
	checkWalk(t, s, map[digest.Digest]int64{})
	want := map[digest.Digest]int64{}
	for i := range 5 {
		b, _ := randomBlob(t, 10*i+1)
		want[commit(t, s, b)] = int64(len(b))
	}
	// An open writer is not a blob.
	b, _ := randomBlob(t, 10)
	write(t, s, content.WriterOpts{}, b)
	checkWalk(t, s, want)
}

func testWalkStops(t *testing.T, s content.Store) {
	for i := range 3 {
		b, _ := randomBlob(t, i+1)
		commit(t, s, b)
	}
	stop := errors.New("stop")
	calls := 0
	err := s.Walk(context.Background(), func(content.Info) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Walk = %v after %d calls, want the callback's error after 1", err, calls)
	}
}

// checkWalk fails unless Walk reports exactly want (digest → size).
func checkWalk(t *testing.T, s content.Store, want map[digest.Digest]int64) {
	t.Helper()
	got := map[digest.Digest]int64{}
	err := s.Walk(context.Background(), func(i content.Info) error {
		if _, dup := got[i.Digest]; dup {
			t.Errorf("Walk reported %s twice", i.Digest)
		}
		got[i.Digest] = i.Size
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("Walk found %d blobs, want %d", len(got), len(want))
	}
	for d, size := range want {
		if got[d] != size {
			t.Errorf("Walk: %s has size %d, want %d (0: missing)", d, got[d], size)
		}
	}
}
