package nsinit

import (
	"fmt"
	"path"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountOpts is a spec mount's option list split the way mount(2) and
// mount_setattr(2) want it.
type mountOpts struct {
	flags   uintptr // MS_* flags to set
	cleared uintptr // MS_* flags the options explicitly clear ("rw", "suid"...)
	// propagation holds MS_SHARED, MS_SLAVE... (maybe with MS_REC), applied
	// one by one after the mount.
	propagation []uintptr
	// rec holds the recursive "rro", "rnosuid"... attributes.
	rec  unix.MountAttr
	data string // what mount(2) passes to the filesystem
}

// flagOpt says what one option does to the MS_* flags.
type flagOpt struct {
	clear bool
	flag  uintptr
}

var mountFlagOpts = map[string]flagOpt{
	"acl":           {false, unix.MS_POSIXACL},
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"iversion":      {false, unix.MS_I_VERSION},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"loud":          {true, unix.MS_SILENT},
	"mand":          {false, unix.MS_MANDLOCK},
	"noacl":         {true, unix.MS_POSIXACL},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"silent":        {false, unix.MS_SILENT},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"symfollow":     {true, unix.MS_NOSYMFOLLOW},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

var propagationOpts = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// recAttrOpt is one recursive option: attributes to clear, then to set.
type recAttrOpt struct {
	clr, set uint64
}

var recAttrOpts = map[string]recAttrOpt{
	"rro":            {0, unix.MOUNT_ATTR_RDONLY},
	"rrw":            {unix.MOUNT_ATTR_RDONLY, 0},
	"rnosuid":        {0, unix.MOUNT_ATTR_NOSUID},
	"rsuid":          {unix.MOUNT_ATTR_NOSUID, 0},
	"rnodev":         {0, unix.MOUNT_ATTR_NODEV},
	"rdev":           {unix.MOUNT_ATTR_NODEV, 0},
	"rnoexec":        {0, unix.MOUNT_ATTR_NOEXEC},
	"rexec":          {unix.MOUNT_ATTR_NOEXEC, 0},
	"rnodiratime":    {0, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":      {unix.MOUNT_ATTR_NODIRATIME, 0},
	"rrelatime":      {unix.MOUNT_ATTR__ATIME, unix.MOUNT_ATTR_RELATIME},
	"rnorelatime":    {unix.MOUNT_ATTR__ATIME, unix.MOUNT_ATTR_STRICTATIME},
	"rnoatime":       {unix.MOUNT_ATTR__ATIME, unix.MOUNT_ATTR_NOATIME},
	"ratime":         {unix.MOUNT_ATTR__ATIME, unix.MOUNT_ATTR_STRICTATIME},
	"rstrictatime":   {unix.MOUNT_ATTR__ATIME, unix.MOUNT_ATTR_STRICTATIME},
	"rnostrictatime": {unix.MOUNT_ATTR__ATIME, unix.MOUNT_ATTR_RELATIME},
	"rnosymfollow":   {0, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":     {unix.MOUNT_ATTR_NOSYMFOLLOW, 0},
}

// unsupportedOpts are options of the runtime spec that corral does not
// implement; they are refused rather than handed to the filesystem.
var unsupportedOpts = map[string]string{
	"tmpcopyup": "copying the image's files up into a tmpfs",
	"idmap":     "id-mapped mounts",
	"ridmap":    "id-mapped mounts",
}

// parseMountOptions splits options into flags, propagation, recursive
// attributes and the data string, like mount(8) does.
func parseMountOptions(options []string) (mountOpts, error) {
	var o mountOpts
	var data []string
	for _, opt := range options {
		if what, ok := unsupportedOpts[opt]; ok {
			return o, fmt.Errorf("option %q (%s) is not supported", opt, what)
		}
		if f, ok := mountFlagOpts[opt]; ok {
			if f.clear {
				o.flags &^= f.flag
				o.cleared |= f.flag
			} else {
				o.flags |= f.flag
				o.cleared &^= f.flag
			}
			continue
		}
		if p, ok := propagationOpts[opt]; ok {
			o.propagation = append(o.propagation, p)
			continue
		}
		if r, ok := recAttrOpts[opt]; ok {
			o.rec.Attr_clr |= r.clr
			o.rec.Attr_set = o.rec.Attr_set&^r.clr | r.set
			continue
		}
		data = append(data, opt)
	}
	o.data = strings.Join(data, ",")
	return o, nil
}

// hasRecAttr reports whether any recursive attribute was asked for.
func (o *mountOpts) hasRecAttr() bool {
	return o.rec.Attr_set != 0 || o.rec.Attr_clr != 0
}

// isBind reports whether the mount is a bind mount: an explicit "bind" or
// "rbind" option, or the type "bind".
func (o *mountOpts) isBind(m *specs.Mount) bool {
	return o.flags&unix.MS_BIND != 0 || m.Type == "bind"
}

// cleanDest checks that a mount destination is absolute and returns it
// cleaned. The destination "/" itself is refused: the rootfs is the root.
func cleanDest(dest string) (string, error) {
	if !path.IsAbs(dest) {
		return "", fmt.Errorf("destination %q is not an absolute path", dest)
	}
	clean := path.Clean(dest)
	if clean == "/" {
		return "", fmt.Errorf("destination %q is the root of the container", dest)
	}
	return clean, nil
}

// rootfsPropagation maps linux.rootfsPropagation to mount(2) flags; 0 means
// not set.
func rootfsPropagation(spec *specs.Spec) (uintptr, error) {
	if spec.Linux == nil || spec.Linux.RootfsPropagation == "" {
		return 0, nil
	}
	p, ok := propagationOpts[spec.Linux.RootfsPropagation]
	if !ok {
		return 0, fmt.Errorf("linux.rootfsPropagation: unknown value %q", spec.Linux.RootfsPropagation)
	}
	return p, nil
}

// Flags the kernel locks on mounts copied into a user namespace.
const (
	atimeFlags    = unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME
	lockableFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | atimeFlags
)

// statfsMountFlags turns statfs(2) f_flags into the MS_* flags of the mount.
func statfsMountFlags(st *unix.Statfs_t) uintptr {
	var flags uintptr
	for _, f := range [...]struct{ st, ms uintptr }{
		{unix.ST_RDONLY, unix.MS_RDONLY},
		{unix.ST_NOSUID, unix.MS_NOSUID},
		{unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if uintptr(st.Flags)&f.st != 0 {
			flags |= f.ms
		}
	}
	// Neither noatime nor relatime: the mount is strictatime, which statfs
	// has no flag for.
	if flags&(unix.MS_NOATIME|unix.MS_RELATIME) == 0 {
		flags |= unix.MS_STRICTATIME
	}
	return flags
}
