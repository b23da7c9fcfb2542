package volume

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/moby/moby/api/types/mount"

	"github.com/corral-dev/corral/errdefs"
)

// Spec is one mount a container asked for, read from -v (Binds,
// Config.Volumes) or --mount (HostConfig.Mounts); the daemon resolves it.
type Spec struct {
	// Type is bind, volume or tmpfs.
	Type mount.Type
	// Source is the host path of a bind, the name of a volume ("" for an
	// anonymous one).
	Source      string
	Destination string
	ReadOnly    bool
	// Mode is what -v said after the destination ("ro,z"), for inspect.
	Mode        string
	Propagation mount.Propagation
	// NoCopy skips filling a new volume with the image's content.
	NoCopy bool
	// CreateSource makes a missing bind source: only --mount's
	// bind-create-mountpoint asks for it. A missing -v source is an error,
	// as podman's (docker 28 makes the directory; issue 6 wants the error).
	CreateSource         bool
	NonRecursive         bool
	ReadOnlyNonRecursive bool
	// Driver, DriverOptions and Labels create a volume missing yet.
	Driver        string
	DriverOptions map[string]string
	Labels        map[string]string
	// TmpfsOptions are a tmpfs's options (size=, mode=).
	TmpfsOptions []string
}

func invalid(format string, args ...any) error {
	return errdefs.InvalidArgument(fmt.Errorf(format, args...))
}

// ParseBind reads one entry of HostConfig.Binds: SOURCE:DEST[:MODE] or
// DEST; SOURCE is a host path when absolute, else a volume name.
func ParseBind(raw string) (Spec, error) {
	parts := strings.Split(raw, ":")
	var s Spec
	switch len(parts) {
	case 1:
		s = Spec{Type: mount.TypeVolume, Destination: parts[0]}
	case 2, 3:
		s = Spec{Source: parts[0], Destination: parts[1]}
		if len(parts) == 3 {
			s.Mode = parts[2]
		}
	default:
		return Spec{}, invalid("invalid volume specification: '%s'", raw)
	}
	if s.Type == "" {
		if s.Source == "" {
			return Spec{}, invalid("invalid volume specification: '%s'", raw)
		}
		s.Type = mount.TypeVolume
		if path.IsAbs(s.Source) {
			s.Type, s.Source = mount.TypeBind, path.Clean(s.Source)
			s.Propagation = mount.PropagationRPrivate
		} else if err := ValidateName(s.Source); err != nil {
			return Spec{}, invalid("invalid volume specification: '%s': %s", raw, strings.TrimPrefix(err.Error(), "create "+s.Source+": "))
		}
	}
	if err := s.applyMode(raw); err != nil {
		return Spec{}, err
	}
	return s, s.checkDestination(raw)
}

// applyMode reads -v's comma-separated mode.
func (s *Spec) applyMode(raw string) error {
	var rw, label, prop, copyMode int
	for _, m := range strings.Split(s.Mode, ",") {
		switch m {
		case "":
		case "ro", "rw":
			rw++
			s.ReadOnly = m == "ro"
		case "z", "Z":
			label++
		case "private", "rprivate", "shared", "rshared", "slave", "rslave":
			prop++
			s.Propagation = mount.Propagation(m)
		case "nocopy":
			copyMode++
			s.NoCopy = true
		case "consistent", "cached", "delegated":
		default:
			return invalid("invalid mode: %s", s.Mode)
		}
	}
	if rw > 1 || label > 1 || prop > 1 || copyMode > 1 {
		return invalid("invalid mode: %s", s.Mode)
	}
	if s.Type == mount.TypeVolume && prop > 0 {
		return invalid("invalid volume specification: '%s': propagation is for bind mounts", raw)
	}
	if s.Type == mount.TypeBind && copyMode > 0 {
		return invalid("invalid mode: %s: nocopy is for volumes", s.Mode)
	}
	return nil
}

// checkDestination refuses a relative destination or "/".
func (s *Spec) checkDestination(raw string) error {
	if !path.IsAbs(s.Destination) {
		return invalid("invalid volume specification: '%s': invalid mount config for type %q: invalid mount path: '%s' mount path must be absolute",
			raw, s.Type, s.Destination)
	}
	s.Destination = path.Clean(s.Destination)
	if s.Destination == "/" {
		return invalid("invalid specification: destination can't be '/'")
	}
	return nil
}

// ParseMount reads one entry of HostConfig.Mounts (--mount), checked as
// dockerd checks it.
func ParseMount(m mount.Mount) (Spec, error) {
	s := Spec{Type: m.Type, Source: m.Source, Destination: m.Target, ReadOnly: m.ReadOnly}
	bad := func(format string, args ...any) error {
		return invalid("invalid mount config for type %q: %s", m.Type, fmt.Sprintf(format, args...))
	}
	if m.Target == "" {
		return Spec{}, bad("field Target must not be empty")
	}
	if !path.IsAbs(m.Target) {
		return Spec{}, bad("invalid mount path: '%s' mount path must be absolute", m.Target)
	}
	s.Destination = path.Clean(m.Target)
	if s.Destination == "/" {
		return Spec{}, invalid("invalid specification: destination can't be '/'")
	}
	var err error
	switch m.Type {
	case mount.TypeBind:
		err = s.bindOptions(m, bad)
	case mount.TypeVolume:
		err = s.volumeOptions(m, bad)
	case mount.TypeTmpfs:
		err = s.tmpfsOptions(m, bad)
	default:
		err = invalid("invalid mount config: mount type unknown: %q", m.Type)
	}
	return s, err
}

