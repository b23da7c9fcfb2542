package image

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/corral-dev/corral/content"
	"github.com/corral-dev/corral/snapshot/overlay"
)

// DefaultRoot is the engine's state dir.
const DefaultRoot = "/var/lib/corral"

// Open opens the image store under an engine state dir with the local
// implementations: the content store in <root>/content, the overlay
// snapshotter in <root>/snapshots/overlay and the records in
// <root>/image/images.db. reg may be nil (no pull or push). Close releases
// them.
func Open(ctx context.Context, root string, reg Registry) (*Store, error) {
	if root == "" {
		root = DefaultRoot
	}
	cs, err := content.NewLocal(filepath.Join(root, "content"))
	if err != nil {
		return nil, err
	}
	sn, err := overlay.New(filepath.Join(root, "snapshots", "overlay"))
	if err != nil {
		return nil, fmt.Errorf("open snapshotter: %w", err)
	}
	s, err := New(ctx, Options{Root: root, Content: cs, Snapshotter: sn, Registry: reg})
	if err != nil {
		sn.Close()
		return nil, err
	}
	s.closers = append(s.closers, sn.Close)
	return s, nil
}
