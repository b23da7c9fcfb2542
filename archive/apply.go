package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/corral-dev/corral/errdefs"
	"golang.org/x/sys/unix"
)

// WhiteoutMode says what Apply does with whiteout entries.
type WhiteoutMode int

const (
	// OverlayWhiteouts writes whiteouts in overlayfs's form, for a root that
	// is an overlay upper dir: `.wh.name` becomes a 0:0 character device
	// `name`, and `.wh..wh..opq` the xattr trusted.overlay.opaque=y on its
	// directory. It needs root (mknod, trusted.* xattrs).
	OverlayWhiteouts WhiteoutMode = iota
	// RemoveWhiteouts applies whiteouts by deleting what they hide from the
	// root, for layers applied one after the other into one plain directory.
	RemoveWhiteouts
)

// Whiteout names, as the OCI image spec defines them.
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = whiteoutPrefix + whiteoutPrefix
	opaqueMarker   = whiteoutMeta + ".opq"
)

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// Whiteouts is what whiteout entries become; the zero value is
	// OverlayWhiteouts.
	Whiteouts WhiteoutMode
	// NoLchown leaves files owned by the caller instead of the owners the
	// tar names (for unprivileged use).
	NoLchown bool
	// Parents are the directories of the layers below (overlay lowerdirs),
	// topmost first. With OverlayWhiteouts, a directory the layer does not
	// list but needs as a parent takes its mode, owner, xattrs and times
	// from the topmost parent that has it (as overlayfs's copy-up would),
	// and a hardlink whose target is only in a parent becomes a copy of it.
	// The parents must be complete: apply layers in order. Ignored with
	// RemoveWhiteouts (the layers below are in root already).
	Parents []string
	// Workers is how many regular files and symlinks are created at once,
	// while Apply reads on; 0 means a default (8), 1 creates them one at a
	// time. Whatever it is, the result is the same as applying the entries
	// in tar order: an entry waits for the ones it replaces or depends on.
	Workers int
	// Observe, when not nil, is called with the header of every entry, in
	// tar order, before the entry is applied: a caller learns what the
	// layer holds without reading it twice. It must not keep hdr past the
	// call nor change it.
	Observe func(hdr *tar.Header)
	// Unterminated accepts a tar that ends after a whole entry without
	// the end-of-archive marker, as Go's tar reader does: the docker CLI
	// sends such a build context when -f names a Dockerfile outside it
	// (its tar rewriter closes the stream before the tar writer). A cut
	// inside an entry is still an error.
	Unterminated bool
}

// Apply extracts the uncompressed layer tar r into the existing directory
// root and returns the bytes of tar read. On success that is the whole
// stream: Apply reads r to its end, padding after the tar included, so that
// a caller digesting r sees everything.
//
// Entries are applied as Docker and podman do: an entry replaces what is at
// its path (a directory over a directory merges, keeping the content and
// taking the new metadata); missing parents are created 0755; owners,
// modes (setuid, sticky), xattrs (file capabilities included) and times are
// set, directories' times after their content. Whiteouts follow
// opts.Whiteouts and, as the spec says, only hide what lower layers hold,
// never what this layer added. Nothing is ever written outside root.
//
// A corrupt or truncated tar, sparse files and unknown entry types are
// errdefs.ErrInvalidArgument errors. On error root holds a partial layer.
func Apply(ctx context.Context, root string, r io.Reader, opts ApplyOptions) (int64, error) {
	a, err := newApplier(ctx, root, opts)
	if err != nil {
		return 0, err
	}
	defer a.close()
	s := newTarStream(r)
	a.tr = tar.NewReader(s)
	if err := a.run(); err != nil {
		return s.n, err
	}
	if !s.complete() && !opts.Unterminated {
		return s.n, errdefs.InvalidArgument(errors.New("read layer tar: truncated (no end-of-archive marker)"))
	}
	if err := a.finish(); err != nil {
		return s.n, err
	}
	if err := s.drain(ctx); err != nil {
		return s.n, fmt.Errorf("read layer tar: %w", err)
	}
	return s.n, nil
}

// applier is the state of one Apply.
type applier struct {
	ctx     context.Context
	opts    ApplyOptions
	root    *root
	parents []*root
	tr      *tar.Reader
	buf     *[]byte
	// dirs are the directories whose times are set at the end.
	dirs []dirTime
	// unpacked holds the paths this layer created and their ancestors:
	// whiteouts do not remove them.
	unpacked map[string]struct{}
	// pool creates files and symlinks while the tar is read on; nil with
	// one worker.
	pool *pool
}

type dirTime struct {
	rel string
	ts  [2]unix.Timespec
}

func newApplier(ctx context.Context, dir string, opts ApplyOptions) (*applier, error) {
	r, err := openRoot(dir)
	if err != nil {
		return nil, err
	}
	a := &applier{ctx: ctx, opts: opts, root: r, buf: getBuf(), unpacked: make(map[string]struct{})}
	if workers := opts.Workers; workers != 1 {
		if workers <= 0 {
			workers = defaultWorkers
		}
		a.pool = newPool(workers)
		r.quiesce = a.quiesce
		r.claim = a.claim
	}
	if opts.Whiteouts != OverlayWhiteouts {
		return a, nil // parents only matter for an upper dir
	}
	for _, p := range opts.Parents {
		pr, err := openRoot(p)
		if err != nil {
			a.close()
			return nil, err
		}
		a.parents = append(a.parents, pr)
	}
	return a, nil
}

