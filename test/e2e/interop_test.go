package e2e_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// Interop with the real tools from Debian (podman 4.3, skopeo 1.9,
// docker-registry 2.8): what corral writes they read, what they write
// corral reads, with the same config digest (image ID), diff IDs and,
// where the manifest travels unchanged, manifest digest.

// rawManifest is what the tests read of a manifest skopeo prints.
type rawManifest struct {
	Config ocispec.Descriptor   `json:"config"`
	Layers []ocispec.Descriptor `json:"layers"`
}

// skopeoManifest returns the manifest of the image at the skopeo
// reference src (e.g. docker-archive:/x.tar) and its digest.
func skopeoManifest(t *testing.T, src string, extra ...string) (rawManifest, digest.Digest) {
	t.Helper()
	raw := skopeoCmd(t, append(append([]string{"inspect", "--raw"}, extra...), src)...)
	var m rawManifest
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("skopeo inspect --raw %s: %v\n%s", src, err, raw)
	}
	return m, digest.FromString(raw)
}

// importBusybox imports testutil's busybox rootfs into c as name.
func importBusybox(t *testing.T, c *corralStore, name string) inspected {
	t.Helper()
	c.ok("import", busyboxTar(t), name)
	return c.inspect(name)
}

func TestInteropCorralSaveIntoPodmanAndSkopeo(t *testing.T) {
	requirePeerTools(t, "podman", "skopeo")
	c := newCorralStore(t)
	want := importBusybox(t, c, "interop/busybox:v1")
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	c.ok("save", "-o", archive, "interop/busybox:v1")

	// skopeo reads it both as a docker-archive and, as docker 25 writes
	// it, as an OCI layout in a tar.
	m, _ := skopeoManifest(t, "docker-archive:"+archive)
	if m.Config.Digest.String() != want.ID {
		t.Errorf("skopeo docker-archive: config %s, want %s", m.Config.Digest, want.ID)
	}
	requireDigests(t, "skopeo docker-archive layers", m.Layers, want.RootFS.Layers)
	om, _ := skopeoManifest(t, "oci-archive:"+archive)
	if om.Config.Digest.String() != want.ID {
		t.Errorf("skopeo oci-archive: config %s, want %s", om.Config.Digest, want.ID)
	}

	p := newPodmanStore(t)
	out := p.run("load", "-i", archive)
	if !strings.Contains(out, "interop/busybox:v1") {
		t.Errorf("podman load did not name the image interop/busybox:v1:\n%s", out)
	}
	requireSameImage(t, "podman load of corral save", p.inspect("docker.io/interop/busybox:v1"), want)
}

// requireDigests fails the test unless descs have the digests want.
func requireDigests(t *testing.T, what string, descs []ocispec.Descriptor, want []string) {
	t.Helper()
	got := make([]string, len(descs))
	for i, d := range descs {
		got[i] = d.Digest.String()
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("%s: %v, want %v", what, got, want)
	}
}

// multiLayerLayout writes the multi-layer test image as an OCI layout
// tagged v1 and returns its directory and the image corral should see.
func multiLayerLayout(t *testing.T) (string, inspected) {
	t.Helper()
	img := multiLayerImage(t)
	dir := filepath.Join(t.TempDir(), "layout")
	img.writeLayout(t, dir, "v1")
	return dir, imageOf(img)
}

func TestInteropSkopeoArchivesLoadIntoCorral(t *testing.T) {
	requirePeerTools(t, "skopeo")
	layout, want := multiLayerLayout(t)
	dir := t.TempDir()
	archives := map[string]string{
		"docker-archive": filepath.Join(dir, "docker.tar"),
		"oci-archive":    filepath.Join(dir, "oci.tar"),
	}
	skopeoCmd(t, "copy", "oci:"+layout+":v1", "docker-archive:"+archives["docker-archive"]+":interop/multi:v1")
	skopeoCmd(t, "copy", "oci:"+layout+":v1", "oci-archive:"+archives["oci-archive"]+":interop/multi:v1")
	ociDir := filepath.Join(dir, "ocidir")
	skopeoCmd(t, "copy", "oci:"+layout+":v1", "oci:"+ociDir+":interop/multi:v1")
	archives["oci-dir"] = tarDir(t, ociDir)
	for name, archive := range archives {
		t.Run(name, func(t *testing.T) {
			c := newCorralStore(t)
			out := c.ok("load", "-i", archive)
			t.Logf("corral load: %s", strings.TrimSpace(out))
			requireSameImage(t, "corral load of skopeo "+name, c.inspect(loadedRef(t, c, out)), want)
			requireMultiLayerFiles(t, c)
		})
	}
}

