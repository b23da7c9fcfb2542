package archive

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/internal/openat2"
)

// ChangeKind is what happened to a path, numbered as the Engine API's
// container.ChangeType.
type ChangeKind uint8

// The kinds of change.
const (
	ChangeModify ChangeKind = iota
	ChangeAdd
	ChangeDelete
)

// Change is one changed path ("/etc/hosts").
type Change struct {
	Path string
	Kind ChangeKind
}

// Changes lists what the overlay upper dir upper changes in the tree of
// its lower dirs (topmost first), as `docker diff` reports it, sorted by
// path:
//
//   - a path of upper that the lower tree does not have is Added, and so
//     is everything under an added directory;
//   - a file of upper that the lower tree has is Modified; a directory it
//     has is Modified when its mode or owner differ, or when something
//     under it changed (parents of changes are reported, as docker does);
//   - a whiteout (0:0 character device) hides a Deleted path, and an
//     opaque directory (trusted.overlay.opaque=y) deletes what the lower
//     tree holds in it that upper does not.
//
// The lower tree is the overlay of the lowers: a whiteout or a
// non-directory in one hides the paths below it in the next ones, an
// opaque directory ends its path's lookup there. Paths that skip (may be
// nil) reports are neither reported nor walked: mount points a runtime
// made, say. Nothing is followed: every name is looked at with *at calls
// relative to its directory's descriptor.
func Changes(ctx context.Context, upper string, lowers []string, skip func(p string) bool) ([]Change, error) {
	top, lows, err := openLayers(upper, lowers)
	if err != nil {
		return nil, err
	}
	defer closeAll(append(lows, top))
	d := &differ{ctx: ctx, skip: skip}
	if d.skip == nil {
		d.skip = func(string) bool { return false }
	}
	if _, err := d.dir(top, "", lows, false); err != nil {
		return nil, fmt.Errorf("changes of %s: %w", upper, err)
	}
	sort.SliceStable(d.out, func(i, j int) bool { return d.out[i].Path < d.out[j].Path })
	return d.out, nil
}

// openLayers opens upper and the lowers as directories to read.
func openLayers(upper string, lowers []string) (int, []int, error) {
	var fds []int
	for _, p := range append([]string{upper}, lowers...) {
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			closeAll(fds)
			return -1, nil, fmt.Errorf("open %s: %w", p, err)
		}
		fds = append(fds, fd)
	}
	return fds[0], fds[1:], nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// differ is the state of one Changes.
type differ struct {
	ctx  context.Context
	skip func(string) bool
	out  []Change
}

func (d *differ) add(p string, k ChangeKind) { d.out = append(d.out, Change{Path: p, Kind: k}) }

// dir reports the changes in the upper directory fd, whose path is p (""
// for the root), over lows, the same directory in the lower layers where
// it shows through (topmost first); opaque says fd hides them. It returns
// whether it reported anything.
func (d *differ) dir(fd int, p string, lows []int, opaque bool) (bool, error) {
	names, err := readDirNames(fd)
	if err != nil {
		return false, fmt.Errorf("list %s: %w", p, err)
	}
	sort.Strings(names)
	n := len(d.out)
	for _, name := range names {
		if err := d.ctx.Err(); err != nil {
			return false, err
		}
		if child := p + "/" + name; !d.skip(child) {
			if err := d.entry(fd, child, name, lows); err != nil {
				return false, err
			}
		}
	}
	if opaque {
		if err := d.hidden(p, names, lows); err != nil {
			return false, err
		}
	}
	return len(d.out) > n, nil
}

// hidden reports as deleted what the lower layers hold in the opaque
// directory p and upper does not (names).
func (d *differ) hidden(p string, names []string, lows []int) error {
	present, err := lowerNames(lows)
	if err != nil {
		return fmt.Errorf("list %s below: %w", p, err)
	}
	inUpper := make(map[string]bool, len(names))
	for _, n := range names {
		inUpper[n] = true
	}
	for _, n := range present {
		if child := p + "/" + n; !inUpper[n] && !d.skip(child) {
			d.add(child, ChangeDelete)
		}
	}
	return nil
}

// entry reports the changes of the upper entry name in the directory fd,
// whose path is p.
func (d *differ) entry(fd int, p, name string, lows []int) error {
	var st unix.Stat_t
	if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return nil // removed while we walk
		}
		return fmt.Errorf("stat %s: %w", p, err)
	}
	below, err := lookupLower(lows, name)
	if err != nil {
		return fmt.Errorf("look up %s below: %w", p, err)
	}
	defer closeAll(below.dirs)
	switch {
	case isWhiteout(&st):
		if below.exists {
			d.add(p, ChangeDelete)
		}
		return nil
	case !isDir(&st):
		d.add(p, kindOf(below.exists))
		return nil
	}
	cfd, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", p, err)
	}
	defer unix.Close(cfd)
	self := !below.exists || !isDir(&below.st) || metaChanged(&st, &below.st)
	if self {
		d.add(p, kindOf(below.exists))
	}
	opaque, err := isOpaque(cfd)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	sub, err := d.dir(cfd, p, below.dirs, opaque)
	if err == nil && sub && !self {
		d.add(p, ChangeModify) // a parent of changes
	}
	return err
}

func kindOf(existed bool) ChangeKind {
	if existed {
		return ChangeModify
	}
	return ChangeAdd
}

