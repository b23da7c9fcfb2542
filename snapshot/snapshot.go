// Package snapshot defines the Snapshotter contract: a tree of filesystem
// snapshots where each committed snapshot is an immutable layer on top of its
// parent, and an active snapshot is a writable layer on top of a committed
// one, handed out as mounts (overlayfs lowerdir/upperdir/workdir). Image
// layers are unpacked into active snapshots and committed under their chain
// IDs; container root filesystems are active snapshots of an image's top
// layer. snapshot/overlay implements it; snapshot/snapshottest holds the
// conformance suite.
package snapshot

import (
	"context"
	"time"
)

// Kind is the state of a snapshot.
type Kind int

// The kinds. A View is a read-only active snapshot.
const (
	KindUnknown Kind = iota
	KindView
	KindActive
	KindCommitted
)

func (k Kind) String() string {
	switch k {
	case KindView:
		return "view"
	case KindActive:
		return "active"
	case KindCommitted:
		return "committed"
	}
	return "unknown"
}

// Info describes a snapshot. Parent is the key of the committed snapshot it
// builds on ("" for a base layer).
type Info struct {
	Key     string
	Parent  string
	Kind    Kind
	Labels  map[string]string
	Created time.Time
	Updated time.Time
}

// Usage is the disk a snapshot uses on its own (not its parents).
type Usage struct {
	Inodes int64
	Size   int64
}

// Mount is one mount that, applied in order at a target, shows a snapshot's
// filesystem: for overlay {Type: "overlay", Source: "overlay", Options:
// ["lowerdir=...", "upperdir=...", "workdir=..."]}, or a bind mount for a
// snapshot without parents.
type Mount struct {
	Type    string
	Source  string
	Options []string
}

// Opt sets optional properties of a snapshot (labels).
type Opt func(*Info)

// WithLabels adds labels to a snapshot.
func WithLabels(labels map[string]string) Opt {
	return func(i *Info) {
		if i.Labels == nil {
			i.Labels = map[string]string{}
		}
		for k, v := range labels {
			i.Labels[k] = v
		}
	}
}

// Snapshotter is the contract. Unknown keys are errdefs.ErrNotFound, keys in
// use errdefs.ErrAlreadyExists, removing a snapshot that has children
// errdefs.ErrConflict.
type Snapshotter interface {
	Stat(ctx context.Context, key string) (Info, error)
	// Prepare creates an active (writable) snapshot on parent ("" for none).
	Prepare(ctx context.Context, key, parent string, opts ...Opt) ([]Mount, error)
	// View creates a read-only active snapshot of parent.
	View(ctx context.Context, key, parent string, opts ...Opt) ([]Mount, error)
	// Mounts returns the mounts of an active snapshot or view.
	Mounts(ctx context.Context, key string) ([]Mount, error)
	// Commit turns active snapshot key into committed snapshot name.
	Commit(ctx context.Context, name, key string, opts ...Opt) error
	Remove(ctx context.Context, key string) error
	Walk(ctx context.Context, fn func(Info) error) error
	Usage(ctx context.Context, key string) (Usage, error)
}
