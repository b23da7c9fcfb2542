package runtime

// Defence against CVE-2019-5736. Init runs the runtime's own binary inside
// the container's namespaces, so for a moment a container process can reach
// that binary through /proc/<init>/exe, or by making init execute it again
// (an image whose program is "#!/proc/self/exe"). If the magic link led to
// the host's file, the container could reopen it for writing once no one
// runs it any more, and every later `corral` on the host would be the
// attacker's. So init is never executed from the host's file: it runs from a
// view of the binary that cannot be made writable.
//
// The view is a private overlayfs: the binary's directory as the upper of
// two lower layers (the other an empty, detached tmpfs), mounted read-only
// with fsmount(2) and never attached anywhere. An overlay without an upper
// layer has no way to write, and no handle through it leads back to the
// underlying file. It costs a few mounts and no copy. Where the kernel
// refuses that overlay (no overlayfs, an old kernel that cannot take a
// detached mount as a layer, a binary on a filesystem overlayfs will not
// stack on), the binary is copied into a sealed memfd instead: about 2 ms
// more per start for a 9 MB binary. If neither works, the spawn fails:
// there is no unprotected fallback.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/corral-dev/corral/runtime/nsinit"
	"golang.org/x/sys/unix"
)

// sealExecutable makes cmd run the runtime's binary through a sealed view:
// the view's descriptor becomes cmd's last extra file, cmd.Path names it in
// /proc/self/fd and nsinit.EnvExeFD tells init which descriptor to close.
// The caller calls done once cmd has started (or failed to).
func sealExecutable(cmd *exec.Cmd) (done func(), err error) {
	return sealExecutableFrom(cmd, nil)
}

// sealExecutableFrom is sealExecutable with the sealing begun by sealAhead,
// when ahead is not nil.
func sealExecutableFrom(cmd *exec.Cmd, ahead *pendingSeal) (done func(), err error) {
	var exe *os.File
	if ahead != nil {
		exe, err = ahead.take()
	} else {
		exe, err = sealedSelf()
	}
	if err != nil {
		return nil, err
	}
	// The descriptor goes through ExtraFiles rather than being named by its
	// number here: os/exec may reuse any other descriptor number in the
	// child before execve (golang/go#61751).
	cmd.ExtraFiles = append(cmd.ExtraFiles, exe)
	fd := strconv.Itoa(2 + len(cmd.ExtraFiles))
	cmd.Path = "/proc/self/fd/" + fd
	cmd.Env = append(cmd.Env, nsinit.EnvExeFD+"="+fd)
	return func() { exe.Close() }, nil
}

// pendingSeal is a sealedSelf under way on a goroutine of its own, begun
// early so that its mounts overlap the rest of the preparation.
type pendingSeal struct {
	done chan struct{}
	f    *os.File
	err  error
}

// sealAhead begins sealedSelf. The caller takes the result, or discards it.
func sealAhead() *pendingSeal {
	p := &pendingSeal{done: make(chan struct{})}
	go func() {
		p.f, p.err = sealedSelf()
		close(p.done)
	}()
	return p
}

// take waits for the sealed binary and hands it over.
func (p *pendingSeal) take() (*os.File, error) {
	<-p.done
	f := p.f
	p.f = nil
	return f, p.err
}

// discard closes the sealed binary unless it was taken.
func (p *pendingSeal) discard() {
	<-p.done
	if p.f != nil {
		p.f.Close()
		p.f = nil
	}
}

// sealedSelf returns a handle of the running binary that cannot be
// reopened for writing.
func sealedSelf() (*os.File, error) {
	exe, err := overlaySelf()
	if err == nil {
		return exe, nil
	}
	mem, merr := memfdSelf()
	if merr != nil {
		return nil, fmt.Errorf("protect the runtime binary from the container: overlayfs: %v; memfd copy: %w", err, merr)
	}
	return mem, nil
}

