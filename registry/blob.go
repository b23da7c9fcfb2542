package registry

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/internal/reference"
)

// FetchBlob opens the blob desc of repository repo. The reader yields
// exactly desc.Size bytes (or, when desc has no size, the registry's
// Content-Length) or fails: a download that breaks is resumed where it
// stopped, with a Range request when the registry supports it, up to
// Options.Retries times in a row without progress. It does not check the
// digest: wrap it in VerifyReader, or commit through a verifying content
// writer. The reader stays bound to ctx.
func (c *Client) FetchBlob(ctx context.Context, repo reference.Named, desc ocispec.Descriptor) (io.ReadCloser, error) {
	name := reference.Path(repo)
	b := &blobReader{
		ctx: ctx,
		c:   c,
		req: request{
			method: http.MethodGet,
			domain: reference.Domain(repo),
			path:   "/v2/" + name + "/blobs/" + desc.Digest.String(),
			scopes: []string{pullScope(name)},
		},
		dgst: desc.Digest,
		size: -1,
	}
	if desc.Size > 0 || desc.Digest == emptyDigest {
		b.size = desc.Size
	}
	if err := b.open(); err != nil {
		return nil, fmt.Errorf("fetch blob %s: %w", desc.Digest, err)
	}
	return b, nil
}

var emptyDigest = digest.FromBytes(nil)

// blobReader reads a blob, resuming broken downloads.
type blobReader struct {
	ctx  context.Context
	c    *Client
	req  request
	dgst digest.Digest
	size int64 // expected length, -1 until known

	body     io.ReadCloser // the current response's, nil between attempts
	off      int64         // bytes returned so far
	failures int           // broken attempts since the last progress
	err      error         // sticky: io.EOF or the failure
}

// open requests the blob from b.off on.
func (b *blobReader) open() error {
	r := b.req
	if b.off > 0 {
		r.header = http.Header{"Range": {"bytes=" + strconv.FormatInt(b.off, 10) + "-"}}
	}
	resp, err := b.c.do(b.ctx, &r)
	if err != nil {
		return err
	}
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != b.dgst.String() {
		resp.Body.Close()
		return errdefs.InvalidArgument(fmt.Errorf("registry sent blob %s", got))
	}
	switch {
	case resp.StatusCode == http.StatusPartialContent && b.off > 0:
		start, ok := rangeStart(resp.Header.Get("Content-Range"))
		if !ok || start != b.off {
			resp.Body.Close()
			return fmt.Errorf("asked for bytes %d-, registry sent range %q",
				b.off, resp.Header.Get("Content-Range"))
		}
	case resp.StatusCode == http.StatusOK:
		if b.size < 0 && resp.ContentLength >= 0 {
			b.size = resp.ContentLength
		}
		if b.off > 0 { // no Range support: skip what was read already
			if _, err := io.CopyN(io.Discard, resp.Body, b.off); err != nil {
				resp.Body.Close()
				return fmt.Errorf("skip %d bytes read already: %w", b.off, err)
			}
		}
	default:
		resp.Body.Close()
		return fmt.Errorf("unexpected status %s", resp.Status)
	}
	b.body = resp.Body
	return nil
}

// rangeStart parses the first byte of a Content-Range "bytes a-b/n".
func rangeStart(v string) (int64, bool) {
	v, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, false
	}
	first, _, ok := strings.Cut(v, "-")
	n, err := strconv.ParseInt(first, 10, 64)
	return n, ok && err == nil
}

func (b *blobReader) Read(p []byte) (int, error) {
	for {
		if b.err != nil {
			return 0, b.err
		}
		if b.body == nil {
			if err := b.open(); err != nil {
				b.fail(err)
				continue
			}
		}
		n, err := b.body.Read(p)
		b.off += int64(n)
		if n > 0 {
			b.failures = 0
		}
		if b.size >= 0 && b.off > b.size {
			b.err = errdefs.InvalidArgument(fmt.Errorf("blob %s: registry sent more than %d bytes", b.dgst, b.size))
			return n - int(b.off-b.size), b.err
		}
		switch {
		case err == nil:
			return n, nil
		case errors.Is(err, io.EOF) && (b.size < 0 || b.off == b.size):
			b.err = io.EOF
			return n, io.EOF
		case errors.Is(err, io.EOF):
			err = io.ErrUnexpectedEOF
		}
		b.body.Close()
		b.body = nil
		b.fail(err)
		if n > 0 {
			return n, nil
		}
	}
}

// fail records a broken attempt; past Options.Retries in a row, or when the
// failure is final, it becomes the reader's error. It waits before the
// next attempt.
func (b *blobReader) fail(err error) {
	b.failures++
	if b.failures > b.c.opts.Retries || !retriable(b.ctx, err) {
		b.err = fmt.Errorf("fetch blob %s: broken at byte %d of %d: %w", b.dgst, b.off, b.size, err)
		if statusOf(err) == 0 && b.ctx.Err() == nil {
			b.err = errdefs.Unavailable(b.err)
		}
		return
	}
	if serr := b.c.sleep(b.ctx, b.failures-1, err); serr != nil {
		b.err = serr
	}
}

func (b *blobReader) Close() error {
	if b.err == nil {
		b.err = errors.New("read of closed blob reader")
	}
	if b.body == nil {
		return nil
	}
	err := b.body.Close()
	b.body = nil
	return err
}

// VerifyReader returns a reader of r that checks, when r ends, that what it
// read has desc's size and digest: a mismatch is an error of class
// errdefs.ErrInvalidArgument naming the expected and actual values, returned
// instead of io.EOF (or as soon as r yields more than desc.Size bytes).
func VerifyReader(r io.Reader, desc ocispec.Descriptor) io.Reader {
	v := &verifier{r: r, desc: desc}
	if desc.Digest.Validate() != nil {
		v.err = errdefs.InvalidArgument(fmt.Errorf("bad digest %q", desc.Digest))
	} else {
		v.h = desc.Digest.Algorithm().Hash()
	}
	return v
}

type verifier struct {
	r    io.Reader
	desc ocispec.Descriptor
	h    hash.Hash
	n    int64
	err  error
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n > v.desc.Size {
		v.err = errdefs.InvalidArgument(fmt.Errorf("blob %s: size mismatch: expected %d, got more",
			v.desc.Digest, v.desc.Size))
		return n, v.err
	}
	if !errors.Is(err, io.EOF) {
		return n, err
	}
	v.err = io.EOF
	if v.n != v.desc.Size {
		v.err = errdefs.InvalidArgument(fmt.Errorf("blob %s: size mismatch: expected %d, got %d",
			v.desc.Digest, v.desc.Size, v.n))
	} else if got := digest.NewDigest(v.desc.Digest.Algorithm(), v.h); got != v.desc.Digest {
		v.err = errdefs.InvalidArgument(fmt.Errorf("digest mismatch: expected %s, got %s", v.desc.Digest, got))
	}
	return n, v.err
}
