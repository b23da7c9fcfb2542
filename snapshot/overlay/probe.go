package overlay

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/snapshot"
)

// Supported reports whether overlay snapshots work in dir (which must
// exist): it mounts a small overlay with two lower layers and an upper layer
// in a temporary directory there, with the options the snapshotter uses,
// writes through it and unmounts it. It needs root; a failure (no overlayfs,
// a filesystem that cannot be an upper layer) is errdefs.ErrNotImplemented
// with the kernel's reason.
func Supported(dir string) error {
	tmp, err := os.MkdirTemp(dir, "overlay-check-")
	if err != nil {
		return fmt.Errorf("check overlay support: %w", err)
	}
	defer os.RemoveAll(tmp)
	for _, d := range []string{"l1", "l2", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			return fmt.Errorf("check overlay support: %w", err)
		}
	}
	opts := append(kernelOptions(),
		"lowerdir="+filepath.Join(tmp, "l1")+":"+filepath.Join(tmp, "l2"),
		"upperdir="+filepath.Join(tmp, "upper"), "workdir="+filepath.Join(tmp, "work"))
	merged := filepath.Join(tmp, "merged")
	m := snapshot.Mount{Type: "overlay", Source: "overlay", Options: opts}
	if err := snapshot.MountAll([]snapshot.Mount{m}, merged); err != nil {
		return errdefs.Wrap(errdefs.ErrNotImplemented,
			fmt.Errorf("overlay (%s) not supported in %s: %w", strings.Join(opts[:len(kernelOptions())], ","), dir, err))
	}
	werr := os.WriteFile(filepath.Join(merged, "probe"), nil, 0o644)
	if err := snapshot.UnmountAll(merged); err != nil {
		return fmt.Errorf("check overlay support: %w", err)
	}
	if werr != nil {
		return errdefs.Wrap(errdefs.ErrNotImplemented, fmt.Errorf("overlay in %s is not writable: %w", dir, werr))
	}
	return nil
}
