package nsinit

import (
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestParseMountOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opts    []string
		flags   uintptr
		cleared uintptr
		prop    []uintptr
		data    string
	}{
		{opts: nil},
		{opts: []string{"nosuid", "noexec", "nodev", "relatime", "ro"},
			flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_RELATIME | unix.MS_RDONLY},
		{opts: []string{"nosuid", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"},
			flags: unix.MS_NOSUID, data: "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		{opts: []string{"rbind", "rprivate", "ro"}, flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY,
			prop: []uintptr{unix.MS_PRIVATE | unix.MS_REC}},
		{opts: []string{"ro", "rw"}, cleared: unix.MS_RDONLY},
		{opts: []string{"rw", "ro"}, flags: unix.MS_RDONLY},
		{opts: []string{"bind", "shared", "runbindable", "suid", "dev", "exec"}, flags: unix.MS_BIND,
			cleared: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC,
			prop:    []uintptr{unix.MS_SHARED, unix.MS_UNBINDABLE | unix.MS_REC}},
		{opts: []string{"size=65536k", "defaults"}, data: "size=65536k"},
	} {
		o, err := parseMountOptions(tc.opts)
		if err != nil {
			t.Errorf("%v: %v", tc.opts, err)
			continue
		}
		if o.flags != tc.flags || o.cleared != tc.cleared || o.data != tc.data || !reflect.DeepEqual(o.propagation, tc.prop) {
			t.Errorf("%v: got flags %#x cleared %#x prop %v data %q; want %#x %#x %v %q",
				tc.opts, o.flags, o.cleared, o.propagation, o.data, tc.flags, tc.cleared, tc.prop, tc.data)
		}
	}
}

func TestParseMountOptionsRecursive(t *testing.T) {
	t.Parallel()
	o, err := parseMountOptions([]string{"rbind", "rro", "rnosuid", "rnoatime"})
	if err != nil {
		t.Fatal(err)
	}
	if o.rec.Attr_set != unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOATIME ||
		o.rec.Attr_clr != unix.MOUNT_ATTR__ATIME || !o.hasRecAttr() {
		t.Errorf("recursive attributes: %+v", o.rec)
	}
	for _, bad := range []string{"tmpcopyup", "idmap", "ridmap"} {
		if _, err := parseMountOptions([]string{bad}); err == nil || !strings.Contains(err.Error(), "not supported") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestIsBind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		m    specs.Mount
		want bool
	}{
		{specs.Mount{Type: "bind"}, true},
		{specs.Mount{Type: "none", Options: []string{"rbind"}}, true},
		{specs.Mount{Options: []string{"bind", "ro"}}, true},
		{specs.Mount{Type: "tmpfs", Options: []string{"ro"}}, false},
	} {
		o, _ := parseMountOptions(tc.m.Options)
		if got := o.isBind(&tc.m); got != tc.want {
			t.Errorf("isBind(%+v) = %v", tc.m, got)
		}
	}
}

func TestCleanDest(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"/a/b/": "/a/b", "/a/../b": "/b", "/../../etc": "/etc", "//x//y": "/x/y"} {
		if got, err := cleanDest(in); err != nil || got != want {
			t.Errorf("cleanDest(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "a/b", "./a", "/", "/..", "/a/.."} {
		if got, err := cleanDest(bad); err == nil {
			t.Errorf("cleanDest(%q) accepted as %q", bad, got)
		}
	}
}

func TestStatfsMountFlags(t *testing.T) {
	t.Parallel()
	st := unix.Statfs_t{Flags: unix.ST_RDONLY | unix.ST_NOSUID | unix.ST_NODEV | unix.ST_RELATIME}
	if got, want := statfsMountFlags(&st), uintptr(unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_RELATIME); got != want {
		t.Errorf("got %#x, want %#x", got, want)
	}
	st = unix.Statfs_t{Flags: unix.ST_NOEXEC}
	if got, want := statfsMountFlags(&st), uintptr(unix.MS_NOEXEC|unix.MS_STRICTATIME); got != want {
		t.Errorf("got %#x, want %#x", got, want)
	}
}

func TestRootfsPropagation(t *testing.T) {
	t.Parallel()
	spec := &specs.Spec{Linux: &specs.Linux{RootfsPropagation: "rslave"}}
	if p, err := rootfsPropagation(spec); err != nil || p != unix.MS_SLAVE|unix.MS_REC {
		t.Errorf("rslave: %#x %v", p, err)
	}
	spec.Linux.RootfsPropagation = "bogus"
	if _, err := rootfsPropagation(spec); err == nil {
		t.Errorf("bogus propagation accepted")
	}
}
