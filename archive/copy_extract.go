package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/corral-dev/corral/errdefs"
	"golang.org/x/sys/unix"
)

// ExtractOptions tune Extract.
type ExtractOptions struct {
	// NoOverwriteDirNonDir refuses an entry that would replace a directory
	// by something else, or something else by a directory.
	NoOverwriteDirNonDir bool
	// Chown, when not nil, owns every entry by it instead of the owners the
	// tar names (docker cp -a into a container that has a user).
	Chown *Owner
	// NoLchown leaves every entry owned by the caller (a copy out of a
	// container onto the host, as docker's client makes it).
	NoLchown bool
}

// Owner is a numeric user and group.
type Owner struct{ UID, GID int }

// errExtractPoint answers an extraction into something that is not a
// directory.
var errExtractPoint = errors.New("extraction point is not a directory")

// Extract extracts the tar r (plain, gzip or zstd) into the existing
// directory dir of the tree root, as docker's daemon does for PUT
// /containers/{id}/archive: dir is resolved inside root, its symlinks, the
// last one included, followed as if root were "/"; entries replace what is
// at their path (a directory over a directory merges), missing parents are
// made 0755; modes, owners (see ExtractOptions), xattrs and times are set.
// Entry names and hardlink targets may not climb out of dir ("../x") and
// are refused (errdefs.ErrInvalidArgument); whiteout names are plain files
// here. Each entry's parent is resolved from root's descriptor with
// openat2(RESOLVE_IN_ROOT) and its last element created relative to it
// without following anything: symlinks in the tree or in the tar never lead
// out of root. On error dir holds what was extracted so far.
func Extract(ctx context.Context, root, dir string, r io.Reader, opts ExtractOptions) error {
	dr, _, err := Decompress(r)
	if err != nil {
		return err
	}
	defer dr.Close()
	a, err := newApplier(ctx, root, ApplyOptions{Whiteouts: RemoveWhiteouts, NoLchown: opts.NoLchown, Workers: 1})
	if err != nil {
		return err
	}
	defer a.close()
	dest, err := extractPoint(a.root, dir)
	if err != nil {
		return err
	}
	x := &extractor{a: a, opts: opts, dest: dest, shown: "/" + dest}
	a.tr = tar.NewReader(dr)
	if err := x.run(); err != nil {
		return err
	}
	return a.finish()
}

// extractPoint resolves the directory dir inside r and returns its
// symlink-free path relative to the root.
func extractPoint(r *root, dir string) (string, error) {
	rel, err := r.resolve(cleanName(path.Join("/", dir)))
	if err != nil {
		return "", &os.PathError{Op: "lstat", Path: dir, Err: err}
	}
	pfd, err := r.dir(rel)
	switch {
	case errors.Is(err, unix.ENOTDIR):
		return "", errdefs.InvalidArgument(errExtractPoint)
	case err != nil:
		return "", &os.PathError{Op: "lstat", Path: dir, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil || !isDir(&st) {
		return "", errdefs.InvalidArgument(errExtractPoint)
	}
	return rel, nil
}

// extractor is the state of one Extract.
type extractor struct {
	a    *applier
	opts ExtractOptions
	// dest is the directory extracted into, relative to the root; shown
	// is how errors name it.
	dest, shown string
}

// run extracts every entry.
func (x *extractor) run() error {
	for {
		if err := x.a.ctx.Err(); err != nil {
			return err
		}
		x.a.root.checkpoint()
		hdr, err := x.a.tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil && (hdr == nil || !errors.Is(err, tar.ErrInsecurePath)) {
			return tarError(err)
		}
		if err := x.entry(hdr); err != nil {
			return fmt.Errorf("extract %q: %w", hdr.Name, err)
		}
	}
}

// local cleans a tar name into a path relative to the extraction point;
// ok is false when it climbs out of it.
func local(name string) (string, bool) {
	rel := path.Clean(strings.TrimLeft(name, "/"))
	if rel == "." {
		return "", true
	}
	return rel, rel != ".." && !strings.HasPrefix(rel, "../")
}

// entry extracts one tar entry.
func (x *extractor) entry(hdr *tar.Header) error {
	rel, ok := local(hdr.Name)
	switch {
	case hdr.Typeflag == tar.TypeXGlobalHeader || (ok && rel == ""):
		return nil // the extraction point itself is not changed
	case !ok:
		return errdefs.InvalidArgument(fmt.Errorf("%q is outside of %q", hdr.Name, x.shown))
	case isSparse(hdr):
		return errdefs.InvalidArgument(errors.New("sparse files are not supported"))
	case !validID(hdr.Uid) || !validID(hdr.Gid):
		return errdefs.InvalidArgument(fmt.Errorf("invalid owner %d:%d", hdr.Uid, hdr.Gid))
	}
	if hdr.Typeflag == tar.TypeLink {
		target, ok := local(hdr.Linkname)
		if !ok || target == "" {
			return errdefs.InvalidArgument(fmt.Errorf("invalid hardlink %q -> %q", hdr.Name, hdr.Linkname))
		}
		hdr.Linkname = joinPath(x.dest, target)
	}
	if x.opts.Chown != nil {
		hdr.Uid, hdr.Gid = x.opts.Chown.UID, x.opts.Chown.GID
	}
	name := joinPath(x.dest, rel)
	parent, base := splitPath(name)
	pfd, err := x.a.root.mkdirAll(parent, nil)
	if err != nil {
		return err
	}
	if x.opts.NoOverwriteDirNonDir {
		if err := x.checkReplace(pfd, base, name, hdr); err != nil {
			return err
		}
	}
	return x.a.create(pfd, name, base, hdr)
}

// checkReplace refuses an entry that would turn a directory into something
// else or the reverse.
func (x *extractor) checkReplace(pfd int, base, name string, hdr *tar.Header) error {
	var st unix.Stat_t
	err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err == unix.ENOENT {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	switch wantDir := hdr.Typeflag == tar.TypeDir; {
	case isDir(&st) && !wantDir:
		return fmt.Errorf("cannot overwrite directory %q with non-directory %q", "/"+name, x.shown)
	case !isDir(&st) && wantDir:
		return fmt.Errorf("cannot overwrite non-directory %q with directory %q", "/"+name, x.shown)
	}
	return nil
}
