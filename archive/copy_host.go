package archive

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// The client's half of `docker cp`, as docker's CLI does it: which path is
// copied, what the tar sent or received must be renamed to, and where it is
// extracted, for a source or destination that exists or not, is a file or
// a directory, ends in "/" (a directory) or "/." (a directory's content).

// Errors of a copy, worded as docker's.
var (
	ErrNotDirectory      = errors.New("not a directory")
	ErrDirNotExists      = errors.New("no such directory")
	ErrCannotCopyDir     = errors.New("cannot copy directory")
	ErrInvalidCopySource = errors.New("invalid copy source content")
)

// CopyInfo is what a copy knows of its source or destination.
type CopyInfo struct {
	Path   string
	Exists bool
	IsDir  bool
	// RebaseName, when not "", is the name the source's top entry takes
	// (the name the user gave a symlink that was followed).
	RebaseName string
}

// PreserveTrailingDotOrSeparator returns cleaned with the trailing "/." or
// "/" of original put back: path.Clean drops them, but in a copy they say
// "a directory" ("/." also: its content, not itself).
func PreserveTrailingDotOrSeparator(cleaned, original string) string {
	if !specifiesCurrentDir(cleaned) && specifiesCurrentDir(original) {
		if !strings.HasSuffix(cleaned, "/") {
			cleaned += "/"
		}
		cleaned += "."
	}
	if !strings.HasSuffix(cleaned, "/") && strings.HasSuffix(original, "/") {
		cleaned += "/"
	}
	return cleaned
}

// assertsDirectory reports whether p ends in "/" or "/.".
func assertsDirectory(p string) bool {
	return strings.HasSuffix(p, "/") || specifiesCurrentDir(p)
}

// specifiesCurrentDir reports whether p's last element is ".".
func specifiesCurrentDir(p string) bool { return path.Base(p) == "." }

// SplitPathDirEntry splits p, cleaned, into its directory and last element,
// keeping a final "." ("/a/." gives "/a" and ".").
func SplitPathDirEntry(p string) (dir, base string) {
	cleaned := path.Clean(p)
	if specifiesCurrentDir(p) {
		cleaned += "/."
	}
	return path.Dir(cleaned), path.Base(cleaned)
}

// GetRebaseName puts the trailing "/." or "/" of p on resolved (p with its
// symlinks followed) and returns it with the name the copy's top entry must
// take: p's last element when following changed it, else "".
func GetRebaseName(p, resolved string) (string, string) {
	if specifiesCurrentDir(p) && !specifiesCurrentDir(resolved) {
		resolved += "/."
	}
	if strings.HasSuffix(p, "/") && !strings.HasSuffix(resolved, "/") {
		resolved += "/"
	}
	rebase := ""
	if path.Base(p) != path.Base(resolved) {
		rebase = path.Base(p)
	}
	return resolved, rebase
}

// ResolveHostSourcePath resolves the local source p of a copy: every
// symlink with followLink, else those of its directory only (a final
// symlink is copied as a symlink, unless p ends in "/").
func ResolveHostSourcePath(p string, followLink bool) (resolved, rebase string, err error) {
	if followLink {
		if resolved, err = filepath.EvalSymlinks(p); err != nil {
			return "", "", err
		}
		resolved, rebase = GetRebaseName(p, resolved)
		return resolved, rebase, nil
	}
	dir, base := filepath.Split(p)
	rdir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", "", err
	}
	resolved = rdir + "/" + base
	if strings.HasSuffix(p, "/") && path.Base(p) != path.Base(resolved) {
		rebase = path.Base(p)
	}
	return resolved, rebase, nil
}

// CopyInfoSourcePath describes the local source p (absolute) of a copy,
// which must exist.
func CopyInfoSourcePath(p string, followLink bool) (CopyInfo, error) {
	resolved, rebase, err := ResolveHostSourcePath(p, followLink)
	if err != nil {
		return CopyInfo{}, err
	}
	st, err := os.Lstat(resolved)
	if err != nil {
		return CopyInfo{}, err
	}
	return CopyInfo{Path: resolved, Exists: true, IsDir: st.IsDir(), RebaseName: rebase}, nil
}

// maxDestSymlinks bounds the symlinks followed at a copy's destination.
const maxDestSymlinks = 10

