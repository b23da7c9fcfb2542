package volume

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// The local driver's options, as dockerd's: type, device and o are
// mount(8)'s -t, device and -o; size needs quotas, which this engine has
// not.
var (
	validOptions = map[string]bool{"type": true, "device": true, "o": true, "size": true}
	// requiredWith lists, for an option, the options it needs beside it.
	requiredWith = map[string][]string{"device": {"type"}, "type": {"device"}, "o": {"device", "type"}}
)

// validateOptions checks a local volume's options, with dockerd's
// messages.
func validateOptions(opts map[string]string) error {
	for k := range opts {
		if !validOptions[k] {
			return fmt.Errorf("invalid option: %q", k)
		}
	}
	if _, ok := opts["size"]; ok {
		return errors.New("quota size requested but no quota support")
	}
	for _, k := range []string{"device", "type", "o"} {
		if _, ok := opts[k]; !ok {
			continue
		}
		for _, need := range requiredWith[k] {
			if _, ok := opts[need]; !ok {
				return fmt.Errorf("missing required option: %q", need)
			}
		}
	}
	if _, _, err := mountOptions(opts["o"]); err != nil {
		return err
	}
	return nil
}

// mountFlags are the options of o that are mount flags, not data.
var mountFlags = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro": {false, unix.MS_RDONLY}, "rw": {true, unix.MS_RDONLY},
	"nosuid": {false, unix.MS_NOSUID}, "suid": {true, unix.MS_NOSUID},
	"nodev": {false, unix.MS_NODEV}, "dev": {true, unix.MS_NODEV},
	"noexec": {false, unix.MS_NOEXEC}, "exec": {true, unix.MS_NOEXEC},
	"sync": {false, unix.MS_SYNCHRONOUS}, "async": {true, unix.MS_SYNCHRONOUS},
	"noatime": {false, unix.MS_NOATIME}, "atime": {true, unix.MS_NOATIME},
	"nodiratime": {false, unix.MS_NODIRATIME}, "diratime": {true, unix.MS_NODIRATIME},
	"relatime": {false, unix.MS_RELATIME}, "norelatime": {true, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME}, "nostrictatime": {true, unix.MS_STRICTATIME},
	"bind": {false, unix.MS_BIND}, "rbind": {false, unix.MS_BIND | unix.MS_REC},
	"remount": {false, unix.MS_REMOUNT}, "defaults": {false, 0},
}

// mountOptions splits o into mount flags and filesystem data. A remount is
// refused: a volume's mount is a new one.
func mountOptions(o string) (flags uintptr, data string, err error) {
	var rest []string
	for _, opt := range strings.Split(o, ",") {
		if opt == "" {
			continue
		}
		f, ok := mountFlags[opt]
		switch {
		case opt == "remount":
			return 0, "", fmt.Errorf("invalid option o=%s: remount is not allowed", o)
		case !ok:
			rest = append(rest, opt)
		case f.clear:
			flags &^= f.flag
		default:
			flags |= f.flag
		}
	}
	return flags, strings.Join(rest, ","), nil
}

// mountsSomething reports whether v's content is a filesystem mounted
// while used, rather than a plain directory.
func (v *Volume) mountsSomething() bool { return v.Options["type"] != "" || v.Options["device"] != "" }

// Mount makes volume name ready for container id to use and returns the
// host path to bind into the container: a plain volume is always ready; an
// options volume is mounted by its first user.
func (s *Store) Mount(name, id string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		return "", fmt.Errorf("get %s: no such volume", name)
	}
	path := s.Path(name)
	if len(s.active[name]) == 0 && v.mountsSomething() {
		if err := s.mountLocked(v, path); err != nil {
			return "", err
		}
	}
	if s.active[name] == nil {
		s.active[name] = map[string]bool{}
	}
	s.active[name][id] = true
	return path, nil
}

func (s *Store) mountLocked(v *Volume, path string) error {
	if mounted, err := isMountPoint(path); err != nil || mounted {
		return err // mounted before the daemon restarted: in use as it is
	}
	flags, data, err := mountOptions(v.Options["o"])
	if err != nil {
		return err
	}
	device := v.Options["device"]
	if flags&unix.MS_BIND != 0 {
		st, err := os.Stat(device)
		if err != nil {
			return fmt.Errorf("mount volume %s: bind device: %w", v.Name, err)
		}
		if !st.IsDir() {
			return fmt.Errorf("mount volume %s: bind device %s is not a directory", v.Name, device)
		}
	}
	if err := s.mount(device, path, v.Options["type"], flags, data); err != nil {
		return fmt.Errorf("mount volume %s: %s on %s (type %s, options %q): %w", v.Name, device, path, v.Options["type"], v.Options["o"], err)
	}
	// A read-only bind needs a second, remounting call.
	if ro := flags & unix.MS_RDONLY; ro != 0 && flags&unix.MS_BIND != 0 {
		if err := s.mount("", path, "", flags|unix.MS_REMOUNT, ""); err != nil {
			return errors.Join(fmt.Errorf("mount volume %s read-only: %w", v.Name, err), s.unmount(path))
		}
	}
	return nil
}

// Unmount says container id stopped using volume name, and whether it
// was using it; the last user of an options volume unmounts it.
func (s *Store) Unmount(name, id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	users, ok := s.active[name]
	if !ok || !users[id] {
		return false, nil
	}
	delete(users, id)
	if len(users) > 0 {
		return true, nil
	}
	delete(s.active, name)
	if v, ok := s.vols[name]; !ok || !v.mountsSomething() {
		return true, nil
	}
	return true, s.unmountLocked(name)
}

// unmountLocked unmounts volume name's content if something is mounted
// there.
func (s *Store) unmountLocked(name string) error {
	path := s.Path(name)
	mounted, err := isMountPoint(path)
	if err != nil || !mounted {
		return err
	}
	if err := s.unmount(path); err != nil {
		return fmt.Errorf("unmount volume %s: %w", name, err)
	}
	return nil
}

// Restore is called once the daemon knows which containers run (active
// maps a volume to them): their volumes count as mounted by them, and an options volume mounted for no running container (its users
// exited while the daemon was down) is unmounted.
func (s *Store) Restore(active map[string][]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for name, v := range s.vols {
		if ids := active[name]; len(ids) > 0 {
			s.active[name] = map[string]bool{}
			for _, id := range ids {
				s.active[name][id] = true
			}
			continue
		}
		if v.mountsSomething() {
			errs = append(errs, s.unmountLocked(name))
		}
	}
	return errors.Join(errs...)
}

func sysMount(source, target, fstype string, flags uintptr, data string) error {
	return unix.Mount(source, target, fstype, flags, data)
}

func sysUnmount(target string) error { return unix.Unmount(target, unix.MNT_DETACH) }

// isMountPoint reports whether something is mounted at path.
func isMountPoint(path string) (bool, error) {
	ok, err := mountinfo.Mounted(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check mounts at %s: %w", path, err)
	}
	return ok, nil
}