func (s *Spec) bindOptions(m mount.Mount, bad func(string, ...any) error) error {
	switch {
	case m.VolumeOptions != nil:
		return bad("field VolumeOptions must not be specified")
	case m.TmpfsOptions != nil:
		return bad("field TmpfsOptions must not be specified")
	case m.Source == "":
		return bad("field Source must not be empty")
	case !path.IsAbs(m.Source):
		return bad("invalid mount path: '%s' mount path must be absolute", m.Source)
	}
	s.Source = path.Clean(m.Source)
	s.Propagation = mount.PropagationRPrivate
	if o := m.BindOptions; o != nil {
		if o.Propagation != "" {
			s.Propagation = o.Propagation
		}
		s.NonRecursive, s.ReadOnlyNonRecursive = o.NonRecursive, o.ReadOnlyNonRecursive
		s.CreateSource = o.CreateMountpoint
	}
	if _, err := os.Stat(s.Source); err != nil && !s.CreateSource {
		if errors.Is(err, os.ErrNotExist) {
			return bad("bind source path does not exist: %s", s.Source)
		}
		return bad("bind source path: %v", err)
	}
	return nil
}

func (s *Spec) volumeOptions(m mount.Mount, bad func(string, ...any) error) error {
	switch {
	case m.BindOptions != nil:
		return bad("field BindOptions must not be specified")
	case m.TmpfsOptions != nil:
		return bad("field TmpfsOptions must not be specified")
	}
	if s.Source != "" {
		if err := ValidateName(s.Source); err != nil {
			return bad("%s", strings.TrimPrefix(err.Error(), "create "+s.Source+": "))
		}
	}
	if o := m.VolumeOptions; o != nil {
		if o.Subpath != "" {
			return bad("volume subpaths are not supported")
		}
		s.NoCopy, s.Labels = o.NoCopy, o.Labels
		if d := o.DriverConfig; d != nil {
			s.Driver, s.DriverOptions = d.Name, d.Options
		}
	}
	if s.Source == "" && m.ReadOnly {
		return bad("must not set ReadOnly mode when using anonymous volumes")
	}
	if s.Source == "" && (s.Labels != nil || s.DriverOptions != nil) {
		// dockerd names the volume then; so do we.
		s.Source = NewName()
	}
	return nil
}

func (s *Spec) tmpfsOptions(m mount.Mount, bad func(string, ...any) error) error {
	switch {
	case m.Source != "":
		return bad("field Source must not be specified")
	case m.BindOptions != nil:
		return bad("field BindOptions must not be specified")
	case m.VolumeOptions != nil:
		return bad("field VolumeOptions must not be specified")
	}
	if o := m.TmpfsOptions; o != nil {
		if o.SizeBytes < 0 {
			return bad("invalid tmpfs size %d", o.SizeBytes)
		}
		if o.SizeBytes > 0 {
			s.TmpfsOptions = append(s.TmpfsOptions, fmt.Sprintf("size=%d", o.SizeBytes))
		}
		if o.Mode != 0 {
			s.TmpfsOptions = append(s.TmpfsOptions, fmt.Sprintf("mode=%o", unixMode(o.Mode)))
		}
		for _, opt := range o.Options {
			if len(opt) != 1 || (opt[0] != "exec" && opt[0] != "noexec") {
				return bad("invalid tmpfs option %q: only exec and noexec are allowed", strings.Join(opt, "="))
			}
			s.TmpfsOptions = append(s.TmpfsOptions, opt[0])
		}
	}
	return nil
}

// ParseVolumesFrom reads one entry of HostConfig.VolumesFrom:
// CONTAINER[:MODE], where MODE may say ro or rw and z or Z, but neither a
// propagation nor nocopy (dockerd's rule); ro reports whether the mounts
// taken must be read-only (rw never makes a read-only mount writable).
func ParseVolumesFrom(raw string) (ref string, ro bool, err error) {
	if raw == "" {
		return "", false, invalid("volumes-from specification cannot be an empty string")
	}
	ref, mode, _ := strings.Cut(raw, ":")
	if ref == "" {
		return "", false, invalid("invalid volumes-from specification: '%s'", raw)
	}
	s := Spec{Type: mount.TypeVolume, Mode: mode}
	if err := s.applyMode(raw); err != nil || s.Propagation != "" || s.NoCopy {
		return "", false, invalid("invalid mode: %s", mode)
	}
	return ref, s.ReadOnly, nil
}

// unixMode is a mode as chmod(2) takes it: the docker CLI sends the
// octal number it was given as the FileMode's low bits; Go's own special
// bits count too.
func unixMode(m os.FileMode) uint32 {
	out := uint32(m) & 0o7777
	for bit, v := range map[os.FileMode]uint32{os.ModeSetuid: 0o4000, os.ModeSetgid: 0o2000, os.ModeSticky: 0o1000} {
		if m&bit != 0 {
			out |= v
		}
	}
	return out
}
