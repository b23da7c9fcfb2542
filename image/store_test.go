package image

import (
	"context"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/corral-dev/corral/content"
	"github.com/corral-dev/corral/errdefs"
)

func TestParseReference(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":            "docker.io/library/busybox:latest",
		"busybox:1.36":       "docker.io/library/busybox:1.36",
		"library/busybox":    "docker.io/library/busybox:latest",
		"docker.io/busybox":  "docker.io/library/busybox:latest",
		"user/app":           "docker.io/user/app:latest",
		"localhost:5000/app": "localhost:5000/app:latest",
		"quay.io/a/b:v1":     "quay.io/a/b:v1",
		"busybox@sha256:" + strings.Repeat("a", 64):   "docker.io/library/busybox@sha256:" + strings.Repeat("a", 64),
		"busybox:1@sha256:" + strings.Repeat("b", 64): "docker.io/library/busybox@sha256:" + strings.Repeat("b", 64),
	} {
		got, err := ParseReference(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseReference(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "Busybox", "a b", strings.Repeat("c", 64), "busybox:", ":tag"} {
		if _, err := ParseReference(bad); !errdefs.IsInvalidArgument(err) {
			t.Errorf("ParseReference(%q): %v, want invalid argument", bad, err)
		}
	}
	named, _ := ParseReference("busybox")
	if got := FamiliarString(named); got != "busybox:latest" {
		t.Errorf("FamiliarString = %q", got)
	}
}

func TestPlatformMatch(t *testing.T) {
	idx := ocispec.Index{Manifests: []ocispec.Descriptor{
		{MediaType: ocispec.MediaTypeImageManifest, Digest: "sha256:1", Platform: &ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}},
		{MediaType: ocispec.MediaTypeImageManifest, Digest: "sha256:2", Platform: &ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		{MediaType: ocispec.MediaTypeImageManifest, Digest: "sha256:3", Platform: &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}},
		{MediaType: ocispec.MediaTypeImageManifest, Digest: "sha256:4", Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}},
		{MediaType: ocispec.MediaTypeImageManifest, Digest: "sha256:5", Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64", Variant: "v3"}},
		{MediaType: ocispec.MediaTypeImageManifest, Digest: "sha256:6", Platform: &ocispec.Platform{OS: "unknown", Architecture: "unknown"}},
		{MediaType: ocispec.MediaTypeImageManifest, Digest: "sha256:7", Platform: &ocispec.Platform{OS: "windows", Architecture: "amd64"}},
	}}
	for want, p := range map[digest.Digest]string{
		"sha256:2": "linux/arm/v7", "sha256:1": "linux/arm/v6", "sha256:3": "linux/aarch64",
		"sha256:4": "linux/amd64", "sha256:5": "linux/amd64/v3",
	} {
		plat, err := ParsePlatform(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := selectManifest(idx, plat)
		if err != nil || got.Digest != want {
			t.Errorf("%s: got %s, %v; want %s", p, got.Digest, err, want)
		}
	}
	v2, _ := ParsePlatform("linux/amd64/v2")
	if got, _ := selectManifest(idx, v2); got.Digest != "sha256:4" {
		t.Errorf("amd64/v2 picked %s, want the v1 one", got.Digest)
	}
	if _, err := selectManifest(idx, ocispec.Platform{OS: "linux", Architecture: "riscv64"}); err == nil ||
		err.Error() != "no matching manifest for linux/riscv64 in the manifest list entries" {
		t.Errorf("riscv64: %v", err)
	}
}

func TestChainIDs(t *testing.T) {
	a, b, c := digest.FromString("a"), digest.FromString("b"), digest.FromString("c")
	got := ChainIDs([]digest.Digest{a, b, c})
	ab := digest.FromString(a.String() + " " + b.String())
	abc := digest.FromString(ab.String() + " " + c.String())
	if got[0] != a || got[1] != ab || got[2] != abc {
		t.Errorf("ChainIDs = %v", got)
	}
}

func TestDetectMediaType(t *testing.T) {
	for doc, want := range map[string]string{
		`{"schemaVersion":2,"config":{}}`:                                       ocispec.MediaTypeImageManifest,
		`{"schemaVersion":2,"manifests":[]}`:                                    ocispec.MediaTypeImageIndex,
		`{"schemaVersion":2,"mediaType":"` + MediaTypeDockerManifestList + `"}`: MediaTypeDockerManifestList,
		`{"schemaVersion":1,"fsLayers":[]}`:                                     "schema 1",
		`{"schemaVersion":2,"mediaType":"application/vnd.example.thing"}`:       "unknown manifest media type",
	} {
		got, err := detectMediaType([]byte(doc), "")
		if (err == nil && got != want) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %q, %v; want %q", doc, got, err, want)
		}
	}
	m := `{"schemaVersion":2,"config":{"mediaType":"` + ocispec.MediaTypeImageConfig + `","digest":"` + digest.FromString("").String() + `"},
		"layers":[{"mediaType":"application/x-helm","digest":"` + digest.FromString("x").String() + `"}]}`
	if _, err := parseManifest([]byte(m)); err == nil || !strings.Contains(err.Error(), `unknown layer media type "application/x-helm"`) {
		t.Errorf("helm layer: %v", err)
	}
}

