package snapshot

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestWritableDir(t *testing.T) {
	tests := []struct {
		name   string
		mounts []Mount
		want   string // "" for an error
	}{
		{"overlay", []Mount{{Type: "overlay", Source: "overlay",
			Options: []string{"index=off", "lowerdir=/l2:/l1", "upperdir=/s/3/fs", "workdir=/s/3/work"}}}, "/s/3/fs"},
		{"rw bind", []Mount{{Type: "bind", Source: "/s/1/fs", Options: []string{"rbind", "rw"}}}, "/s/1/fs"},
		{"ro bind", []Mount{{Type: "bind", Source: "/s/1/fs", Options: []string{"rbind", "ro"}}}, ""},
		{"lower-only overlay", []Mount{{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/a:/b"}}}, ""},
		{"none", nil, ""},
		{"two", []Mount{{Type: "bind", Source: "/a"}, {Type: "bind", Source: "/b"}}, ""},
	}
	for _, tt := range tests {
		got, err := WritableDir(tt.mounts)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("%s: WritableDir = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestSplitOptions(t *testing.T) {
	flags, data := splitOptions([]string{"ro", "nosuid", "lowerdir=/a:/b", "index=off", "rbind"})
	if flags != unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_BIND|unix.MS_REC {
		t.Errorf("flags %#x", flags)
	}
	if len(data) != 2 || data[0] != "lowerdir=/a:/b" || data[1] != "index=off" {
		t.Errorf("data %q", data)
	}
	if a := mountAttrs(unix.MS_RDONLY | unix.MS_NODEV | unix.MS_BIND); a != unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV {
		t.Errorf("mountAttrs = %#x", a)
	}
}
