package e2e_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// Bad input (issue 4) through the command line: each bad archive or
// registry answer must fail with an error that names the problem, leave
// the store exactly as it was (no image, blob, ingest or snapshot more),
// and a re-run with good input must then succeed.

// badLoad loads archive into a fresh store, expecting a failure that
// mentions words, checks that nothing was left, then loads good.
func badLoad(t *testing.T, archive, good string, words ...string) {
	t.Helper()
	c := newCorralStore(t)
	before := c.fingerprint()
	msg := c.fails("load", "-i", archive)
	t.Logf("corral load: %s", strings.TrimSpace(msg))
	requireErrorNames(t, msg, words...)
	c.requireUnchanged(before, "a failed load")
	out := c.ok("load", "-i", good)
	c.inspect(loadedRef(t, c, out))
}

func TestBadInputArchive(t *testing.T) {
	requirePeerTools(t, "skopeo")
	img := multiLayerImage(t)
	layout := filepath.Join(t.TempDir(), "layout")
	img.writeLayout(t, layout, "v1")
	goodOCI := tarDir(t, layout)
	goodDocker := filepath.Join(t.TempDir(), "docker.tar")
	skopeoCmd(t, "copy", "oci:"+layout+":v1", "docker-archive:"+goodDocker+":interop/bad:v1")
	base := img.diffIDs[0].Encoded() // the busybox layer, as docker-archive names it
	baseBlob := img.layers[0].Digest.Encoded()

	t.Run("corrupt-layer-docker-archive", func(t *testing.T) {
		bad := editTar(t, goodDocker, base, flipMiddleByte)
		badLoad(t, bad, goodDocker, img.diffIDs[0].String())
	})
	t.Run("corrupt-layer-oci-archive", func(t *testing.T) {
		bad := editTar(t, goodOCI, baseBlob, flipMiddleByte)
		badLoad(t, bad, goodOCI, "digest")
	})
	t.Run("truncated-layer-docker-archive", func(t *testing.T) {
		bad := editTar(t, goodDocker, base, func(b []byte) []byte { return b[:len(b)/2] })
		badLoad(t, bad, goodDocker, "unpack layer", "unexpected EOF")
	})
	t.Run("truncated-layer-oci-archive", func(t *testing.T) {
		bad := editTar(t, goodOCI, baseBlob, func(b []byte) []byte { return b[:len(b)/2] })
		badLoad(t, bad, goodOCI, "digest")
	})
	t.Run("truncated-archive", func(t *testing.T) {
		bad := truncateFile(t, goodDocker, 0.6)
		badLoad(t, bad, goodDocker, "EOF")
	})
	t.Run("unknown-layer-media-type", func(t *testing.T) {
		odd := multiLayerImage(t)
		odd.layers[1].MediaType = "application/vnd.example.unknown.layer"
		dir := filepath.Join(t.TempDir(), "layout")
		odd.writeLayout(t, dir, "v1")
		badLoad(t, tarDir(t, dir), goodOCI, "media type", "application/vnd.example.unknown.layer")
	})
}

// flipMiddleByte changes one byte in the middle of b (the same length,
// another digest).
func flipMiddleByte(b []byte) []byte {
	out := bytes.Clone(b)
	out[len(out)/2] ^= 0xff
	return out
}

