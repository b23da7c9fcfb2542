package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/corral-dev/corral/errdefs"
)

// events records progress events.
type events struct {
	mu  sync.Mutex
	all []Progress
}

func (e *events) add(p Progress) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, p)
}

// actions returns the actions reported for id, without repeats in a row.
func (e *events) actions(id string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, p := range e.all {
		if p.ID == id && (len(out) == 0 || out[len(out)-1] != p.Action) {
			out = append(out, p.Action)
		}
	}
	return out
}

func (e *events) has(action string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.all {
		if strings.HasPrefix(p.Action, action) {
			return true
		}
	}
	return false
}

func threeLayers(t testing.TB, docker bool) testImage {
	return newTestImage(t, linuxAMD64, docker,
		[]file{{name: "bin/", typ: '5'}, {name: "bin/sh", body: "#!shell", mode: 0o755}, {name: "etc/", typ: '5'}, {name: "etc/passwd", body: "root:x:0:0"}},
		[]file{{name: "etc/", typ: '5'}, {name: "etc/hostname", body: "box"}, {name: "etc/.wh.passwd", body: ""}},
		[]file{{name: "app/", typ: '5'}, {name: "app/run", body: "run!", mode: 0o755}, {name: "app/link", typ: '2', linkname: "run"}},
	)
}

func TestPullManifest(t *testing.T) {
	for _, docker := range []bool{false, true} {
		t.Run(map[bool]string{false: "oci", true: "docker"}[docker], func(t *testing.T) {
			ts := newTestStore(t)
			ti := threeLayers(t, docker)
			mdg := ti.push(ts.reg, "localhost:5000/test/img", "v1")
			var ev events
			img, err := ts.Pull(context.Background(), "localhost:5000/test/img:v1", PullOptions{Progress: ev.add})
			if err != nil {
				t.Fatal(err)
			}
			if img.Name != "localhost:5000/test/img:v1" || img.ID != ti.configDigest() || img.Target.Digest != mdg || img.Manifest != mdg {
				t.Fatalf("image = %+v", img)
			}
			if img.Target.MediaType != ti.mediaType {
				t.Errorf("target media type %q, want %q", img.Target.MediaType, ti.mediaType)
			}
			checkUnpacked(t, ts, ti)
			want := []string{ActionPullingLayer, ActionDownloading, ActionVerifying, ActionDownloadComplete, ActionExtracting, ActionPullComplete}
			if got := ev.actions(ShortID(digest.FromBytes(ti.layers[0]))); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("layer actions %q, want %q", got, want)
			}
			if !ev.has("Status: Downloaded newer image for localhost:5000/test/img:v1") {
				t.Errorf("no status line in %+v", ev.all)
			}
			byDigest, err := ts.Get(context.Background(), "localhost:5000/test/img@"+mdg.String())
			if err != nil || byDigest.ID != img.ID {
				t.Errorf("digest reference: %+v, %v", byDigest, err)
			}
			// Again: nothing fetched, up to date.
			var ev2 events
			n := ts.reg.fetches[digest.FromBytes(ti.layers[0])]
			if _, err := ts.Pull(context.Background(), "localhost:5000/test/img:v1", PullOptions{Progress: ev2.add}); err != nil {
				t.Fatal(err)
			}
			if ts.reg.fetches[digest.FromBytes(ti.layers[0])] != n {
				t.Error("second pull fetched the layer again")
			}
			if !ev2.has("Status: Image is up to date") || !ev2.has(ActionAlreadyExists) {
				t.Errorf("second pull events: %+v", ev2.all)
			}
		})
	}
}

