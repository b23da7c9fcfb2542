package daemon

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/volume"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
	cvolume "github.com/corral-dev/corral/volume"
)

func volumeNames(list []volume.Volume) string {
	var out []string
	for _, v := range list {
		out = append(out, v.Name)
	}
	return strings.Join(out, " ")
}

// The /volumes calls: filters of ls, what prune removes, df's counts.
func TestVolumeService(t *testing.T) {
	ctx := context.Background()
	s, err := openVolumes(t.TempDir(), NewEvents())
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []volume.CreateRequest{
		{Name: "web-data", Labels: map[string]string{"app": "web"}},
		{Name: "db-data", Labels: map[string]string{"app": "db", "keep": "1"}},
		{Name: "anon1", Labels: map[string]string{cvolume.LabelAnonymous: ""}},
		{Name: "anon2", Labels: map[string]string{cvolume.LabelAnonymous: ""}},
	} {
		if _, err := s.VolumeCreate(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(s.store.Path("anon2"), "f"), make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.store.Ref("web-data", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := s.store.Ref("anon1", "c1"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		kv   []string
		want string
	}{
		{nil, "anon1 anon2 db-data web-data"},
		{[]string{"dangling", "true"}, "anon2 db-data"},
		{[]string{"dangling", "0"}, "anon1 web-data"},
		{[]string{"name", "data"}, "db-data web-data"},
		{[]string{"label", "app"}, "db-data web-data"},
		{[]string{"label", "app=db"}, "db-data"},
		{[]string{"driver", "local", "label", cvolume.LabelAnonymous}, "anon1 anon2"},
		{[]string{"driver", "nfs"}, ""},
	} {
		list, err := s.VolumeList(ctx, api.NewFilters(tc.kv...))
		if err != nil || volumeNames(list.Volumes) != tc.want {
			t.Errorf("ls %v: %q %v, want %q", tc.kv, volumeNames(list.Volumes), err, tc.want)
		}
	}
	for _, kv := range [][]string{{"bogus", "1"}, {"dangling", "maybe"}} {
		if _, err := s.VolumeList(ctx, api.NewFilters(kv...)); !errdefs.IsInvalidArgument(err) {
			t.Errorf("ls %v: %v", kv, err)
		}
	}
	du := s.diskUsage()
	if du.TotalCount != 4 || du.ActiveCount != 2 || du.TotalSize != 1000 || du.Reclaimable != 1000 {
		t.Errorf("df: %+v", du)
	}
	// Plain prune: the unused anonymous volume only.
	rep, err := s.VolumesPrune(ctx, api.Filters{})
	if err != nil || !slices.Equal(rep.VolumesDeleted, []string{"anon2"}) || rep.SpaceReclaimed != 1000 {
		t.Fatalf("prune: %+v %v", rep, err)
	}
	// all=true with label!: every unused volume but the kept one.
	rep, err = s.VolumesPrune(ctx, api.NewFilters("all", "true", "label!", "keep"))
	if err != nil || len(rep.VolumesDeleted) != 0 {
		t.Fatalf("prune all label!=keep: %+v %v", rep, err)
	}
	rep, err = s.VolumesPrune(ctx, api.NewFilters("all", "1"))
	if err != nil || !slices.Equal(rep.VolumesDeleted, []string{"db-data"}) {
		t.Fatalf("prune all: %+v %v", rep, err)
	}
	if _, err := s.VolumesPrune(ctx, api.NewFilters("until", "1h")); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("prune with an unknown filter: %v", err)
	}
	if err := s.VolumeRemove(ctx, "web-data", true); !errdefs.IsConflict(err) {
		t.Fatalf("rm -f in use: %v", err)
	}
	if err := s.VolumeRemove(ctx, "gone", true); err != nil {
		t.Fatalf("rm -f missing: %v", err)
	}
}
