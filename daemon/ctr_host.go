package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/spec"
)

// homeEnv adds HOME to a process's environment that has none: the home
// of user uid in passwd, or "/", as runc sets it.
func homeEnv(env []string, uid uint32, passwd []byte) []string {
	if hasEnv(env, "HOME") {
		return env
	}
	return append(env, "HOME="+homeOf(uid, passwd))
}

// hasEnv reports whether env sets variable name.
func hasEnv(env []string, name string) bool {
	for _, kv := range env {
		if n, _, _ := strings.Cut(kv, "="); n == name {
			return true
		}
	}
	return false
}

// homeOf is the home directory of user uid in an /etc/passwd, "/" when the
// user has no entry or no home.
func homeOf(uid uint32, passwd []byte) string {
	id := strconv.FormatUint(uint64(uid), 10)
	for _, line := range strings.Split(string(passwd), "\n") {
		if f := strings.Split(line, ":"); len(f) >= 6 && f[2] == id && f[5] != "" {
			return f[5]
		}
	}
	return "/"
}

// readInRoot reads the file at path inside root, resolving every component
// (symlinks and ".." included) inside root, so that an image cannot make
// the engine read a host file. It reads at most 4 MiB.
func readInRoot(root, path string) ([]byte, error) {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open rootfs: %w", err)
	}
	defer unix.Close(dir)
	fd, err := unix.Openat2(dir, strings.TrimPrefix(path, "/"), &unix.OpenHow{
		Flags: unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return io.ReadAll(io.LimitReader(f, 4<<20))
}

// resolveDevices turns --device mappings into the device nodes they name
// (a directory gives every device under it).
func resolveDevices(maps []container.DeviceMapping) ([]spec.Device, error) {
	var out []spec.Device
	for _, m := range maps {
		dst := m.PathInContainer
		if dst == "" {
			dst = m.PathOnHost
		}
		devs, err := devicesAt(m.PathOnHost, dst, m.CgroupPermissions)
		if err != nil {
			return nil, errdefs.InvalidArgument(fmt.Errorf("error gathering device information while adding custom device %q: %w", m.PathOnHost, err))
		}
		out = append(out, devs...)
	}
	return out, nil
}

// devicesAt is the device at src (or under it) as dst in the container.
func devicesAt(src, dst, access string) ([]spec.Device, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		d, ok := deviceOf(src, dst, access)
		if !ok {
			return nil, errors.New("not a device node")
		}
		return []spec.Device{d}, nil
	}
	var out []spec.Device
	err = filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil
		}
		if d, ok := deviceOf(p, filepath.Join(dst, strings.TrimPrefix(p, src)), access); ok {
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// deviceOf describes the device node at path.
func deviceOf(path, dst, access string) (spec.Device, bool) {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return spec.Device{}, false
	}
	d := spec.Device{Path: dst, Major: int64(unix.Major(uint64(st.Rdev))), Minor: int64(unix.Minor(uint64(st.Rdev))),
		FileMode: os.FileMode(st.Mode & 0o777), UID: st.Uid, GID: st.Gid, Access: access}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		d.Type = "c"
	case unix.S_IFBLK:
		d.Type = "b"
	default:
		return spec.Device{}, false
	}
	return d, true
}

// hostDevices are the host's devices under /dev, for privileged
// containers (not the pty and shm mounts, which the container has its own
// of).
func hostDevices() []spec.Device {
	var out []spec.Device
	_ = filepath.WalkDir("/dev", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if e.IsDir() {
			switch p {
			case "/dev/pts", "/dev/shm", "/dev/mqueue":
				return filepath.SkipDir
			}
			return nil
		}
		if p == "/dev/console" || p == "/dev/ptmx" {
			return nil
		}
		if d, ok := deviceOf(p, p, "rwm"); ok {
			out = append(out, d)
		}
		return nil
	})
	return out
}

// mounted reports whether path is a mount point: its mount differs from
// its parent directory's. The mount IDs of statx answer that without
// reading the mount table, which costs about a millisecond per read on a
// host with a few hundred mounts; kernels before 5.8 fall back to it.
func mounted(path string) bool {
	var sx, parentx unix.Statx_t
	const flags = unix.AT_SYMLINK_NOFOLLOW | unix.AT_STATX_DONT_SYNC
	if unix.Statx(unix.AT_FDCWD, path, flags, unix.STATX_MNT_ID, &sx) != nil ||
		unix.Statx(unix.AT_FDCWD, filepath.Dir(path), flags, unix.STATX_MNT_ID, &parentx) != nil {
		return false
	}
	if sx.Mask&parentx.Mask&unix.STATX_MNT_ID != 0 {
		return sx.Mnt_id != parentx.Mnt_id
	}
	var st, parent unix.Stat_t
	if unix.Lstat(path, &st) != nil || unix.Lstat(filepath.Dir(path), &parent) != nil {
		return false
	}
	if st.Dev != parent.Dev {
		return true
	}
	data, err := os.ReadFile("/proc/self/mountinfo")
	return err == nil && bytes.Contains(data, []byte(" "+path+" "))
}

// parseSize reads a size as docker's log options write it ("10m", "1g",
// "512k", "100").
func parseSize(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("empty size")
	}
	mult := int64(1)
	switch strings.ToLower(s[len(s)-1:]) {
	case "k":
		mult = 1 << 10
	case "m":
		mult = 1 << 20
	case "g":
		mult = 1 << 30
	}
	if mult > 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return n * mult, nil
}
