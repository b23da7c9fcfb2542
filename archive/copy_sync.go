package archive

import (
	"context"
	"io"
)

// WritePath writes to w the tar that ArchivePath answers for the path p of
// the tree root, in the calling goroutine: when it returns, every
// descriptor it opened in root is closed, so the caller may unmount root
// at once (the engine's copy of an image directory into a new volume).
func WritePath(ctx context.Context, w io.Writer, root, p string) error {
	r, err := openRoot(root)
	if err != nil {
		return err
	}
	defer r.close()
	l, err := locate(r, p)
	if err != nil {
		return err
	}
	defer l.close()
	if l.dirfd < 0 && isDir(&l.st) {
		if err := l.openDir(); err != nil {
			return err
		}
	}
	st, err := l.stat(r)
	if err != nil {
		return err
	}
	return l.write(ctx, w, st.Name)
}
