package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	// paxXattr prefixes the PAX records that hold extended attributes.
	paxXattr = "SCHILY.xattr."
	// opaqueXattr marks an overlay upper dir as opaque (value "y").
	opaqueXattr = "trusted.overlay.opaque"
)

// privateXattr reports whether name is an attribute that corral neither
// takes from a layer nor puts into one: overlayfs's own attributes (a layer
// could otherwise plant redirects or opaque marks the mount would obey) and
// the host's SELinux label.
func privateXattr(name string) bool {
	return strings.HasPrefix(name, "trusted.overlay.") ||
		strings.HasPrefix(name, "user.overlay.") ||
		name == "security.selinux"
}

// xattrSetter sets one extended attribute on a file.
type xattrSetter func(name string, value []byte) error

// fdXattrs sets attributes through fd, a descriptor opened for reading or
// writing (a regular file or a directory).
func fdXattrs(fd int) xattrSetter {
	return func(name string, value []byte) error { return unix.Fsetxattr(fd, name, value, 0) }
}

// procPath names an O_PATH descriptor in /proc/self/fd. The (following)
// *xattr calls on it reach the inode the descriptor refers to, a symlink
// included, without resolving any path again.
func procPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// pathXattrs sets attributes on what the O_PATH descriptor fd refers to.
func pathXattrs(fd int) xattrSetter {
	p := procPath(fd)
	return func(name string, value []byte) error { return unix.Setxattr(p, name, value, 0) }
}

// hasXattrs reports whether hdr carries extended attributes.
func hasXattrs(hdr *tar.Header) bool {
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, paxXattr) {
			return true
		}
	}
	return false
}

// applyXattrs sets the extended attributes of hdr with set. Attributes the
// filesystem does not support, and user.* ones on files other than regular
// files and directories (which Linux refuses), are skipped with a warning.
func applyXattrs(hdr *tar.Header, set xattrSetter) error {
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, paxXattr)
		if !ok || privateXattr(name) {
			continue
		}
		err := set(name, []byte(v))
		switch {
		case err == nil:
		case errors.Is(err, unix.ENOTSUP),
			errors.Is(err, unix.EPERM) && strings.HasPrefix(name, "user.") &&
				hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeDir:
			slog.Warn("archive: extended attribute ignored", "path", hdr.Name, "xattr", name, "err", err)
		default:
			return fmt.Errorf("set xattr %s: %w", name, err)
		}
	}
	return nil
}

// xattrLister lists and reads the extended attributes of one file.
type xattrLister struct {
	list func(dest []byte) (int, error)
	get  func(name string, dest []byte) (int, error)
}

func fdLister(fd int) xattrLister {
	return xattrLister{
		list: func(d []byte) (int, error) { return unix.Flistxattr(fd, d) },
		get:  func(n string, d []byte) (int, error) { return unix.Fgetxattr(fd, n, d) },
	}
}

func pathLister(fd int) xattrLister {
	p := procPath(fd)
	return xattrLister{
		list: func(d []byte) (int, error) { return unix.Listxattr(p, d) },
		get:  func(n string, d []byte) (int, error) { return unix.Getxattr(p, n, d) },
	}
}

// readXattrs returns every extended attribute of a file, overlay's and the
// SELinux label included; nil when there are none.
func readXattrs(l xattrLister) (map[string]string, error) {
	names, err := sized(func(d []byte) (int, error) { return l.list(d) })
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		return nil, fmt.Errorf("list xattrs: %w", err)
	}
	var out map[string]string
	for _, name := range strings.Split(string(names), "\x00") {
		if name == "" {
			continue
		}
		v, err := sized(func(d []byte) (int, error) { return l.get(name, d) })
		if errors.Is(err, unix.ENODATA) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("get xattr %s: %w", name, err)
		}
		if out == nil {
			out = make(map[string]string)
		}
		out[name] = string(v)
	}
	return out, nil
}

// sized calls an *xattr reader first for the size, then with a buffer,
// again if the value grew in between.
func sized(call func(dest []byte) (int, error)) ([]byte, error) {
	for range 8 {
		n, err := call(nil)
		if err != nil || n == 0 {
			return nil, err
		}
		buf := make([]byte, n)
		n, err = call(buf)
		if err == unix.ERANGE {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
	return nil, unix.ERANGE
}