// loadedRef is the image a `corral load` printed it loaded: the name,
// or the ID of an unnamed image.
func loadedRef(t *testing.T, c *corralStore, out string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		for _, prefix := range []string{"Loaded image: ", "Loaded image ID: "} {
			if ref, ok := strings.CutPrefix(line, prefix); ok {
				return strings.TrimSpace(ref)
			}
		}
	}
	t.Fatalf("corral load printed no image:\n%s", out)
	return ""
}

// requireMultiLayerFiles mounts the store's only image as a container
// would see it (an overlay of its layer snapshots, read-only) and checks
// what the multi-layer image's links and whiteouts make of it.
func requireMultiLayerFiles(t *testing.T, c *corralStore) {
	t.Helper()
	root := mountOnlyImage(t, c)
	for _, name := range []string{"etc/group", "home/old"} {
		if _, err := os.Lstat(filepath.Join(root, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: want it deleted by a whiteout, got %v", name, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc/hostname")); err != nil || string(b) != "interop\n" {
		t.Errorf("etc/hostname: %q, %v", b, err)
	}
	if l, err := os.Readlink(filepath.Join(root, "etc/motd")); err != nil || l != "hostname" {
		t.Errorf("etc/motd: link %q, %v", l, err)
	}
	a, errA := os.Stat(filepath.Join(root, "etc/hostname"))
	b, errB := os.Stat(filepath.Join(root, "etc/hostname.hard"))
	if errA != nil || errB != nil || !os.SameFile(a, b) {
		t.Errorf("etc/hostname.hard is not a hard link of etc/hostname: %v, %v", errA, errB)
	}
	if st, err := os.Stat(filepath.Join(root, "home/new")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("home/new: %v, %v; want mode 0600", st, err)
	}
	if _, err := os.Stat(filepath.Join(root, "bin/busybox")); err != nil {
		t.Errorf("bin/busybox: %v", err)
	}
}

// mountOnlyImage mounts, read-only, an overlay of every layer snapshot in
// the store, which must hold one image: snapshot directories are numbered
// in the order the layers were unpacked, bottom first.
func mountOnlyImage(t *testing.T, c *corralStore) string {
	t.Helper()
	if ids := c.imageIDs(); len(ids) != 1 {
		t.Fatalf("corral images: %v, want one image", ids)
	}
	dir := filepath.Join(c.root, "snapshots/overlay/snapshots")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int, 0, len(entries))
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			t.Fatalf("snapshot directory %s: not a number", e.Name())
		}
		ids = append(ids, n)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(ids)))
	lowers := make([]string, len(ids))
	for i, n := range ids {
		lowers[i] = filepath.Join(dir, strconv.Itoa(n), "fs")
	}
	target := t.TempDir()
	if err := unix.Mount("overlay", target, "overlay", unix.MS_RDONLY, "lowerdir="+strings.Join(lowers, ":")); err != nil {
		t.Fatalf("mount overlay of %v: %v", lowers, err)
	}
	t.Cleanup(func() { _ = unix.Unmount(target, unix.MNT_DETACH) })
	return target
}

