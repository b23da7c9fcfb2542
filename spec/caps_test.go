package spec

import (
	"slices"
	"strings"
	"testing"

	"github.com/corral-dev/corral/errdefs"
)

func TestCaps(t *testing.T) {
	def := DefaultCaps()
	without := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(def), func(c string) bool { return slices.Contains(drop, c) })
	}
	noResource := slices.DeleteFunc(KnownCaps(), func(c string) bool { return c == "CAP_SYS_RESOURCE" })
	tests := []struct {
		name       string
		add, drop  []string
		privileged bool
		available  []string
		want       []string
	}{
		{name: "defaults", want: def},
		{name: "drop with and without prefix, any case", drop: []string{"chown", "CAP_NET_RAW", "Cap_Kill"},
			want: without("CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL")},
		{name: "add", add: []string{"sys_admin", "CAP_NET_ADMIN"}, want: append(slices.Clone(def), "CAP_SYS_ADMIN", "CAP_NET_ADMIN")},
		{name: "add a default again", add: []string{"CHOWN"}, want: def},
		{name: "drop ALL add some", drop: []string{"ALL"}, add: []string{"net_bind_service", "chown"},
			want: []string{"CAP_NET_BIND_SERVICE", "CAP_CHOWN"}},
		{name: "drop all lower case", drop: []string{"all"}, want: nil},
		{name: "add ALL drop some", add: []string{"ALL"}, drop: []string{"SYS_ADMIN"},
			want: slices.DeleteFunc(KnownCaps(), func(c string) bool { return c == "CAP_SYS_ADMIN" })},
		{name: "privileged", privileged: true, drop: []string{"chown"}, want: KnownCaps()},
		{name: "privileged on a host without CAP_SYS_RESOURCE", privileged: true, available: noResource, want: noResource},
		{name: "add ALL on that host", add: []string{"ALL"}, available: noResource, want: noResource},
	}
	for _, tt := range tests {
		got, err := Caps(tt.add, tt.drop, tt.privileged, tt.available)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s:\n got %v\nwant %v", tt.name, got, tt.want)
		}
	}
	if len(KnownCaps()) != 41 || len(def) != 14 {
		t.Errorf("known %d, default %d; want 41 and 14", len(KnownCaps()), len(def))
	}
}

func TestCapsErrors(t *testing.T) {
	tests := []struct {
		add, drop, available []string
		want                 string
	}{
		{add: []string{"SYS_FOO"}, want: `invalid --cap-add "SYS_FOO": unknown capability "CAP_SYS_FOO"`},
		{drop: []string{"CAP_"}, want: `--cap-drop "CAP_"`},
		{add: []string{"sys_resource"}, available: DefaultCaps(), want: "not available"},
		{add: []string{"CAP_CHOWN\x00"}, want: "unknown capability"},
	}
	for _, tt := range tests {
		_, err := Caps(tt.add, tt.drop, false, tt.available)
		if err == nil || !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("add %q drop %q: err = %v, want invalid argument containing %q", tt.add, tt.drop, err, tt.want)
		}
	}
}
