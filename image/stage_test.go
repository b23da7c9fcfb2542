package image

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/testutil"
)

// tarOf builds a layer from headers (with bodies for regular files).
func tarOf(t *testing.T, entries ...tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		body := []byte(h.Linkname)
		if h.Typeflag == tar.TypeReg {
			h.Linkname, h.Size = "", int64(len(body))
		} else {
			body = nil
		}
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1600000000, 0)
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(body)
	}
	_ = tw.Close()
	return buf.Bytes()
}

// pullLayers pushes an image of raw layer tars and pulls it.
func pullLayers(t *testing.T, ts *testStore, layers ...[]byte) testImage {
	t.Helper()
	ti := newTestImage(t, linuxAMD64, false)
	ti.layers, ti.diffIDs = nil, nil
	for _, raw := range layers {
		ti.layers = append(ti.layers, gzipBytes(t, raw))
		ti.diffIDs = append(ti.diffIDs, digest.FromBytes(raw))
	}
	ti = withLayers(t, ti)
	ti.push(ts.reg, "localhost:5000/staged", "latest")
	if _, err := ts.Pull(context.Background(), "localhost:5000/staged", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	return ti
}

func TestStagedImplicitDirs(t *testing.T) {
	testutil.RequireRoot(t)
	ts := newTestStore(t)
	retries := inPlaceRetries.Load()
	defer func() {
		if inPlaceRetries.Load() != retries {
			t.Error("the staged layer was unpacked again in place")
		}
	}()
	mtime := time.Unix(1500000000, 0)
	ti := pullLayers(t, ts,
		tarOf(t, tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, Uid: 5, Gid: 6, ModTime: mtime,
			PAXRecords: map[string]string{"SCHILY.xattr.user.note": "lower"}}),
		tarOf(t, tar.Header{Name: "tmp/deep/file", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "x"}),
	)
	chain := ChainIDs(ti.diffIDs)
	dir := ts.snaps.dir(chain[1].String())
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(dir, "tmp"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&0o7777 != 0o1777 || st.Uid != 5 || st.Gid != 6 || st.Mtim.Sec != mtime.Unix() {
		t.Errorf("implicit tmp: mode %o uid %d gid %d mtime %d", st.Mode&0o7777, st.Uid, st.Gid, st.Mtim.Sec)
	}
	buf := make([]byte, 16)
	if n, err := unix.Lgetxattr(filepath.Join(dir, "tmp"), "user.note", buf); err != nil || string(buf[:n]) != "lower" {
		t.Errorf("xattr: %q %v", buf[:n], err)
	}
	if err := unix.Lstat(filepath.Join(dir, "tmp/deep"), &st); err != nil || st.Mode&0o7777 != 0o755 || st.Uid != 0 {
		t.Errorf("tmp/deep (not below): %o %d %v", st.Mode&0o7777, st.Uid, err)
	}
}

func TestStagedHardlinkIntoLowerLayer(t *testing.T) {
	testutil.RequireRoot(t)
	ts := newTestStore(t)
	ti := pullLayers(t, ts,
		tarOf(t, tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}, tar.Header{Name: "bin/a", Typeflag: tar.TypeReg, Mode: 0o755, Linkname: "aaa"}),
		tarOf(t, tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}, tar.Header{Name: "bin/b", Typeflag: tar.TypeLink, Linkname: "bin/a"}),
	)
	if inPlaceRetries.Load() == 0 {
		t.Error("a layer hardlinking into the one below was not unpacked again in place")
	}
	dir := ts.snaps.dir(ChainIDs(ti.diffIDs)[1].String())
	if b, err := os.ReadFile(filepath.Join(dir, "bin/b")); err != nil || string(b) != "aaa" {
		t.Errorf("bin/b: %q %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "bin/a")); !os.IsNotExist(err) {
		t.Errorf("bin/a copied into the upper layer: %v", err)
	}
	checkNoScratch(t, ts)
}

func TestStagedOpaqueAndWhiteouts(t *testing.T) {
	testutil.RequireRoot(t)
	ts := newTestStore(t)
	ti := pullLayers(t, ts,
		tarOf(t, tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}, tar.Header{Name: "etc/old", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "o"}),
		tarOf(t, tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}, tar.Header{Name: "etc/.wh..wh..opq", Typeflag: tar.TypeReg},
			tar.Header{Name: "etc/new", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "n"}),
		tarOf(t, tar.Header{Name: ".wh..wh..opq", Typeflag: tar.TypeReg}, tar.Header{Name: ".wh.etc", Typeflag: tar.TypeReg}),
	)
	chain := ChainIDs(ti.diffIDs)
	buf := make([]byte, 4)
	d1 := ts.snaps.dir(chain[1].String())
	if n, err := unix.Lgetxattr(filepath.Join(d1, "etc"), "trusted.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("opaque etc: %q %v", buf[:n], err)
	}
	d2 := ts.snaps.dir(chain[2].String())
	if n, err := unix.Lgetxattr(d2, "trusted.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("opaque root: %q %v", buf[:n], err)
	}
	fi, err := os.Lstat(filepath.Join(d2, "etc"))
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 || fi.Sys().(*syscall.Stat_t).Rdev != 0 {
		t.Errorf("whiteout etc: %v %v", fi, err)
	}
	checkNoScratch(t, ts)
}

func checkNoScratch(t *testing.T, ts *testStore) {
	t.Helper()
	for _, k := range ts.snaps.keys() {
		if len(k) > len(extractPrefix) && k[:len(extractPrefix)] == extractPrefix {
			t.Errorf("scratch snapshot %s left", k)
		}
	}
}

func TestLayerScan(t *testing.T) {
	raw := tarOf(t,
		tar.Header{Name: "./", Typeflag: tar.TypeDir},
		tar.Header{Name: "usr/lib/x", Typeflag: tar.TypeReg},
		tar.Header{Name: "usr/", Typeflag: tar.TypeDir},
		tar.Header{Name: "var/.wh.cache", Typeflag: tar.TypeReg},
		tar.Header{Name: "opt/a/.wh..wh..opq", Typeflag: tar.TypeReg},
		tar.Header{Name: "usr/lib/y", Typeflag: tar.TypeLink, Linkname: "usr/lib/x"},
	)
	sc := scanTar(bytes.NewReader(raw))
	got := sc.implicit()
	want := []string{"opt", "var", "opt/a", "usr/lib"}
	if len(got) != len(want) {
		t.Fatalf("implicit %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("implicit %v, want %v", got, want)
		}
	}
	if sc.foreignLinks {
		t.Error("a link within the layer counted as foreign")
	}
	if sc := scanTar(bytes.NewReader(tarOf(t, tar.Header{Name: "b", Typeflag: tar.TypeLink, Linkname: "a"}))); !sc.foreignLinks {
		t.Error("a link to a lower layer not noticed")
	}
}
