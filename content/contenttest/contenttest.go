// Package contenttest is the conformance suite of content.Store: every
// implementation runs Run in its tests. It checks write, commit, read, info,
// walk and delete; size and digest mismatches (errdefs.ErrInvalidArgument
// naming expected and actual); missing blobs (errdefs.ErrNotFound);
// concurrent writers of one digest (exactly one publishes, the others get
// errdefs.ErrAlreadyExists, the blob stays intact); abort (Close without
// Commit publishes nothing); and reader bounds.
package contenttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/corral-dev/corral/content"
	"github.com/corral-dev/corral/errdefs"
)

// Run runs the suite; newStore returns an empty store whose resources the
// test's Cleanup releases.
func Run(t *testing.T, newStore func(t *testing.T) content.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s content.Store)
	}{
		{"WriteCommitRead", testWriteCommitRead},
		{"CommitUnknownSizeAndDigest", testCommitUnknown},
		{"EmptyBlob", testEmptyBlob},
		{"LargeBlobOddChunks", testLargeBlob},
		{"SizeMismatch", testSizeMismatch},
		{"DigestMismatch", testDigestMismatch},
		{"ExpectedFromOpts", testExpectedFromOpts},
		{"TooManyBytes", testTooManyBytes},
		{"Abort", testAbort},
		{"AlreadyExists", testAlreadyExists},
		{"ConcurrentSameDigest", testConcurrentSame},
		{"ConcurrentDifferent", testConcurrentDifferent},
		{"FinishedWriter", testFinishedWriter},
		{"ReaderBounds", testReaderBounds},
		{"Missing", testMissing},
		{"InvalidDigest", testInvalidDigest},
		{"Delete", testDelete},
		{"Walk", testWalk},
		{"WalkStops", testWalkStops},
		{"Canceled", testCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

// randomBlob returns n random bytes and their digest.
func randomBlob(t *testing.T, n int) ([]byte, digest.Digest) {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b, digest.FromBytes(b)
}

// write writes data into a new Writer and returns it uncommitted.
func write(t *testing.T, s content.Store, opts content.WriterOpts, data []byte) content.Writer {
	t.Helper()
	w, err := s.Writer(context.Background(), opts)
	if err != nil {
		t.Fatalf("Writer: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	if n, err := w.Write(data); err != nil || n != len(data) {
		t.Fatalf("Write: %d, %v", n, err)
	}
	return w
}

// commit stores data under its digest.
func commit(t *testing.T, s content.Store, data []byte) digest.Digest {
	t.Helper()
	dgst := digest.FromBytes(data)
	w := write(t, s, content.WriterOpts{Ref: "test", Expected: dgst, Size: int64(len(data))}, data)
	if err := w.Commit(context.Background(), int64(len(data)), dgst); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return dgst
}

// readAll returns the committed blob dgst.
func readAll(t *testing.T, s content.Store, dgst digest.Digest) []byte {
	t.Helper()
	r, err := s.ReaderAt(context.Background(), dgst)
	if err != nil {
		t.Fatalf("ReaderAt(%s): %v", dgst, err)
	}
	defer r.Close()
	data, err := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
	if err != nil {
		t.Fatalf("read %s: %v", dgst, err)
	}
	return data
}

// checkBlob fails unless dgst is committed with exactly data.
func checkBlob(t *testing.T, s content.Store, dgst digest.Digest, data []byte) {
	t.Helper()
	info, err := s.Info(context.Background(), dgst)
	if err != nil {
		t.Fatalf("Info(%s): %v", dgst, err)
	}
	if info.Digest != dgst || info.Size != int64(len(data)) || info.CreatedAt.IsZero() {
		t.Fatalf("Info(%s) = %+v, want size %d and a creation time", dgst, info, len(data))
	}
	if got := readAll(t, s, dgst); !bytes.Equal(got, data) {
		t.Fatalf("blob %s: read %d bytes that differ from the %d written", dgst, len(got), len(data))
	}
}

// checkAbsent fails unless dgst is not committed.
func checkAbsent(t *testing.T, s content.Store, dgst digest.Digest) {
	t.Helper()
	if _, err := s.Info(context.Background(), dgst); !errdefs.IsNotFound(err) {
		t.Fatalf("Info(%s) = %v, want ErrNotFound", dgst, err)
	}
}

// checkInvalid fails unless err is ErrInvalidArgument whose message names
// every one of want.
func checkInvalid(t *testing.T, err error, want ...string) {
	t.Helper()
	if !errdefs.IsInvalidArgument(err) {
		t.Fatalf("error %v, want ErrInvalidArgument", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not name %q", err, w)
		}
	}
}

func testWriteCommitRead(t *testing.T, s content.Store) {
	data, dgst := randomBlob(t, 100_000)
	w := write(t, s, content.WriterOpts{Ref: "layer", Expected: dgst, Size: int64(len(data))}, data)
	if w.Digest() != dgst || w.Offset() != int64(len(data)) {
		t.Fatalf("Digest, Offset = %s, %d; want %s, %d", w.Digest(), w.Offset(), dgst, len(data))
	}
	checkAbsent(t, s, dgst) // not visible before Commit
	if err := w.Commit(context.Background(), int64(len(data)), dgst); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	checkBlob(t, s, dgst, data)
	if err := w.Close(); err != nil {
		t.Fatalf("Close after Commit: %v", err)
	}
	checkBlob(t, s, dgst, data)
}

func testCommitUnknown(t *testing.T, s content.Store) {
	data, dgst := randomBlob(t, 1234)
	w := write(t, s, content.WriterOpts{}, data)
	if err := w.Commit(context.Background(), 0, ""); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	checkBlob(t, s, dgst, data)
}

func testEmptyBlob(t *testing.T, s content.Store) {
	dgst := digest.FromBytes(nil)
	w, err := s.Writer(context.Background(), content.WriterOpts{Expected: dgst})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(context.Background(), 0, dgst); err != nil {
		t.Fatalf("Commit of the empty blob: %v", err)
	}
	checkBlob(t, s, dgst, nil)
}

func testLargeBlob(t *testing.T, s content.Store) {
	data, dgst := randomBlob(t, 4<<20+17)
	w, err := s.Writer(context.Background(), content.WriterOpts{Expected: dgst, Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for rest, n := data, 1; len(rest) > 0; n = n*3 + 1 {
		c := rest[:min(n, len(rest))]
		if _, err := w.Write(c); err != nil {
			t.Fatal(err)
		}
		rest = rest[len(c):]
	}
	if err := w.Commit(context.Background(), int64(len(data)), dgst); err != nil {
		t.Fatal(err)
	}
	checkBlob(t, s, dgst, data)
}

func testSizeMismatch(t *testing.T, s content.Store) {
	data, dgst := randomBlob(t, 1000)
	w := write(t, s, content.WriterOpts{}, data)
	err := w.Commit(context.Background(), 1001, dgst)
	checkInvalid(t, err, "1001", "1000")
	checkAbsent(t, s, dgst)
}

func testDigestMismatch(t *testing.T, s content.Store) {
	data, dgst := randomBlob(t, 1000)
	_, other := randomBlob(t, 10)
	w := write(t, s, content.WriterOpts{}, data)
	err := w.Commit(context.Background(), int64(len(data)), other)
	checkInvalid(t, err, other.String(), dgst.String())
	checkAbsent(t, s, dgst)
	checkAbsent(t, s, other)
}

// testExpectedFromOpts: WriterOpts alone make Commit(0, "") verify.
func testExpectedFromOpts(t *testing.T, s content.Store) {
	data, dgst := randomBlob(t, 1000)
	_, other := randomBlob(t, 10)
	w := write(t, s, content.WriterOpts{Expected: other}, data)
	checkInvalid(t, w.Commit(context.Background(), 0, ""), other.String(), dgst.String())
	w = write(t, s, content.WriterOpts{Size: 1001}, data)
	checkInvalid(t, w.Commit(context.Background(), 0, ""), "1001", "1000")
	checkAbsent(t, s, dgst)
	checkAbsent(t, s, other)
}

// testTooManyBytes: a source sending more than announced is refused by
// Write or by Commit, and nothing is published.
func testTooManyBytes(t *testing.T, s content.Store) {
	data, dgst := randomBlob(t, 2000)
	w, err := s.Writer(context.Background(), content.WriterOpts{Expected: dgst, Size: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(data); err != nil {
		checkInvalid(t, err, "1000")
	} else {
		checkInvalid(t, w.Commit(context.Background(), 0, ""), "1000", "2000")
	}
	checkAbsent(t, s, dgst)
}

func testAbort(t *testing.T, s content.Store) {
	data, dgst := randomBlob(t, 5000)
	w := write(t, s, content.WriterOpts{Expected: dgst}, data)
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkAbsent(t, s, dgst)
	if err := w.Commit(context.Background(), 0, ""); err == nil {
		t.Fatal("Commit after Close succeeded")
	}
	checkAbsent(t, s, dgst)
	commit(t, s, data) // the digest can be written again
	checkBlob(t, s, dgst, data)
}

func testAlreadyExists(t *testing.T, s content.Store) {
	data, dgst := randomBlob(t, 3000)
	commit(t, s, data)
	w := write(t, s, content.WriterOpts{Expected: dgst}, data)
	err := w.Commit(context.Background(), int64(len(data)), dgst)
	if !errdefs.IsAlreadyExists(err) {
		t.Fatalf("second Commit: %v, want ErrAlreadyExists", err)
	}
	checkBlob(t, s, dgst, data)
}

func testFinishedWriter(t *testing.T, s content.Store) {
	data, _ := randomBlob(t, 10)
	w := write(t, s, content.WriterOpts{}, data)
	if err := w.Commit(context.Background(), 0, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err == nil {
		t.Error("Write after Commit succeeded")
	}
	if err := w.Commit(context.Background(), 0, ""); err == nil {
		t.Error("second Commit succeeded")
	}
}

func testCanceled(t *testing.T, s content.Store) {
	data, dgst := randomBlob(t, 10)
	w := write(t, s, content.WriterOpts{}, data)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Commit(ctx, 0, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit with a canceled context: %v", err)
	}
	checkAbsent(t, s, dgst)
}