// overlaySelf opens the binary through a detached, read-only overlayfs.
func overlaySelf() (*os.File, error) {
	path, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("read /proc/self/exe: %w", err)
	}
	if strings.HasSuffix(path, " (deleted)") {
		return nil, fmt.Errorf("the binary %s was replaced while running", path)
	}
	dir, name := filepath.Split(path)
	mnt, err := readonlyOverlay(dir)
	if err != nil {
		return nil, err
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s through the overlay: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), "sealed:"+path)
	if err := sameAsSelf(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// readonlyOverlay mounts, detached, an overlay of dir over an empty tmpfs
// (overlayfs needs two lower layers when it has no upper one).
func readonlyOverlay(dir string) (int, error) {
	empty, err := detachedTmpfs()
	if err != nil {
		return -1, err
	}
	defer unix.Close(empty)
	ctx, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(ctx)
	lower := escapeLayer(dir) + ":/proc/self/fd/" + strconv.Itoa(empty)
	if err := unix.FsconfigSetString(ctx, "lowerdir", lower); err != nil {
		return -1, fmt.Errorf("overlay lowerdir=%s: %w", lower, err)
	}
	// Only to keep the kernel from logging about inode numbers.
	_ = unix.FsconfigSetString(ctx, "xino", "off")
	if err := unix.FsconfigCreate(ctx); err != nil {
		return -1, fmt.Errorf("create overlay on %s: %w", dir, err)
	}
	attrs := unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOSUID
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return -1, fmt.Errorf("fsmount overlay: %w", err)
	}
	return mnt, nil
}

// detachedTmpfs makes an empty read-only tmpfs attached nowhere.
func detachedTmpfs() (int, error) {
	ctx, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen tmpfs: %w", err)
	}
	defer unix.Close(ctx)
	_ = unix.FsconfigSetString(ctx, "size", "4k")
	if err := unix.FsconfigCreate(ctx); err != nil {
		return -1, fmt.Errorf("create tmpfs: %w", err)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY)
	if err != nil {
		return -1, fmt.Errorf("fsmount tmpfs: %w", err)
	}
	return mnt, nil
}

// escapeLayer escapes the characters overlayfs gives a meaning in lowerdir.
func escapeLayer(p string) string {
	return strings.NewReplacer(`\`, `\\`, `:`, `\:`, `,`, `\,`).Replace(p)
}

// sameAsSelf checks that f shows the binary this process runs: same size,
// mode and modification time (overlayfs reports the lower file's).
func sameAsSelf(f *os.File) error {
	var self, got unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &self); err != nil {
		return fmt.Errorf("stat /proc/self/exe: %w", err)
	}
	if err := unix.Fstat(int(f.Fd()), &got); err != nil {
		return fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	if got.Mode&unix.S_IFMT != unix.S_IFREG || got.Size != self.Size || got.Mode != self.Mode || got.Mtim != self.Mtim {
		return fmt.Errorf("%s is not the running binary", f.Name())
	}
	return nil
}

// memfdSelf copies the binary into a memfd sealed against any change, and
// returns a read-only handle of it (execve refuses a file that is open for
// writing).
func memfdSelf() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open /proc/self/exe: %w", err)
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("corral-init", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) { // before Linux 6.3, no MFD_EXEC
		fd, err = unix.MemfdCreate("corral-init", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	mem := os.NewFile(uintptr(fd), "memfd:corral-init")
	defer mem.Close()
	if _, err := io.Copy(mem, src); err != nil {
		return nil, fmt.Errorf("copy the binary into a memfd: %w", err)
	}
	if err := mem.Chmod(0o555); err != nil {
		return nil, fmt.Errorf("chmod memfd: %w", err)
	}
	// F_SEAL_EXEC (Linux 6.3) keeps the mode; older kernels lack it.
	_, _ = unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_EXEC)
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		return nil, fmt.Errorf("seal memfd: %w", err)
	}
	ro, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(fd), os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("reopen memfd read-only: %w", err)
	}
	return ro, nil
}

// closeInheritedFDs marks every descriptor from 3+preserve up close-on-exec
// in the runtime itself (CVE-2024-21626): whatever the runtime's caller left
// open, by mistake or on purpose, must not reach init, where a process.cwd
// of /proc/self/fd/N would turn it into a working directory outside the
// container. The spawner's own extra files are unaffected: os/exec dup2()s
// them into place in the child.
func closeInheritedFDs(preserve int) error {
	if err := unix.CloseRange(uint(3+preserve), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("mark inherited descriptors close-on-exec: %w", err)
	}
	return nil
}