func (a *applier) close() {
	if a.pool != nil {
		a.pool.close()
	}
	a.root.close()
	for _, p := range a.parents {
		p.close()
	}
	putBuf(a.buf)
}

// run applies every entry of the tar.
func (a *applier) run() error {
	for {
		if err := a.ctx.Err(); err != nil {
			return err
		}
		a.root.checkpoint()
		if err := a.failed(); err != nil {
			return err
		}
		hdr, err := a.tr.Next()
		if err == io.EOF {
			return nil
		}
		// ErrInsecurePath (GODEBUG=tarinsecurepath=0) comes with a usable
		// header: names are contained here whatever they say.
		if err != nil && (hdr == nil || !errors.Is(err, tar.ErrInsecurePath)) {
			return tarError(err)
		}
		if a.opts.Observe != nil {
			a.opts.Observe(hdr)
		}
		if err := a.entry(hdr); err != nil {
			if werr := a.failed(); werr != nil {
				return werr // a worker's, which names its own entry
			}
			return fmt.Errorf("apply %q: %w", hdr.Name, err)
		}
	}
}

// tarError wraps an error from reading the tar, classing a malformed or
// truncated stream as invalid input.
func tarError(err error) error {
	err = fmt.Errorf("read layer tar: %w", err)
	if errors.Is(err, tar.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, tar.ErrFieldTooLong) {
		return errdefs.InvalidArgument(err)
	}
	return err
}

// cleanName turns a tar entry name into a clean path relative to the root,
// "" for the root itself: `..` cannot climb above the root and a leading
// "/" is dropped.
func cleanName(name string) string {
	return path.Clean("/" + name)[1:]
}

// entry applies one tar entry.
func (a *applier) entry(hdr *tar.Header) error {
	name := cleanName(hdr.Name)
	switch {
	case hdr.Typeflag == tar.TypeXGlobalHeader || name == "":
		return nil // the root's own entry is not applied, as Docker does
	case isSparse(hdr):
		return errdefs.InvalidArgument(errors.New("sparse files are not supported"))
	case !validID(hdr.Uid) || !validID(hdr.Gid):
		// chown takes -1 as "leave as is": refuse rather than keep our owner.
		return errdefs.InvalidArgument(fmt.Errorf("invalid owner %d:%d", hdr.Uid, hdr.Gid))
	}
	parent, base := splitPath(name)
	if strings.HasPrefix(base, whiteoutPrefix) {
		// What it hides, or a symlink on the way there, may be in flight.
		if err := a.drain(); err != nil {
			return err
		}
		return a.whiteout(parent, base, hdr)
	}
	pfd, err := a.root.mkdirAll(parent, a.parentCreated)
	if err != nil {
		return err
	}
	if err := a.create(pfd, name, base, hdr); err != nil {
		return err
	}
	a.markUnpacked(name)
	return nil
}

// create makes the file of hdr as base in the directory pfd, first
// waiting for an entry in flight there, if any.
func (a *applier) create(pfd int, name, base string, hdr *tar.Header) error {
	if err := a.settle(pfd, base); err != nil {
		return err
	}
	async := a.pool != nil
	switch hdr.Typeflag {
	case tar.TypeDir:
		return a.mkdir(pfd, name, base, hdr)
	case tar.TypeReg, tar.TypeCont: // contiguous files are regular files on Linux
		if async && hdr.Size <= maxPooledFile {
			return a.fileAsync(pfd, base, hdr)
		}
		return a.file(pfd, base, hdr)
	case tar.TypeSymlink:
		if async {
			return a.symlinkAsync(pfd, base, hdr)
		}
		return a.symlink(pfd, base, hdr)
	case tar.TypeLink:
		// Its target, or a symlink on the way there, may be in flight.
		if err := a.drain(); err != nil {
			return err
		}
		return a.hardlink(pfd, name, base, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return a.node(pfd, base, hdr)
	}
	return errdefs.InvalidArgument(fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag))
}

// isSparse reports whether hdr is a sparse file (old GNU or PAX form).
// They are refused: a small sparse entry can expand to a huge file.
func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// validID reports whether id can be a Linux uid or gid.
func validID(id int) bool { return id >= 0 && id < 1<<32-1 }

// markUnpacked records name and its ancestors as created by this layer.
func (a *applier) markUnpacked(name string) {
	for p := name; p != ""; p, _ = splitPath(p) {
		if _, ok := a.unpacked[p]; ok {
			return
		}
		a.unpacked[p] = struct{}{}
	}
}

// finish sets the times of the directories the layer listed (and of the
// parents it copied from lower layers), now that their content is written.
func (a *applier) finish() error {
	if err := a.drain(); err != nil {
		return err
	}
	for _, d := range a.dirs {
		a.root.checkpoint()
		parent, base := splitPath(d.rel)
		pfd, err := a.root.dir(parent)
		if err == nil {
			err = unix.UtimesNanoAt(pfd, base, d.ts[:], unix.AT_SYMLINK_NOFOLLOW)
		}
		if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
			return fmt.Errorf("set times of %s: %w", d.rel, err)
		}
	}
	return nil
}
