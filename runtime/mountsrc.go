package runtime

// Bind sources opened for init. A container with a user namespace runs
// init as its mapped root, which cannot reach a source below a directory
// only the host's root may search. As runc does, the runtime opens such
// sources itself (O_PATH) and hands them to init (see
// nsinit.MsgMountSources). It opens them in init's mount namespace, before
// init has mounted anything there: the kernel refuses to bind-mount a
// descriptor of another mount namespace, and that namespace is still an
// exact copy of the runtime's, so every path, symlinks included, resolves
// as it would for a bind mount made by the runtime itself.
//
// One exception keeps the image from borrowing the runtime's credentials:
// a source inside the container's rootfs that resolves (through a symlink
// of the image) to a place outside it is not handed over, and init
// resolves it with its own credentials, which reach only what the mapped
// root may see.

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"github.com/corral-dev/corral/runtime/nsinit"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// planMountSources lists in cfg the bind mounts whose sources the runtime
// opens: all of them, for a new container with both a user and a mount
// namespace.
func planMountSources(cfg *nsinit.Config) {
	spec := cfg.Spec
	if cfg.Mode != nsinit.ModeCreate || spec == nil || spec.Linux == nil ||
		!listsNamespace(spec, specs.UserNamespace) || !listsNamespace(spec, specs.MountNamespace) {
		return
	}
	cfg.MountSources = nil
	for i := range spec.Mounts {
		if isBindMount(&spec.Mounts[i]) {
			cfg.MountSources = append(cfg.MountSources, i)
		}
	}
}

func listsNamespace(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

// sendMountSources answers init's MsgMountSources: one byte per source of
// cfg.MountSources, 1 with its descriptor, 0 without when it could not be
// opened (init then tries the path and reports the error).
func (p *initProc) sendMountSources(cfg *nsinit.Config) error {
	paths := make([]string, len(cfg.MountSources))
	for k, i := range cfg.MountSources {
		paths[k] = cfg.Spec.Mounts[i].Source
	}
	files := openInMountNS(p.pid, paths, rootfsNames(cfg.Rootfs))
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	sock := int(p.sync.Fd())
	for _, f := range files {
		msg, oob := []byte{0}, []byte(nil)
		if f != nil {
			msg[0], oob = 1, unix.UnixRights(int(f.Fd()))
		}
		if err := unix.Sendmsg(sock, msg, oob, nil, 0); err != nil {
			return fmt.Errorf("send bind sources to init: %w", err)
		}
	}
	return nil
}

// rootfsNames returns the rootfs path as given and with its symlinks
// resolved.
func rootfsNames(rootfs string) []string {
	names := []string{filepath.Clean(rootfs)}
	if real, err := filepath.EvalSymlinks(rootfs); err == nil && real != names[0] {
		names = append(names, real)
	}
	return names
}

// openInMountNS opens each absolute path O_PATH in the mount namespace of
// process pid, on a thread of its own that is discarded afterwards. The
// result has a nil entry for each path that could not be opened (all of
// them if the namespace could not be entered) or that leaves the rootfs
// (see leavesRootfs).
func openInMountNS(pid int, paths, rootfs []string) []*os.File {
	files := make([]*os.File, len(paths))
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	if err != nil {
		slog.Debug("bind sources: open init's mount namespace", "err", err)
		return files
	}
	defer ns.Close()
	done := make(chan error, 1)
	go func() {
		// Never unlocked: the goroutine ends locked and Go discards the
		// thread, which is left in init's mount namespace.
		goruntime.LockOSThread()
		done <- openPathsIn(int(ns.Fd()), paths, rootfs, files)
	}()
	if err := <-done; err != nil {
		slog.Debug("bind sources: enter init's mount namespace", "err", err)
	}
	return files
}

// openPathsIn runs on a locked thread: it leaves the file system context
// the process's threads share, enters the mount namespace nsFD and opens
// the paths. mount(2) follows every symlink of a bind source, the last one
// included, and so does this open.
func openPathsIn(nsFD int, paths, rootfs []string, files []*os.File) error {
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare fs: %w", err)
	}
	if err := unix.Setns(nsFD, unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("setns: %w", err)
	}
	for i, p := range paths {
		if !filepath.IsAbs(p) {
			continue
		}
		fd, err := unix.Open(p, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		f := os.NewFile(uintptr(fd), p)
		if leavesRootfs(f, p, rootfs) {
			slog.Debug("bind source inside the rootfs resolves out of it: left to init", "source", p)
			f.Close()
			continue
		}
		files[i] = f
	}
	return nil
}

// leavesRootfs reports whether source names a path inside the rootfs
// (lexically) while its handle f lies outside it, or cannot be named.
func leavesRootfs(f *os.File, source string, rootfs []string) bool {
	if !underAny(filepath.Clean(source), rootfs) {
		return false
	}
	real, err := os.Readlink(fmt.Sprintf("/proc/thread-self/fd/%d", f.Fd()))
	return err != nil || !underAny(real, rootfs)
}

// underAny reports whether p is one of dirs or below one.
func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") || d == "/" {
			return true
		}
	}
	return false
}