// pullTwo pulls two images that share nothing.
func pullTwo(t *testing.T, ts *testStore) (a, b testImage) {
	t.Helper()
	a = newTestImage(t, linuxAMD64, false, []file{{name: "a", body: "a"}})
	b = newTestImage(t, linuxAMD64, false, []file{{name: "b", body: "bb"}}, []file{{name: "b2", body: "b2"}})
	a.push(ts.reg, "localhost:5000/a", "latest")
	b.push(ts.reg, "localhost:5000/b", "latest")
	for _, r := range []string{"localhost:5000/a", "localhost:5000/b"} {
		if _, err := ts.Pull(context.Background(), r, PullOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return a, b
}

func TestLookup(t *testing.T) {
	ts := newTestStore(t)
	ctx := context.Background()
	a, b := pullTwo(t, ts)
	for ref, want := range map[string]digest.Digest{
		"localhost:5000/a":                                a.configDigest(),
		"localhost:5000/a:latest":                         a.configDigest(),
		"localhost:5000/a@" + a.manifestDigest().String(): a.configDigest(),
		b.configDigest().String():                         b.configDigest(),
		b.configDigest().Encoded():                        b.configDigest(),
		b.configDigest().Encoded()[:12]:                   b.configDigest(),
		"sha256:" + b.configDigest().Encoded()[:12]:       b.configDigest(),
	} {
		img, err := ts.Get(ctx, ref)
		if err != nil || img.ID != want {
			t.Errorf("Get(%q) = %s, %v; want %s", ref, img.ID, err, want)
		}
	}
	if _, err := ts.Get(ctx, "localhost:5000/c"); !errdefs.IsNotFound(err) {
		t.Errorf("unknown name: %v", err)
	}
	if _, err := ts.Get(ctx, "localhost:5000/a@"+b.manifestDigest().String()); !errdefs.IsNotFound(err) {
		t.Errorf("digest of another repository: %v", err)
	}
	// An ambiguous prefix: make two IDs share their first hex digit by
	// faking records.
	imgs := []Image{{Name: "x", ID: "sha256:ab01"}, {Name: "y", ID: "sha256:ab02"}}
	if _, err := lookup(imgs, "ab"); !errdefs.IsInvalidArgument(err) {
		t.Errorf("ambiguous prefix: %v", err)
	}
	if img, err := lookup(imgs, "ab01"); err != nil || img.Name != "x" {
		t.Errorf("unique prefix: %v %v", img, err)
	}
}

func TestTagAndDangling(t *testing.T) {
	ts := newTestStore(t)
	ctx := context.Background()
	a, b := pullTwo(t, ts)
	if err := ts.Tag(ctx, "localhost:5000/a", "mine:v1"); err != nil {
		t.Fatal(err)
	}
	img, err := ts.Get(ctx, "mine:v1")
	if err != nil || img.ID != a.configDigest() || img.Name != "docker.io/library/mine:v1" {
		t.Fatalf("tagged: %+v %v", img, err)
	}
	if err := ts.Tag(ctx, "localhost:5000/a", "mine@"+a.manifestDigest().String()); !errdefs.IsInvalidArgument(err) {
		t.Errorf("tag with digest: %v", err)
	}
	// Moving mine:v1 to b leaves a named by localhost:5000/a, not dangling.
	if err := ts.Tag(ctx, "localhost:5000/b", "mine:v1"); err != nil {
		t.Fatal(err)
	}
	if n := danglingCount(t, ts); n != 0 {
		t.Errorf("%d dangling records", n)
	}
	// Moving localhost:5000/a:latest to b leaves a with only its digest
	// reference; removing that makes it dangling.
	if err := ts.Tag(ctx, "localhost:5000/b", "localhost:5000/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Untag(ctx, "localhost:5000/a@"+a.manifestDigest().String()); err != nil {
		t.Fatal(err)
	}
	if n := danglingCount(t, ts); n != 1 {
		t.Fatalf("%d dangling records, want 1", n)
	}
	sums, err := ts.Images(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, s := range sums {
		if s.ID == a.configDigest().String() {
			found = true
			if len(s.RepoTags) != 0 || len(s.RepoDigests) != 0 {
				t.Errorf("dangling summary %+v", s)
			}
		}
		if s.ID == b.configDigest().String() && len(s.RepoTags) != 3 {
			t.Errorf("b's tags %v", s.RepoTags)
		}
	}
	if !found {
		t.Error("dangling image not listed")
	}
	// Tagging the dangling image names it again.
	if err := ts.Tag(ctx, a.configDigest().Encoded()[:12], "again"); err != nil {
		t.Fatal(err)
	}
	if n := danglingCount(t, ts); n != 0 {
		t.Errorf("%d dangling records after tagging", n)
	}
}

func danglingCount(t *testing.T, ts *testStore) int {
	t.Helper()
	imgs, err := ts.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, i := range imgs {
		if i.Name == "" {
			n++
		}
	}
	return n
}

func TestRemove(t *testing.T) {
	ctx := context.Background()
	ts := newTestStore(t)
	a, b := pullTwo(t, ts)
	if err := ts.Tag(ctx, "localhost:5000/a", "other/a:v2"); err != nil {
		t.Fatal(err)
	}
	// An ID with names in two repositories needs force.
	if _, err := ts.Remove(ctx, a.configDigest().Encoded()[:12], false); !errdefs.IsConflict(err) {
		t.Fatalf("remove by ID: %v", err)
	}
	// A name untags only.
	items, err := ts.Remove(ctx, "other/a:v2", false)
	if err != nil || len(items) != 1 || items[0].Untagged != "other/a:v2" {
		t.Fatalf("remove other/a:v2: %+v %v", items, err)
	}
	// The last tag of the repository takes the digest reference and the
	// image, and its layers.
	items, err = ts.Remove(ctx, "localhost:5000/a", false)
	if err != nil {
		t.Fatal(err)
	}
	want := []RemoveItem{{Untagged: "localhost:5000/a:latest"}, {Untagged: "localhost:5000/a@" + a.manifestDigest().String()},
		{Deleted: a.configDigest().String()}, {Deleted: ChainIDs(a.diffIDs)[0].String()}}
	if len(items) != len(want) {
		t.Fatalf("items %+v, want %+v", items, want)
	}
	for i := range want {
		if items[i] != want[i] {
			t.Errorf("item %d = %+v, want %+v", i, items[i], want[i])
		}
	}
	if ts.mem.has(digest.FromBytes(a.layers[0])) || ts.mem.has(a.configDigest()) || ts.mem.has(a.manifestDigest()) {
		t.Error("a's blobs left")
	}
	if !ts.committed(ctx, ChainIDs(b.diffIDs)[1]) || !ts.mem.has(digest.FromBytes(b.layers[1])) {
		t.Error("b lost content")
	}
	// By ID with one tag: untag and delete.
	items, err = ts.Remove(ctx, b.configDigest().String(), false)
	if err != nil || len(items) != 5 {
		t.Fatalf("remove b by ID: %+v %v", items, err)
	}
	assertEmpty(t, ts)
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	ts := newTestStore(t)
	a, b := pullTwo(t, ts)
	// Make a dangling: pull another image over its tag.
	c := newTestImage(t, linuxAMD64, false, []file{{name: "c", body: "c"}})
	c.push(ts.reg, "localhost:5000/a", "latest")
	if _, err := ts.Pull(ctx, "localhost:5000/a", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, err := ts.Prune(ctx, PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.ImagesDeleted) != 2 || rep.ImagesDeleted[1].Deleted != a.configDigest().String() || rep.SpaceReclaimed == 0 {
		t.Fatalf("prune: %+v", rep)
	}
	if _, err := ts.Get(ctx, b.configDigest().String()); err != nil {
		t.Error("prune removed a tagged image")
	}
	rep, err = ts.Prune(ctx, PruneOptions{All: true})
	if err != nil || len(rep.ImagesDeleted) != 6 {
		t.Fatalf("prune -a: %+v %v", rep, err)
	}
	assertEmpty(t, ts)
}

// TestGCCrashPoints simulates a process dying at each step of a pull and
// checks that the next start reclaims what it left.
func TestGCCrashPoints(t *testing.T) {
	ctx := context.Background()
	ts := newTestStore(t)
	keep := newTestImage(t, linuxAMD64, false, []file{{name: "keep", body: "keep"}})
	keep.push(ts.reg, "localhost:5000/keep", "latest")
	if _, err := ts.Pull(ctx, "localhost:5000/keep", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	base := len(ts.snaps.keys())
	blobs := ts.mem.count()

	// 1. Blob written, lease left, no record (crash mid-pull).
	lease, err := ts.db.createLease("pull")
	if err != nil {
		t.Fatal(err)
	}
	orphan := []byte("orphan blob")
	if err := ts.db.addToLease(lease, leaseRef{Content: []digest.Digest{digest.FromBytes(orphan)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.writeBlob(ctx, orphan, "orphan"); err != nil {
		t.Fatal(err)
	}
	// 2. An unpack snapshot half written, and a committed layer nothing
	// references.
	if _, err := ts.snaps.Prepare(ctx, extractPrefix+"dead", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.snaps.Prepare(ctx, "tmp", ""); err != nil {
		t.Fatal(err)
	}
	if err := ts.snaps.Commit(ctx, digest.FromString("stray").String(), "tmp"); err != nil {
		t.Fatal(err)
	}
	// 3. A container's snapshot on the kept image survives.
	if _, err := ts.snaps.Prepare(ctx, "container-1", ChainIDs(keep.diffIDs)[0].String()); err != nil {
		t.Fatal(err)
	}
	// While its owner runs (holding the store lock shared) nothing is
	// swept...
	unlock, err := ts.lock.lock(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Store.tryGC(ctx); err != nil {
		t.Fatal(err)
	}
	ts.reopen(t)
	if !ts.mem.has(digest.FromBytes(orphan)) || countLeases(t, ts.Store) != 1 {
		t.Fatal("swept a live lease's blob")
	}
	// ...but once it is gone (crashed: the lock is free, the lease left),
	// the next start knows the lease is stale.
	unlock()
	s2 := ts.reopen(t)
	if countLeases(t, s2) != 0 {
		t.Error("stale lease kept")
	}
	if ts.mem.has(digest.FromBytes(orphan)) || ts.mem.count() != blobs {
		t.Errorf("blobs: %d, want %d", ts.mem.count(), blobs)
	}
	if got := len(ts.snaps.keys()); got != base+1 {
		t.Errorf("snapshots %v, want the image's and the container's", ts.snaps.keys())
	}
	if _, err := s2.Get(ctx, "localhost:5000/keep"); err != nil {
		t.Error(err)
	}
}

// TestGCPendingAfterRemove: a removal whose collection could not run (a
// pull held the store) leaves a note, and the next start collects.
func TestGCPendingAfterRemove(t *testing.T) {
	ctx := context.Background()
	ts := newTestStore(t)
	a, _ := pullTwo(t, ts)
	unlock, err := ts.lock.lock(ctx, false) // another verb is running
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Remove(ctx, "localhost:5000/a", false); err != nil {
		t.Fatal(err)
	}
	if !ts.mem.has(digest.FromBytes(a.layers[0])) {
		t.Fatal("collected while the store was busy")
	}
	pending := false
	_ = ts.db.view(func(tx *bolt.Tx) error { pending = gcPending(tx); return nil })
	if !pending {
		t.Fatal("no pending note")
	}
	unlock()
	ts.reopen(t)
	if ts.mem.has(digest.FromBytes(a.layers[0])) {
		t.Error("pending collection not done at start")
	}
}

// TestGCPendingRunsWhenVerbEnds: the pending collection runs when the
// verb that kept the store busy ends, without a restart (a daemon).
func TestGCPendingRunsWhenVerbEnds(t *testing.T) {
	ctx := context.Background()
	ts := newTestStore(t)
	a, _ := pullTwo(t, ts)
	unlock, err := ts.shared(ctx) // a verb is running
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Remove(ctx, "localhost:5000/a", false); err != nil {
		t.Fatal(err)
	}
	if !ts.mem.has(digest.FromBytes(a.layers[0])) {
		t.Fatal("collected while the store was busy")
	}
	unlock()
	if ts.mem.has(digest.FromBytes(a.layers[0])) {
		t.Error("pending collection not done when the verb ended")
	}
}

func TestDiskUsage(t *testing.T) {
	ctx := context.Background()
	ts := newTestStore(t)
	base := []file{{name: "base", body: strings.Repeat("b", 1000)}}
	a := newTestImage(t, linuxAMD64, false, base, []file{{name: "a", body: strings.Repeat("a", 100)}})
	b := newTestImage(t, linuxAMD64, false, base, []file{{name: "b", body: strings.Repeat("c", 10)}})
	a.push(ts.reg, "localhost:5000/a", "latest")
	b.push(ts.reg, "localhost:5000/b", "latest")
	for _, r := range []string{"localhost:5000/a", "localhost:5000/b"} {
		if _, err := ts.Pull(ctx, r, PullOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	du, err := ts.DiskUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if du.LayersSize != 1110 {
		t.Errorf("layers %d, want 1110 (the shared base once)", du.LayersSize)
	}
	var blobs int64
	_ = ts.mem.Walk(ctx, func(i content.Info) error { blobs += i.Size; return nil })
	if du.ContentSize != blobs || du.TotalSize != du.LayersSize+blobs {
		t.Errorf("content %d total %d, want %d and %d", du.ContentSize, du.TotalSize, blobs, du.LayersSize+blobs)
	}
	for _, s := range du.Images {
		want := map[string]int64{a.configDigest().String(): 1100, b.configDigest().String(): 1010}[s.ID]
		if s.Size != want || s.SharedSize != 1000 {
			t.Errorf("%s: size %d shared %d, want %d and 1000", s.ID, s.Size, s.SharedSize, want)
		}
	}
}
