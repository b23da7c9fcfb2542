// Package openat2 is openat2(2)'s scoped successor as corral's lookups
// inside a root use it: retried while the kernel asks for a retry.
//
// A lookup with RESOLVE_IN_ROOT or RESOLVE_BENEATH fails with EAGAIN when
// a rename or a mount anywhere on the machine raced with its walk (the
// kernel cannot then prove the walk stayed inside), and any open may see
// EINTR. Neither says anything about the path, so the lookup is made
// again; runtime/nsinit, which may import no module package, has its own.
package openat2

import (
	"errors"

	"golang.org/x/sys/unix"
)

// maxTries bounds the retries, so that a machine renaming and mounting
// without pause yields EAGAIN rather than a hang.
const maxTries = 128

// Open is unix.Openat2(dir, path, how), retried on EAGAIN and EINTR.
func Open(dir int, path string, how *unix.OpenHow) (int, error) {
	var err error
	for range maxTries {
		var fd int
		fd, err = unix.Openat2(dir, path, how)
		if err == nil {
			return fd, nil
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			return -1, err
		}
	}
	return -1, err
}
