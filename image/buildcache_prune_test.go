package image

import (
	"slices"
	"testing"
)

func TestKeptImages(t *testing.T) {
	sums := []Summary{{ID: "a"}, {ID: "b", ParentID: "a"}, {ID: "c", ParentID: "b", RepoTags: []string{"x:1"}},
		{ID: "d", ParentID: "a"}, {ID: "e", ParentID: "d"}, {ID: "f"}, {ID: "g", ParentID: "f"}}
	_, kept := keptImages(sums, func(id string) bool { return id == "g" })
	for id, want := range map[string]bool{"a": true, "b": true, "c": true, "d": false, "e": false, "f": true, "g": true} {
		if kept[id] != want {
			t.Errorf("kept[%s] = %v, want %v", id, kept[id], want)
		}
	}
}

func TestPruneSet(t *testing.T) {
	entries := []CacheEntry{
		{Key: "k-tagged", Image: Summary{ID: "c", RepoTags: []string{"x:1"}}, Shared: true},
		{Key: "k-ancestor", Image: Summary{ID: "b"}, Shared: true},
		{Key: "k-dangling", Image: Summary{ID: "e"}},
		{Key: "k-dangling2", Image: Summary{ID: "e"}},
		{Key: "k-used", Image: Summary{ID: "g"}, Shared: true, InUse: true},
	}
	records := [][2]string{{"k-tagged", "c"}, {"k-ancestor", "b"}, {"k-dangling", "e"}, {"k-dangling2", "e"},
		{"k-used", "g"}, {"k-gone", "z"}}
	keys, imgs := pruneSet(entries, records, false)
	if want := []string{"k-dangling", "k-dangling2", "k-gone"}; !slices.Equal(keys, want) || !slices.Equal(imgs, []string{"e"}) {
		t.Errorf("prune: keys %v images %v, want %v and [e]", keys, imgs, want)
	}
	keys, imgs = pruneSet(entries, records, true)
	if len(keys) != len(records) || !slices.Equal(imgs, []string{"e"}) {
		t.Errorf("prune -a: keys %v images %v, want every key and images [e] (not the tagged c, its ancestor b nor the used g)", keys, imgs)
	}
}
