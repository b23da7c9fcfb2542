package volume

import (
	"os"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/mount"

	"github.com/corral-dev/corral/errdefs"
)

func TestParseBind(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want Spec
	}{
		{"/data", Spec{Type: mount.TypeVolume, Destination: "/data"}},
		{"vol:/data", Spec{Type: mount.TypeVolume, Source: "vol", Destination: "/data"}},
		{"vol:/data/:ro,nocopy", Spec{Type: mount.TypeVolume, Source: "vol", Destination: "/data", ReadOnly: true, NoCopy: true, Mode: "ro,nocopy"}},
		{"/h//x:/c:rw,z,rslave", Spec{Type: mount.TypeBind, Source: "/h/x", Destination: "/c", Mode: "rw,z,rslave",
			Propagation: mount.PropagationRSlave}},
		{"/h:/c", Spec{Type: mount.TypeBind, Source: "/h", Destination: "/c", Propagation: mount.PropagationRPrivate}},
	} {
		got, err := ParseBind(tc.raw)
		if err != nil {
			t.Errorf("%s: %v", tc.raw, err)
			continue
		}
		if got.Type != tc.want.Type || got.Source != tc.want.Source || got.Destination != tc.want.Destination ||
			got.ReadOnly != tc.want.ReadOnly || got.NoCopy != tc.want.NoCopy || got.Mode != tc.want.Mode ||
			got.Propagation != tc.want.Propagation || got.CreateSource != tc.want.CreateSource {
			t.Errorf("%s: got %+v, want %+v", tc.raw, got, tc.want)
		}
	}
}

func TestParseBindBad(t *testing.T) {
	for raw, want := range map[string]string{
		"a:b:c:d":         "invalid volume specification: 'a:b:c:d'",
		":/x":             "invalid volume specification",
		"vol:rel":         "mount path must be absolute",
		"/h:/":            "destination can't be '/'",
		"/x:/y:rx":        "invalid mode: rx",
		"/x:/y:ro,rw":     "invalid mode: ro,rw",
		"/x:/y:nocopy":    "nocopy is for volumes",
		"v1:/y:shared":    "propagation is for bind mounts",
		"bad$name:/y":     "includes invalid characters for a local volume name",
		"../../etc:/y:ro": "includes invalid characters",
	} {
		_, err := ParseBind(raw)
		if err == nil || !strings.Contains(err.Error(), want) || !errdefs.IsInvalidArgument(err) {
			t.Errorf("%s: %v, want %q", raw, err, want)
		}
	}
}

func TestParseMount(t *testing.T) {
	dir := t.TempDir()
	s, err := ParseMount(mount.Mount{Type: mount.TypeBind, Source: dir, Target: "/c/", ReadOnly: true,
		BindOptions: &mount.BindOptions{Propagation: mount.PropagationRShared}})
	if err != nil || s.Source != dir || s.Destination != "/c" || !s.ReadOnly || s.Propagation != mount.PropagationRShared {
		t.Fatalf("bind: %+v %v", s, err)
	}
	s, err = ParseMount(mount.Mount{Type: mount.TypeVolume, Target: "/v",
		VolumeOptions: &mount.VolumeOptions{NoCopy: true, DriverConfig: &mount.Driver{Options: map[string]string{"type": "tmpfs"}}}})
	if err != nil || len(s.Source) != 64 || !s.NoCopy || s.DriverOptions["type"] != "tmpfs" {
		t.Fatalf("volume: %+v %v", s, err)
	}
	s, err = ParseMount(mount.Mount{Type: mount.TypeTmpfs, Target: "/t",
		TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20, Mode: 0o700 | os.ModeSticky}})
	if err != nil || strings.Join(s.TmpfsOptions, ",") != "size=1048576,mode=1700" {
		t.Fatalf("tmpfs: %+v %v", s, err)
	}
}

func TestParseMountBad(t *testing.T) {
	missing := t.TempDir() + "/nosuch"
	for _, tc := range []struct {
		m    mount.Mount
		want string
	}{
		{mount.Mount{Type: mount.TypeBind, Source: missing, Target: "/c"},
			`invalid mount config for type "bind": bind source path does not exist: ` + missing},
		{mount.Mount{Type: mount.TypeBind, Target: "/c"}, "field Source must not be empty"},
		{mount.Mount{Type: mount.TypeBind, Source: "rel", Target: "/c"}, "mount path must be absolute"},
		{mount.Mount{Type: mount.TypeVolume, Source: "v1"}, "field Target must not be empty"},
		{mount.Mount{Type: mount.TypeVolume, Source: "v/1", Target: "/x"}, "includes invalid characters"},
		{mount.Mount{Type: mount.TypeVolume, Source: "v1", Target: "/"}, "destination can't be '/'"},
		{mount.Mount{Type: mount.TypeTmpfs, Source: "x", Target: "/t"}, "field Source must not be specified"},
		{mount.Mount{Type: "npipe", Target: "/t"}, "mount type unknown"},
		{mount.Mount{Type: mount.TypeVolume, Target: "/t", ReadOnly: true}, "must not set ReadOnly mode when using anonymous volumes"},
		{mount.Mount{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{Options: [][]string{{"suid"}}}}, "only exec and noexec"},
	} {
		_, err := ParseMount(tc.m)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.m, err, tc.want)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("a refused bind created its source")
	}
}

func TestParseVolumesFrom(t *testing.T) {
	for raw, wantRO := range map[string]bool{"web:ro": true, "web:rw": false, "web": false, "web:z,ro": true} {
		if ref, ro, err := ParseVolumesFrom(raw); err != nil || ref != "web" || ro != wantRO {
			t.Errorf("%s: %q %v %v", raw, ref, ro, err)
		}
	}
	for _, raw := range []string{"", ":ro", "web:rx", "web:rslave", "web:nocopy", "web:ro,rw"} {
		if _, _, err := ParseVolumesFrom(raw); err == nil {
			t.Errorf("%s: accepted", raw)
		}
	}
}