// metaChanged reports whether a directory's mode or owner changed.
func metaChanged(a, b *unix.Stat_t) bool {
	return a.Mode != b.Mode || a.Uid != b.Uid || a.Gid != b.Gid
}

// isOpaque reports whether the directory fd is an opaque overlay directory.
func isOpaque(fd int) (bool, error) {
	var buf [1]byte
	n, err := unix.Fgetxattr(fd, opaqueXattr, buf[:])
	switch {
	case err == unix.ENODATA || err == unix.ENOTSUP:
		return false, nil
	case err == unix.ERANGE:
		return false, nil // longer than "y"
	case err != nil:
		return false, fmt.Errorf("get %s: %w", opaqueXattr, err)
	}
	return n == 1 && buf[0] == 'y', nil
}

// lowerEntry is what the lower layers show at one name.
type lowerEntry struct {
	exists bool
	st     unix.Stat_t // of the topmost layer that has it
	// dirs are descriptors of the name in the layers where it is a
	// directory that shows through, topmost first (the caller closes them).
	dirs []int
}

// lookupLower looks up name in lows, the same directory in several layers,
// topmost first, with overlay's rules: the first layer that has the name
// decides what it is; a whiteout hides it, and a non-directory or an opaque
// directory hides the layers below.
func lookupLower(lows []int, name string) (lowerEntry, error) {
	var e lowerEntry
	for _, fd := range lows {
		var st unix.Stat_t
		err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.ENOENT || err == unix.ENOTDIR {
			continue
		}
		if err != nil {
			closeAll(e.dirs)
			return lowerEntry{}, err
		}
		if isWhiteout(&st) || !isDir(&st) {
			if !e.exists && !isWhiteout(&st) {
				e.exists, e.st = true, st
			}
			return e, nil
		}
		if !e.exists {
			e.exists, e.st = true, st
		}
		cfd, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			closeAll(e.dirs)
			return lowerEntry{}, err
		}
		e.dirs = append(e.dirs, cfd)
		if opaque, err := isOpaque(cfd); err != nil || opaque {
			return e, err
		}
	}
	return e, nil
}

// lowerNames lists what the directory shows in the layers lows (topmost
// first), whiteouts applied.
func lowerNames(lows []int) ([]string, error) {
	seen := map[string]bool{} // name → present
	for _, fd := range lows {
		names, err := readDirNames(fd)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if _, ok := seen[n]; ok {
				continue
			}
			var st unix.Stat_t
			if err := unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				continue
			}
			seen[n] = !isWhiteout(&st)
		}
	}
	var out []string
	for n, present := range seen {
		if present {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Leftovers returns those of paths (absolute, "/etc/hosts") and of their
// parent directories that are mount points a runtime left in the overlay
// upper dir upper: absent from the lower tree (lowers, topmost first), and
// an empty regular file or a directory that holds nothing but other
// leftovers (/etc made for /etc/hosts). Paths that go through a symlink or
// a non-directory in upper are none.
func Leftovers(upper string, lowers []string, paths []string) (map[string]bool, error) {
	top, lows, err := openLayers(upper, lowers)
	if err != nil {
		return nil, err
	}
	defer closeAll(append(lows, top))
	cands := candidates(paths)
	out := map[string]bool{}
	for _, p := range cands {
		ok, err := leftover(top, lows, p, out)
		if err != nil {
			return nil, fmt.Errorf("check %s: %w", p, err)
		}
		if ok {
			out[p] = true
		}
	}
	return out, nil
}

// candidates returns paths and their parents (but "/"), cleaned, deepest
// first.
func candidates(paths []string) []string {
	set := map[string]bool{}
	for _, p := range paths {
		for q := "/" + cleanName(p); q != "/"; q = "/" + cleanName(q+"/..") {
			set[q] = true
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		di, dj := strings.Count(out[i], "/"), strings.Count(out[j], "/")
		return di > dj || (di == dj && out[i] < out[j])
	})
	return out
}

// leftover reports whether p is a leftover, those deeper being known.
func leftover(top int, lows []int, p string, known map[string]bool) (bool, error) {
	fd, err := openat2.Open(top, p[1:], &unix.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			return false, nil
		}
		return false, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false, err
	}
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == 0:
	case isDir(&st):
		if ok, err := onlyLeftovers(fd, p, known); err != nil || !ok {
			return false, err
		}
	default:
		return false, nil
	}
	exists, err := lowerHas(lows, p)
	return !exists, err
}

// onlyLeftovers reports whether the directory fd (O_PATH), p, holds only
// known leftovers.
func onlyLeftovers(fd int, p string, known map[string]bool) (bool, error) {
	dfd, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	defer unix.Close(dfd)
	names, err := readDirNames(dfd)
	if err != nil {
		return false, err
	}
	for _, n := range names {
		if !known[p+"/"+n] {
			return false, nil
		}
	}
	return true, nil
}

// lowerHas reports whether the lower tree has the path p.
func lowerHas(lows []int, p string) (bool, error) {
	dirs := append([]int(nil), lows...)
	owned := false
	defer func() {
		if owned {
			closeAll(dirs)
		}
	}()
	elems := strings.Split(p[1:], "/")
	for i, name := range elems {
		e, err := lookupLower(dirs, name)
		if owned {
			closeAll(dirs)
		}
		dirs, owned = e.dirs, true
		if err != nil || !e.exists {
			return false, err
		}
		if i < len(elems)-1 && !isDir(&e.st) {
			return false, nil
		}
	}
	return true, nil
}