// editTar copies the tar at path with edit applied to the content of the
// one regular member whose name contains match, and returns the copy's
// path.
func editTar(t *testing.T, path, match string, edit func([]byte) []byte) string {
	t.Helper()
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out := filepath.Join(t.TempDir(), "edited.tar")
	var buf bytes.Buffer
	tr, tw := tar.NewReader(in), tar.NewWriter(&buf)
	edited := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		if hdr.Typeflag == tar.TypeReg && strings.Contains(hdr.Name, match) {
			data, edited = edit(data), edited+1
			hdr.Size = int64(len(data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if edited != 1 {
		t.Fatalf("%s: %d members match %q, want 1", path, edited, match)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// truncateFile copies the first fraction of the file at path to a new
// file and returns its path.
func truncateFile(t *testing.T, path string, fraction float64) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "truncated.tar")
	if err := os.WriteFile(out, data[:int(float64(len(data))*fraction)], 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// smallImage is a one-layer image whose layer no other test image has
// (its own content), so that breaking its blob breaks nothing else.
func smallImage(t *testing.T, arch, content string) *testImage {
	t.Helper()
	return newTestImage(t, arch, layerTar(t,
		tarEntry{name: "etc/", typ: tar.TypeDir},
		tarEntry{name: "etc/content", typ: tar.TypeReg, body: content + strings.Repeat(" padding", 4096)}))
}

// badPull pulls ref into a fresh store expecting a failure that mentions
// words, checks that nothing was left, then runs fix and pulls good
// (with args before it).
func badPull(t *testing.T, ref string, words []string, fix func(), good ...string) {
	t.Helper()
	c := newCorralStore(t)
	before := c.fingerprint()
	msg := c.fails("pull", ref)
	t.Logf("corral pull: %s", strings.TrimSpace(msg))
	requireErrorNames(t, msg, words...)
	c.requireUnchanged(before, "a failed pull")
	if fix != nil {
		fix()
	}
	c.ok(append([]string{"pull"}, good...)...)
}

func TestBadInputRegistry(t *testing.T) {
	reg := startRegistry(t)
	good := reg.addr + "/bad/good:v1"
	reg.push(t, "bad/good", "v1", smallImage(t, "amd64", "good"))

	t.Run("digest-mismatch", func(t *testing.T) {
		img := smallImage(t, "amd64", t.Name())
		reg.push(t, "bad/corrupt", "v1", img)
		data := reg.blobData(img.layers[0].Digest)
		orig, err := os.ReadFile(data)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, data, flipMiddleByte(orig))
		ref := reg.addr + "/bad/corrupt:v1"
		badPull(t, ref, []string{"digest", img.layers[0].Digest.String()},
			func() { writeFile(t, data, orig) }, ref)
	})
	t.Run("unknown-layer-media-type", func(t *testing.T) {
		img := smallImage(t, "amd64", t.Name())
		img.layers[0].MediaType = "application/vnd.example.unknown.layer"
		reg.push(t, "bad/mediatype", "v1", img)
		badPull(t, reg.addr+"/bad/mediatype:v1",
			[]string{"media type", "application/vnd.example.unknown.layer"}, nil, good)
	})
	t.Run("unknown-config-media-type", func(t *testing.T) {
		img := smallImage(t, "amd64", t.Name())
		img.config.MediaType = "application/vnd.example.artifact.config.v1+json"
		reg.push(t, "bad/artifact", "v1", img)
		badPull(t, reg.addr+"/bad/artifact:v1",
			[]string{"media type", "application/vnd.example.artifact.config.v1+json"}, nil, good)
	})
	t.Run("index-for-another-platform", func(t *testing.T) {
		img := smallImage(t, "arm64", t.Name())
		desc := reg.push(t, "bad/arm64", manifestDesc(t, img).Digest.String(), img)
		reg.pushManifest(t, "bad/arm64", "v1", ocispec.MediaTypeImageIndex, ociIndex(t, desc))
		ref := reg.addr + "/bad/arm64:v1"
		badPull(t, ref, []string{"linux/amd64"}, nil, "--platform", "linux/arm64", ref)
	})
	t.Run("manifest-for-another-platform", func(t *testing.T) {
		img := smallImage(t, "arm64", t.Name())
		reg.push(t, "bad/arm64only", "v1", img)
		ref := reg.addr + "/bad/arm64only:v1"
		badPull(t, ref, []string{"platform", "linux/amd64", "linux/arm64"}, nil, "--platform", "linux/arm64", ref)
	})
	t.Run("truncated-blob", func(t *testing.T) {
		img := smallImage(t, "amd64", t.Name())
		reg.push(t, "bad/truncated", "v1", img)
		proxy := startFaultProxy(t, reg, img.layers[0].Digest, truncateBody)
		ref := proxy.addr + "/bad/truncated:v1"
		badPull(t, ref, []string{img.layers[0].Digest.Encoded()[:12]}, proxy.heal, ref)
	})
}

// manifestDesc is the descriptor of img's manifest.
func manifestDesc(t *testing.T, img *testImage) ocispec.Descriptor {
	t.Helper()
	_, d := img.manifest(t)
	return d
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBadInputInterruptedPull(t *testing.T) {
	reg := startRegistry(t)
	img := smallImage(t, "amd64", t.Name())
	reg.push(t, "bad/interrupted", "v1", img)
	started := make(chan struct{})
	proxy := startFaultProxy(t, reg, img.layers[0].Digest, stallBody(started))
	ref := proxy.addr + "/bad/interrupted:v1"
	c := newCorralStore(t)
	before := c.fingerprint()

	// Killed mid-download: no chance to clean up.
	cmd := c.command("pull", ref)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(interopTimeout):
		t.Fatal("the pull never started downloading the layer")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	// The daemon notices that its client left and removes what the pull wrote.
	c.requireUnchanged(before, "a pull killed mid-download")
	proxy.heal()
	c.ok("pull", ref)
	requireSameImage(t, "re-run of the killed pull", c.inspect(ref), imageOf(img))
}

// imageOf is what corral's inspect should say of img.
func imageOf(img *testImage) inspected {
	var want inspected
	want.ID = img.config.Digest.String()
	for _, d := range img.diffIDs {
		want.RootFS.Layers = append(want.RootFS.Layers, d.String())
	}
	return want
}

func TestBadInputFullDisk(t *testing.T) {
	reg := startRegistry(t)
	img := multiLayerImage(t)
	reg.push(t, "bad/big", "v1", img)
	ref := reg.addr + "/bad/big:v1"
	var packed, unpacked int64
	for i, l := range img.layers {
		packed += l.Size
		unpacked += int64(len(layerOf(t, img, i)))
	}
	// The data root on a tmpfs too small for the image: it fills up while
	// the layers download, or once they are in, while they unpack.
	for name, size := range map[string]int64{
		"during-download": packed / 2,
		"during-unpack":   packed + unpacked/2,
	} {
		t.Run(name, func(t *testing.T) {
			c := newCorralStore(t)
			mountTmpfs(t, c.root, size)
			before := c.fingerprint()
			msg := c.fails("pull", ref)
			t.Logf("corral pull: %s", strings.TrimSpace(msg))
			requireErrorNames(t, msg, "no space left on device")
			c.requireUnchanged(before, "a pull that filled the disk")
			if err := unix.Mount("", c.root, "", unix.MS_REMOUNT, "size=64m"); err != nil {
				t.Fatalf("grow tmpfs: %v", err)
			}
			c.ok("pull", ref)
			requireSameImage(t, "re-run with room", c.inspect(ref), imageOf(img))
			requireMultiLayerFiles(t, c)
		})
	}
}

// layerOf returns the uncompressed tar of img's layer i.
func layerOf(t *testing.T, img *testImage, i int) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(img.blobs[img.layers[i].Digest]))
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// mountTmpfs mounts a tmpfs of size bytes on dir (created), for the
// test's duration.
func mountTmpfs(t *testing.T, dir string, size int64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("corral-e2e", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
}