// CopyInfoDestinationPath describes the local destination p (absolute) of a
// copy: a final symlink is followed (a dangling one names what the copy
// creates); what does not exist needs an existing parent directory.
func CopyInfoDestinationPath(p string) (CopyInfo, error) {
	st, err := os.Lstat(p)
	for n := 0; err == nil && st.Mode()&os.ModeSymlink != 0; n++ {
		if n >= maxDestSymlinks {
			return CopyInfo{}, errors.New("too many symlinks in " + p)
		}
		target, rerr := os.Readlink(p)
		if rerr != nil {
			return CopyInfo{}, rerr
		}
		if !filepath.IsAbs(target) {
			parent, _ := SplitPathDirEntry(p)
			target = filepath.Join(parent, target)
		}
		p = target
		st, err = os.Lstat(p)
	}
	if err == nil {
		return CopyInfo{Path: p, Exists: true, IsDir: st.IsDir()}, nil
	}
	if !os.IsNotExist(err) {
		return CopyInfo{}, err
	}
	parent, _ := SplitPathDirEntry(p)
	pst, err := os.Stat(parent)
	if err != nil {
		return CopyInfo{}, err
	}
	if !pst.IsDir() {
		return CopyInfo{}, ErrNotDirectory
	}
	return CopyInfo{Path: p}, nil
}

// PrepareArchiveCopy takes the tar src of the copy source srcInfo and
// returns the directory to extract it into for the destination dstInfo,
// and the tar renamed as that needs: into an existing directory as it is;
// else onto the destination's own name.
func PrepareArchiveCopy(src io.Reader, srcInfo, dstInfo CopyInfo) (dstDir string, content io.ReadCloser, err error) {
	dstDir, dstBase := SplitPathDirEntry(dstInfo.Path)
	_, srcBase := SplitPathDirEntry(srcInfo.Path)
	if srcInfo.RebaseName != "" {
		srcBase = srcInfo.RebaseName
	}
	switch {
	case dstInfo.Exists && dstInfo.IsDir:
		return dstInfo.Path, io.NopCloser(src), nil
	case dstInfo.Exists && srcInfo.IsDir:
		return "", nil, ErrCannotCopyDir
	case !dstInfo.Exists && !srcInfo.IsDir && assertsDirectory(dstInfo.Path):
		return "", nil, ErrDirNotExists
	}
	return dstDir, RebaseArchiveEntries(src, srcBase, dstBase), nil
}

// rebaser returns the function that renames a tar entry whose name starts
// with the element oldBase to start with newBase instead ("/" or "" as
// oldBase: every entry gets newBase in front).
func rebaser(oldBase, newBase string) func(string) string {
	oldBase = strings.TrimRight(oldBase, "/")
	newBase = strings.TrimRight(newBase, "/")
	if oldBase == "" {
		return func(name string) string {
			name = strings.TrimLeft(name, "/")
			if newBase == "" {
				return name
			}
			return newBase + "/" + name
		}
	}
	return func(name string) string {
		rest, ok := strings.CutPrefix(name, oldBase)
		if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
			return name
		}
		return newBase + rest
	}
}

// RebaseArchiveEntries returns the tar src with the entries (and hardlink
// targets) under oldBase renamed under newBase.
func RebaseArchiveEntries(src io.Reader, oldBase, newBase string) io.ReadCloser {
	rename := rebaser(oldBase, newBase)
	pr, pw := io.Pipe()
	go func() {
		tr := tar.NewReader(src)
		tw := tar.NewWriter(pw)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				pw.CloseWithError(tw.Close())
				return
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			// PAX, so that a long new name fits.
			hdr.Format = tar.FormatPAX
			hdr.Name = rename(hdr.Name)
			if hdr.Typeflag == tar.TypeLink {
				hdr.Linkname = rename(hdr.Linkname)
			}
			if err := tw.WriteHeader(hdr); err != nil {
				pw.CloseWithError(err)
				return
			}
			if _, err := io.Copy(tw, tr); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
	}()
	return pr
}

// TarResource returns the tar of the local copy source info, its top entry
// named info.RebaseName if set. Like a container path, info.Path is walked
// without following a symlink inside it.
func TarResource(ctx context.Context, info CopyInfo) (io.ReadCloser, error) {
	rc, _, err := archivePath(ctx, "/", info.Path, info.RebaseName)
	return rc, err
}

// CopyTo extracts content, the tar of the copy source srcInfo, to the local
// path dstPath (absolute), as docker's client does: owned by the caller,
// never replacing a directory by a file or the reverse, every entry
// contained in the directory it is extracted into.
func CopyTo(ctx context.Context, content io.Reader, srcInfo CopyInfo, dstPath string) error {
	dstInfo, err := CopyInfoDestinationPath(dstPath)
	if err != nil {
		return err
	}
	dstDir, rc, err := PrepareArchiveCopy(content, srcInfo, dstInfo)
	if err != nil {
		return err
	}
	defer rc.Close()
	return Extract(ctx, dstDir, "/", rc, ExtractOptions{NoLchown: true, NoOverwriteDirNonDir: true})
}
