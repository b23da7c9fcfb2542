package build

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/corral-dev/corral/errdefs"
)

// maxIgnoreFile bounds the .dockerignore read into memory.
const maxIgnoreFile = 1 << 20

// ignoreFilter passes a context tar on without the files .dockerignore
// excludes, once it has seen .dockerignore; directories always pass (an
// exception may keep a file inside an excluded one), as do the Dockerfile
// and .dockerignore.
type ignoreFilter struct {
	src   *source
	keep  map[string]bool
	early []string // files passed before .dockerignore came
	err   error    // a bad .dockerignore
}

func (f *ignoreFilter) copy(r io.Reader, w io.Writer) error {
	tr, tw := tar.NewReader(r), tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		name := cleanName(hdr.Name)
		var body io.Reader = tr
		if name == ".dockerignore" && hdr.Typeflag == tar.TypeReg {
			b, err := f.readIgnore(tr, hdr.Size)
			if err != nil {
				f.err = err
				return err
			}
			body = bytes.NewReader(b)
		}
		if f.skip(name, hdr) {
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, body); err != nil {
			return err
		}
	}
}

// skip says whether the entry name is left out; before .dockerignore
// came, files are noted for removeEarly.
func (f *ignoreFilter) skip(name string, hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeDir || f.keep[name] {
		return false
	}
	if f.src.ignore == nil {
		f.early = append(f.early, name)
		return false
	}
	return f.src.excluded(name)
}

func (f *ignoreFilter) readIgnore(r io.Reader, size int64) ([]byte, error) {
	if size > maxIgnoreFile {
		return nil, errdefs.InvalidArgument(fmt.Errorf(".dockerignore: %d bytes, over the limit of %d", size, maxIgnoreFile))
	}
	b, err := io.ReadAll(io.LimitReader(r, maxIgnoreFile))
	if err != nil {
		return nil, fmt.Errorf("read .dockerignore: %w", err)
	}
	pats, err := ignorefile.ReadAll(bytes.NewReader(b))
	if err == nil {
		f.src.ignore, err = patternmatcher.New(pats)
	}
	if err != nil {
		return nil, errdefs.InvalidArgument(fmt.Errorf(".dockerignore: %w", err))
	}
	return b, nil
}

// removeEarly removes the excluded files unpacked before .dockerignore
// came in the tar.
func (f *ignoreFilter) removeEarly() error {
	if f.src.ignore == nil {
		return nil
	}
	for _, name := range f.early {
		if f.keep[name] || !f.src.excluded(name) {
			continue
		}
		hp, err := securejoin.SecureJoin(f.src.dir, name)
		if err != nil {
			return err
		}
		if err := os.RemoveAll(hp); err != nil {
			return fmt.Errorf("remove excluded %s: %w", name, err)
		}
	}
	return nil
}

// cleanName is a tar entry or Dockerfile name as .dockerignore matches
// it: relative, slash separated, cleaned.
func cleanName(name string) string {
	if name == "" {
		name = "Dockerfile"
	}
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}
