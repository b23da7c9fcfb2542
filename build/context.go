package build

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"

	"github.com/corral-dev/corral/archive"
	"github.com/corral-dev/corral/errdefs"
)

// source is a tree files are copied from: the build context (with its
// .dockerignore) or the root filesystem of a stage or image.
type source struct {
	dir    string
	ignore *patternmatcher.PatternMatcher // nil: nothing excluded
	what   string                         // "build context", "stage x"
}

// readContext unpacks the context tar r (plain or compressed) into dir
// with the archive package's safe extraction (entries cannot land outside
// dir), without what its .dockerignore excludes (the API may send a
// context the client did not filter): files after .dockerignore in the
// tar are never written, those before it are removed after.
func readContext(ctx context.Context, r io.Reader, dir, dockerfile string) (*source, error) {
	rc, _, err := archive.Decompress(r)
	if err != nil {
		return nil, errdefs.InvalidArgument(fmt.Errorf("read build context: %w", err))
	}
	defer rc.Close()
	src := &source{dir: dir, what: "build context"}
	f := &ignoreFilter{src: src, keep: map[string]bool{".dockerignore": true, cleanName(dockerfile): true}}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(f.copy(rc, pw)) }()
	defer pr.Close()
	if _, err := archive.Apply(ctx, dir, pr, archive.ApplyOptions{Whiteouts: archive.RemoveWhiteouts, Unterminated: true}); err != nil {
		return nil, errdefs.InvalidArgument(fmt.Errorf("read build context: %w", err))
	}
	if f.err != nil {
		return nil, f.err
	}
	return src, f.removeEarly()
}

// excluded says whether the context path rel ("a/b", slash separated,
// relative) is left out by .dockerignore.
func (s *source) excluded(rel string) bool {
	if s.ignore == nil || rel == "." || rel == "" {
		return false
	}
	m, err := s.ignore.MatchesOrParentMatches(rel)
	return err == nil && m
}

// clean makes the source path p relative to the tree's root, refusing
// paths that leave it ("../x"); an absolute path is relative to the root.
func (s *source) clean(p string) (string, error) {
	rel := path.Clean(filepath.ToSlash(p))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", errdefs.InvalidArgument(fmt.Errorf("forbidden path outside the %s: %s", s.what, p))
	}
	return strings.TrimPrefix(path.Clean("/"+rel), "/"), nil
}

// match answers the paths (relative, slash separated) that the source path
// p names in the tree: p itself, or what its wildcards match, never an
// excluded one. Symlinks on the way to p resolve inside the tree.
func (s *source) match(p string) ([]string, error) {
	rel, err := s.clean(p)
	if err != nil {
		return nil, err
	}
	if !hasWildcard(rel) {
		if rel == "" {
			rel = "."
		}
		if s.excluded(rel) {
			return nil, s.missing(p)
		}
		if _, err := s.lstat(rel); err != nil {
			return nil, s.missing(p)
		}
		return []string{rel}, nil
	}
	var out []string
	err = filepath.WalkDir(s.dir, func(hp string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(s.dir, hp)
		r = filepath.ToSlash(r)
		if ok, _ := path.Match(rel, r); ok && !s.excluded(r) {
			out = append(out, r)
		}
		return nil
	})
	if err == nil && len(out) == 0 {
		err = s.missing(p)
	}
	return out, err
}

func (s *source) missing(p string) error {
	return errdefs.NotFound(fmt.Errorf("file not found in %s or excluded by .dockerignore: %s", s.what, p))
}

// resolve is the host path of rel in the tree, its symlinks (except the
// last element) resolved inside the tree.
func (s *source) resolve(rel string) (string, error) {
	dir, base := path.Split(rel)
	d, err := securejoin.SecureJoin(s.dir, dir)
	if err != nil {
		return "", err
	}
	if base == "" || base == "." {
		return d, nil
	}
	return filepath.Join(d, base), nil
}

// lstat is os.Lstat of rel in the tree; a symlink named directly as a
// source is followed inside the tree, as docker does.
func (s *source) lstat(rel string) (os.FileInfo, error) {
	hp, err := securejoin.SecureJoin(s.dir, rel)
	if err != nil {
		return nil, err
	}
	return os.Lstat(hp)
}

func hasWildcard(p string) bool { return strings.ContainsAny(p, "*?[") }
