// Package archive reads and writes layer tarballs: it applies a layer's tar
// stream to a directory (an overlay upper dir or a plain rootfs), turning
// whiteouts into overlay form or applying them by deletion, and writes the tar
// of an overlay upper dir (a layer diff) or of a plain directory.
//
// Extraction is security code. Every path is resolved inside the target root
// with openat2(RESOLVE_IN_ROOT) from a file descriptor of that root, and the
// final component of each entry is created with *at system calls relative to
// its parent's descriptor, never following a symlink: `../`, absolute names,
// symlinks planted by earlier entries or layers and hardlinks to outside are
// all contained in the root.
//
// Apply reads the tar in one goroutine, which resolves every path, and
// hands small regular files and symlinks to a few workers that create them
// (ApplyOptions.Workers), each relative to the parent descriptor Apply
// resolved, with O_EXCL|O_NOFOLLOW or symlinkat, and only where nothing is
// yet. Apply waits for the workers wherever an entry could depend on one in
// flight (the same entry again, a path that does not resolve, hardlinks,
// whiteouts, removals, directory times), so the result is that of applying
// the entries in tar order; the attack tests run both ways.
//
// Decompress and Compress handle the layer compressions (gzip, zstd, none).
//
// Limits: sparse entries are refused (they could expand far beyond their
// size in the tar); a tar must end with its end-of-archive marker; a parent
// path that goes through a dangling symlink is an error (Docker creates the
// symlink's target instead); in an overlay upper dir, a symlink of a lower
// layer is not followed for the layer's paths (a layer adding lib/x over a
// lower lib -> usr/lib symlink makes a directory lib that hides it, as
// containerd and podman do too).
package archive
