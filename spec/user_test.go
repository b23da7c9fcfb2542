package spec

import (
	"slices"
	"strings"
	"testing"

	"github.com/corral-dev/corral/errdefs"
)

func TestResolveUser(t *testing.T) {
	passwd := []byte(testPasswd + "\n# comment\nbroken\nbig:x:99999999999:1:::\n1000:x:1234:100::/:/bin/sh\n")
	group := []byte(testGroup + "wheel:x:10:root,www-data\n")
	tests := []struct {
		spec     string
		groupAdd []string
		passwd   []byte
		uid, gid uint32
		extra    []uint32
	}{
		{spec: "", uid: 0, gid: 0, extra: []uint32{0, 10}}, // root is in wheel
		{spec: "root", uid: 0, gid: 0, extra: []uint32{0, 10}},
		{spec: "www-data", uid: 33, gid: 33, extra: []uint32{33, 44, 29, 10}},
		{spec: "33", uid: 33, gid: 33, extra: []uint32{33, 44, 29, 10}},
		{spec: "www-data:audio", uid: 33, gid: 29, extra: []uint32{29}},
		{spec: "www-data:7", uid: 33, gid: 7, extra: []uint32{7}},
		{spec: "4000", uid: 4000, gid: 0, extra: []uint32{0}},
		{spec: "4000:4000", uid: 4000, gid: 4000, extra: []uint32{4000}},
		{spec: "1000", uid: 1000, gid: 0, extra: []uint32{0}}, // a number is a uid, never a name
		{spec: "nobody", groupAdd: []string{"users", "5000", "video", "users"}, uid: 65534, gid: 65534,
			extra: []uint32{65534, 29, 100, 5000, 44}},
		{spec: "0:0", passwd: []byte{}, uid: 0, gid: 0, extra: []uint32{0}},
		{spec: "", passwd: []byte{}, uid: 0, gid: 0, extra: []uint32{0}},
	}
	for _, tt := range tests {
		pw := passwd
		if tt.passwd != nil {
			pw = tt.passwd
		}
		u, err := ResolveUser(tt.spec, tt.groupAdd, pw, group)
		if err != nil {
			t.Errorf("%q: %v", tt.spec, err)
			continue
		}
		if u.UID != tt.uid || u.GID != tt.gid || !slices.Equal(u.AdditionalGids, tt.extra) {
			t.Errorf("%q %v: got %d:%d %v, want %d:%d %v", tt.spec, tt.groupAdd, u.UID, u.GID, u.AdditionalGids, tt.uid, tt.gid, tt.extra)
		}
	}
}

func TestResolveUserErrors(t *testing.T) {
	tests := []struct {
		spec     string
		groupAdd []string
		passwd   []byte
		want     string
	}{
		{spec: "nosuch", want: "unable to find user nosuch"},
		{spec: "www-data:nosuch", want: "unable to find group nosuch"},
		{spec: "root", passwd: []byte{}, want: "unable to find user root"}, // no passwd in the image
		{spec: "-1", want: "range 0-2147483647"},
		{spec: "2147483648", want: "range"},
		{spec: "99999999999999999999999", want: "range"},
		{spec: "0:-5", want: "range"},
		{spec: "", groupAdd: []string{"nosuch"}, want: `--group-add "nosuch"`},
		{spec: "", groupAdd: []string{"4294967296"}, want: "range"},
	}
	for _, tt := range tests {
		pw := []byte(testPasswd)
		if tt.passwd != nil {
			pw = tt.passwd
		}
		_, err := ResolveUser(tt.spec, tt.groupAdd, pw, []byte(testGroup))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errdefs.IsInvalidArgument(err) {
			t.Errorf("%q %v: err = %v, want invalid argument containing %q", tt.spec, tt.groupAdd, err, tt.want)
		}
	}
}

// TestResolveUserHostileFiles feeds files an image could carry to trick the
// parser: huge lines, ids past the range, negative ids, missing fields.
func TestResolveUserHostileFiles(t *testing.T) {
	passwd := []byte("evil:x:-1:-1::/:/bin/sh\nroot2:x:4294967296:0::/:/bin/sh\n" +
		strings.Repeat("a", 1<<21) + "\nshort:x\nok:x:5:6\n")
	group := []byte("g:x:-3:ok\nh:x:99999999999:ok\n")
	u, err := ResolveUser("ok", nil, passwd, group)
	if err != nil || u.UID != 5 || u.GID != 6 || !slices.Equal(u.AdditionalGids, []uint32{6}) {
		t.Errorf("ok: %+v %v", u, err)
	}
	if _, err := ResolveUser("evil", nil, passwd, group); err == nil {
		t.Error("evil (uid -1) resolved")
	}
	if _, err := ResolveUser("root2", nil, passwd, group); err == nil {
		t.Error("root2 (uid 2^32, would wrap to 0) resolved")
	}
	if u, err := ResolveUser("short", nil, passwd, group); err != nil || u.UID != 0 {
		t.Errorf("short: %+v %v", u, err)
	}
}