func TestInteropPodmanSaveLoadsIntoCorral(t *testing.T) {
	requirePeerTools(t, "podman", "skopeo")
	layout, want := multiLayerLayout(t)
	p := newPodmanStore(t)
	skopeoCmd(t, "copy", "oci:"+layout+":v1", p.store+"localhost/interop/multi:v1")
	requireSameImage(t, "podman's copy", p.inspect("localhost/interop/multi:v1"), want)
	for _, format := range []string{"docker-archive", "oci-archive"} {
		t.Run(format, func(t *testing.T) {
			archive := filepath.Join(t.TempDir(), "podman.tar")
			p.run("save", "--format", format, "-o", archive, "localhost/interop/multi:v1")
			c := newCorralStore(t)
			out := c.ok("load", "-i", archive)
			t.Logf("corral load: %s", strings.TrimSpace(out))
			requireSameImage(t, "corral load of podman save --format "+format, c.inspect(loadedRef(t, c, out)), want)
			requireMultiLayerFiles(t, c)
		})
	}
}

func TestInteropRegistrySkopeoPushCorralPull(t *testing.T) {
	requirePeerTools(t, "skopeo")
	reg := startRegistry(t)
	layout, want := multiLayerLayout(t)
	ref := reg.addr + "/interop/skopeo:v1"
	skopeoCmd(t, "copy", "--dest-tls-verify=false", "oci:"+layout+":v1", "docker://"+ref)
	_, manDigest := skopeoManifest(t, "docker://"+ref, "--tls-verify=false")

	c := newCorralStore(t)
	c.ok("pull", ref)
	got := c.inspect(ref)
	requireSameImage(t, "corral pull of skopeo push", got, want)
	requireMultiLayerFiles(t, c)
	requireRepoDigest(t, got, reg.addr+"/interop/skopeo@"+manDigest.String())
	// By digest too, into the same store: nothing to download.
	c.ok("pull", reg.addr+"/interop/skopeo@"+manDigest.String())
}

// requireRepoDigest fails the test unless the image has the repo digest.
func requireRepoDigest(t *testing.T, img inspected, want string) {
	t.Helper()
	for _, d := range img.RepoDigests {
		if d == want {
			return
		}
	}
	t.Errorf("repo digests %v, want %s among them", img.RepoDigests, want)
}

func TestInteropRegistryCorralPushSkopeoPull(t *testing.T) {
	requirePeerTools(t, "skopeo")
	reg := startRegistry(t)
	c := newCorralStore(t)
	want := importBusybox(t, c, "interop/busybox:v1")
	ref := reg.addr + "/interop/corral:v1"
	c.ok("tag", "interop/busybox:v1", ref)
	out := c.ok("push", ref)
	pushed := pushedDigest(t, out)

	m, manDigest := skopeoManifest(t, "docker://"+ref, "--tls-verify=false")
	if manDigest != pushed {
		t.Errorf("skopeo sees manifest %s, corral pushed %s", manDigest, pushed)
	}
	if m.Config.Digest.String() != want.ID {
		t.Errorf("skopeo sees config %s, want %s", m.Config.Digest, want.ID)
	}
	dir := filepath.Join(t.TempDir(), "oci")
	skopeoCmd(t, "copy", "--src-tls-verify=false", "docker://"+ref, "oci:"+dir+":v1")
	requireLayoutManifest(t, dir, pushed)

	// The proof of issue 4: pulled back into a fresh store, the same image.
	fresh := newCorralStore(t)
	fresh.ok("pull", ref)
	got := fresh.inspect(ref)
	requireSameImage(t, "corral pull of corral push", got, want)
	requireRepoDigest(t, got, reg.addr+"/interop/corral@"+pushed.String())
}

// pushedDigest reads the digest `corral push` reports, as docker's
// "v1: digest: sha256:… size: N".
func pushedDigest(t *testing.T, out string) digest.Digest {
	t.Helper()
	for _, f := range strings.Split(out, "\n") {
		if _, rest, ok := strings.Cut(f, ": digest: "); ok {
			d, err := digest.Parse(strings.Fields(rest)[0])
			if err != nil {
				t.Fatalf("corral push digest: %v", err)
			}
			return d
		}
	}
	t.Fatalf("corral push printed no digest:\n%s", out)
	return ""
}

// requireLayoutManifest checks that the OCI layout in dir holds one
// manifest, with digest want.
func requireLayoutManifest(t *testing.T, dir string, want digest.Digest) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatalf("decode index.json: %v", err)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != want {
		t.Errorf("skopeo's oci: copy has manifests %v, want one %s", idx.Manifests, want)
	}
}