// checkUnpacked checks the layer snapshots of a threeLayers image.
func checkUnpacked(t *testing.T, ts *testStore, ti testImage) {
	t.Helper()
	chain := ChainIDs(ti.diffIDs)
	for _, c := range chain {
		if !ts.committed(context.Background(), c) {
			t.Fatalf("layer %s not committed; snapshots %v", c, ts.snaps.keys())
		}
	}
	if b, err := os.ReadFile(filepath.Join(ts.snaps.dir(chain[0].String()), "bin/sh")); err != nil || string(b) != "#!shell" {
		t.Errorf("layer 0 bin/sh: %q %v", b, err)
	}
	fi, err := os.Lstat(filepath.Join(ts.snaps.dir(chain[1].String()), "etc/passwd"))
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("layer 1 whiteout of etc/passwd: %v %v", fi, err)
	}
	if l, err := os.Readlink(filepath.Join(ts.snaps.dir(chain[2].String()), "app/link")); err != nil || l != "run" {
		t.Errorf("layer 2 symlink: %q %v", l, err)
	}
	for _, k := range ts.snaps.keys() {
		if strings.HasPrefix(k, extractPrefix) {
			t.Errorf("unpack snapshot %s left", k)
		}
	}
}

func TestPullIndex(t *testing.T) {
	for _, docker := range []bool{false, true} {
		ts := newTestStore(t)
		amd := threeLayers(t, docker)
		arm := newTestImage(t, ocispec.Platform{OS: "linux", Architecture: "arm64"}, docker, []file{{name: "arm", body: "arm"}})
		amd.push(ts.reg, "docker.io/library/multi", "")
		arm.push(ts.reg, "docker.io/library/multi", "")
		idx := indexOf(t, docker, map[string]testImage{"linux/amd64": amd, "linux/arm64/v8": arm})
		mt := ocispec.MediaTypeImageIndex
		if docker {
			mt = MediaTypeDockerManifestList
		}
		idg := ts.reg.putManifest("docker.io/library/multi", "latest", mt, idx)
		img, err := ts.Pull(context.Background(), "multi", PullOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if img.Target.Digest != idg || img.Manifest != amd.manifestDigest() || img.ID != amd.configDigest() || img.Name != "docker.io/library/multi:latest" {
			t.Fatalf("image = %+v", img)
		}
		if ts.mem.has(arm.manifestDigest()) || ts.mem.has(digest.FromBytes(arm.layers[0])) {
			t.Error("pulled the arm64 image too")
		}
		checkUnpacked(t, ts, amd)
		_, err = ts.Pull(context.Background(), "multi", PullOptions{Platform: ocispec.Platform{OS: "linux", Architecture: "s390x"}})
		if err == nil || !strings.Contains(err.Error(), "no matching manifest for linux/s390x in the manifest list entries") || !errdefs.IsNotFound(err) {
			t.Errorf("pull for s390x: %v", err)
		}
	}
}

func TestPullWrongPlatform(t *testing.T) {
	ts := newTestStore(t)
	arm := newTestImage(t, ocispec.Platform{OS: "linux", Architecture: "arm64"}, false, []file{{name: "arm", body: "arm"}})
	arm.push(ts.reg, "localhost:5000/arm", "latest")
	_, err := ts.Pull(context.Background(), "localhost:5000/arm", PullOptions{})
	if err == nil || !strings.Contains(err.Error(), "does not match the specified platform: wanted linux/amd64, actual: linux/arm64") {
		t.Fatalf("pull: %v", err)
	}
	assertEmpty(t, ts)
}

// assertEmpty checks that the store holds no records, blobs, snapshots or
// leases.
func assertEmpty(t *testing.T, ts *testStore) {
	t.Helper()
	if imgs, _ := ts.List(context.Background()); len(imgs) != 0 {
		t.Errorf("records left: %+v", imgs)
	}
	if n := ts.mem.count(); n != 0 {
		t.Errorf("%d blobs left", n)
	}
	if keys := ts.snaps.keys(); len(keys) != 0 {
		t.Errorf("snapshots left: %v", keys)
	}
	if n := countLeases(t, ts.Store); n != 0 {
		t.Errorf("%d leases left", n)
	}
}

func TestPullBadInput(t *testing.T) {
	for name, spoil := range map[string]func(ts *testStore, ti testImage){
		"corrupt layer": func(ts *testStore, ti testImage) {
			ts.reg.corrupt[digest.FromBytes(ti.layers[1])] = gzipBytes(t, layerTar(t, file{name: "evil", body: "x"}))
		},
		// The first layer is unpacked in place as it downloads, not staged.
		"corrupt first layer": func(ts *testStore, ti testImage) {
			ts.reg.corrupt[digest.FromBytes(ti.layers[0])] = gzipBytes(t, layerTar(t, file{name: "evil", body: "x"}))
		},
		"truncated first layer": func(ts *testStore, ti testImage) {
			ts.reg.corrupt[digest.FromBytes(ti.layers[0])] = ti.layers[0][:len(ti.layers[0])/2]
		},
		"truncated layer": func(ts *testStore, ti testImage) {
			ts.reg.corrupt[digest.FromBytes(ti.layers[2])] = ti.layers[2][:len(ti.layers[2])/2]
		},
		"corrupt config": func(ts *testStore, ti testImage) {
			ts.reg.corrupt[ti.configDigest()] = []byte(`{"rootfs":{"type":"layers","diff_ids":[]}}`)
		},
	} {
		t.Run(name, func(t *testing.T) {
			ts := newTestStore(t)
			ti := threeLayers(t, false)
			ti.push(ts.reg, "localhost:5000/bad", "latest")
			spoil(ts, ti)
			_, err := ts.Pull(context.Background(), "localhost:5000/bad", PullOptions{})
			if err == nil || !strings.Contains(err.Error(), "mismatch") {
				t.Fatalf("pull: %v", err)
			}
			assertEmpty(t, ts)
			clear(ts.reg.corrupt)
			if _, err := ts.Pull(context.Background(), "localhost:5000/bad", PullOptions{}); err != nil {
				t.Fatalf("pull again: %v", err)
			}
			checkUnpacked(t, ts, ti)
		})
	}
}

func TestPullDiffIDMismatch(t *testing.T) {
	ts := newTestStore(t)
	ti := threeLayers(t, false)
	// A config that lies about layer 1's content.
	var cfg Config
	mustUnmarshal(t, ti.config, &cfg)
	cfg.RootFS.DiffIDs[1] = digest.FromString("something else")
	ti = rebuild(t, ti, cfg)
	ti.push(ts.reg, "localhost:5000/lie", "latest")
	_, err := ts.Pull(context.Background(), "localhost:5000/lie", PullOptions{})
	if err == nil || !strings.Contains(err.Error(), "uncompressed digest") {
		t.Fatalf("pull: %v", err)
	}
	assertEmpty(t, ts)
}

func TestPullInterrupted(t *testing.T) {
	ts := newTestStore(t)
	ti := threeLayers(t, false)
	ti.push(ts.reg, "localhost:5000/slow", "latest")
	ts.reg.block = digest.FromBytes(ti.layers[2])
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(100 * time.Millisecond)
		cancel()
	}()
	_, err := ts.Pull(ctx, "localhost:5000/slow", PullOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("pull: %v", err)
	}
	assertEmpty(t, ts)
	ts.reg.block = ""
	if _, err := ts.Pull(context.Background(), "localhost:5000/slow", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	checkUnpacked(t, ts, ti)
}

func TestPullSharedLayers(t *testing.T) {
	ts := newTestStore(t)
	base := []file{{name: "base", body: "base"}}
	a := newTestImage(t, linuxAMD64, false, base, []file{{name: "a", body: "a"}})
	b := newTestImage(t, linuxAMD64, false, base, []file{{name: "b", body: "b"}})
	a.push(ts.reg, "localhost:5000/a", "latest")
	b.push(ts.reg, "localhost:5000/b", "latest")
	if _, err := ts.Pull(context.Background(), "localhost:5000/a", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	var ev events
	if _, err := ts.Pull(context.Background(), "localhost:5000/b", PullOptions{Progress: ev.add}); err != nil {
		t.Fatal(err)
	}
	if got := ev.actions(ShortID(digest.FromBytes(b.layers[0]))); len(got) != 1 || got[0] != ActionAlreadyExists {
		t.Errorf("base layer actions %q", got)
	}
	if n := len(ts.snaps.keys()); n != 3 {
		t.Errorf("%d snapshots, want 3: %v", n, ts.snaps.keys())
	}
}
