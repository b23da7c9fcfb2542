package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/testutil"
	"golang.org/x/sys/unix"
)

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"a/b": "a/b", "./a/b/": "a/b", "/a//b": "a/b", "../../etc/x": "etc/x", "/": "", ".": "",
		"..": "", "a/../../b": "b", "": "",
	} {
		if got := cleanName(in); got != want {
			t.Errorf("cleanName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestApplyBasic applies one layer of every kind of entry and checks what
// is on disk.
func TestApplyBasic(t *testing.T) {
	root := t.TempDir()
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	hdr := func(e ent) ent { e.hdr.ModTime = mtime; return e }
	data := mkTar(t,
		hdr(dirE("etc/", 0o755)),
		hdr(fileE("etc/passwd", "root:x:0:0\n", 0o644)),
		hdr(fileE("usr/bin/su", "suid", 0o4755)), // parents missing
		hdr(dirE("tmp", 0o1777)),
		hdr(symlinkE("bin", "usr/bin")),
		hdr(linkE("etc/passwd-", "etc/passwd")),
		ent{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "run/fifo", Mode: 0o620, ModTime: mtime}},
		ent{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "big", Size: 3 * copyBufSize / 2, Mode: 0o600, ModTime: mtime},
			body: strings.Repeat("z", 3*copyBufSize/2)},
	)
	mustApply(t, root, data, plain)
	got := tree(t, root)
	check := func(p string, mode os.FileMode) {
		t.Helper()
		s, ok := got[p]
		if !ok {
			t.Errorf("%s missing", p)
			return
		}
		if s.Mode != mode {
			t.Errorf("%s mode %v, want %v", p, s.Mode, mode)
		}
		if s.Mode&os.ModeSymlink == 0 && s.Mtime != mtime.Unix() && p != "usr" && p != "usr/bin" && p != "run" {
			t.Errorf("%s mtime %v, want %v", p, time.Unix(s.Mtime, 0), mtime)
		}
	}
	check("etc", os.ModeDir|0o755)
	check("etc/passwd", 0o644)
	check("usr", os.ModeDir|0o755)
	check("usr/bin", os.ModeDir|0o755)
	check("usr/bin/su", os.ModeSetuid|0o755)
	check("tmp", os.ModeDir|os.ModeSticky|0o777)
	check("bin", os.ModeSymlink|0o777)
	check("run/fifo", os.ModeNamedPipe|0o620)
	check("big", 0o600)
	if got["etc/passwd-"].Link != "=>etc/passwd" {
		t.Errorf("etc/passwd- is not a hardlink of etc/passwd: %v", got["etc/passwd-"])
	}
	if got["bin"].Link != "usr/bin" || got["big"].Size != 3*copyBufSize/2 {
		t.Errorf("bin %v, big %v", got["bin"], got["big"])
	}
}

// TestApplyRoot checks what needs root: owners, devices, xattrs in every
// namespace, file capabilities, and that the setuid bit survives chown.
func TestApplyRoot(t *testing.T) {
	testutil.RequireRoot(t)
	root := t.TempDir()
	capV3 := string([]byte{0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // cap_net_raw, v2
	file := fileE("bin/ping", "ping", 0o4711)
	file.hdr.Uid, file.hdr.Gid = 1000, 1001
	file.hdr.PAXRecords = map[string]string{
		paxXattr + "security.capability": capV3,
		paxXattr + "user.note":           "hello",
		paxXattr + "trusted.mine":        "t",
	}
	dir := dirE("home/u", 0o2750)
	dir.hdr.Uid, dir.hdr.Gid = 1000, 1000
	dir.hdr.PAXRecords = map[string]string{paxXattr + "user.dir": "d"}
	link := symlinkE("home/u/l", "/nowhere")
	link.hdr.Uid, link.hdr.Gid = 1000, 1000
	link.hdr.PAXRecords = map[string]string{paxXattr + "trusted.link": "s", paxXattr + "user.refused": "x"}
	dev := charE("dev/tty", 5, 0)
	dev.hdr.Gid = 5
	blk := ent{hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "dev/loop0", Mode: 0o660, Devmajor: 7, ModTime: testTime}}
	mustApply(t, root, mkTar(t, file, dir, link, dev, blk), ApplyOptions{Whiteouts: RemoveWhiteouts})
	got := tree(t, root)
	want := map[string]string{
		"bin/ping":  "urwx--x--x 1000:1001",
		"home/u":    "dgrwxr-x--- 1000:1000",
		"home/u/l":  "Lrwxrwxrwx 1000:1000",
		"dev/tty":   "Dcrw-rw-rw- 0:5",
		"dev/loop0": "Drw-rw---- 0:0",
	}
	for p, w := range want {
		s := got[p]
		if g := s.Mode.String() + " " + itoa(s.Uid) + ":" + itoa(s.Gid); g != w {
			t.Errorf("%s: %s, want %s", p, g, w)
		}
	}
	if x := got["bin/ping"].Xattrs; x != "security.capability="+capV3+",trusted.mine=t,user.note=hello" {
		t.Errorf("bin/ping xattrs %q", x)
	}
	if x := got["home/u/l"].Xattrs; x != "trusted.link=s" {
		t.Errorf("symlink xattrs %q", x)
	}
	if got["dev/tty"].Rdev != unix.Mkdev(5, 0) || got["dev/loop0"].Rdev != unix.Mkdev(7, 0) {
		t.Errorf("device numbers %x %x", got["dev/tty"].Rdev, got["dev/loop0"].Rdev)
	}
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

// TestApplyReplace checks how entries meet what is there: a directory
// over a directory merges, anything else replaces.
func TestApplyReplace(t *testing.T) {
	root := t.TempDir()
	mustApply(t, root, mkTar(t, dirE("d", 0o700), fileE("d/old", "o", 0o644), fileE("f", "file", 0o644),
		dirE("dir2file/sub", 0o755), fileE("dir2file/sub/x", "x", 0o644), symlinkE("l", "d")), plain)
	mustApply(t, root, mkTar(t, dirE("d", 0o751), fileE("d/new", "n", 0o644), dirE("f", 0o755),
		fileE("dir2file", "now a file", 0o600), fileE("l", "now a file", 0o644)), plain)
	got := tree(t, root)
	if got["d"].Mode != os.ModeDir|0o751 || got["d/old"].Size != 1 || got["d/new"].Size != 1 {
		t.Errorf("merge: d %v, d/old %v, d/new %v", got["d"], got["d/old"], got["d/new"])
	}
	if !got["f"].Mode.IsDir() || !got["dir2file"].Mode.IsRegular() || !got["l"].Mode.IsRegular() {
		t.Errorf("replace: f %v, dir2file %v, l %v", got["f"], got["dir2file"], got["l"])
	}
	if _, ok := got["dir2file/sub/x"]; ok {
		t.Error("dir2file/sub/x survived")
	}
}

// TestApplyRemoveWhiteouts applies whiteouts by deletion.
func TestApplyRemoveWhiteouts(t *testing.T) {
	root := t.TempDir()
	mustApply(t, root, mkTar(t, fileE("a", "a", 0o644), dirE("d", 0o755), fileE("d/x", "x", 0o644),
		dirE("o", 0o755), fileE("o/lower", "l", 0o644), dirE("o/sub", 0o755), fileE("o/sub/lower", "l", 0o644),
		fileE("keep", "k", 0o644)), plain)
	mustApply(t, root, mkTar(t,
		fileE(".wh.a", "", 0), fileE(".wh.d", "", 0), fileE(".wh.missing", "", 0), fileE("nodir/.wh.x", "", 0),
		fileE("o/new", "n", 0o644), fileE("o/.wh..wh..opq", "", 0), fileE("o/sub/new2", "n", 0o644),
		fileE("same", "s", 0o644), fileE(".wh.same", "", 0), // a whiteout never hides its own layer's files
		fileE(".wh..wh.plnk", "", 0)), plain)
	got := tree(t, root)
	want := map[string]bool{"o": true, "o/new": true, "o/sub": true, "o/sub/new2": true, "keep": true, "same": true}
	for p := range got {
		if !want[p] {
			t.Errorf("%s should be gone", p)
		}
	}
	for p := range want {
		if _, ok := got[p]; !ok {
			t.Errorf("%s missing", p)
		}
	}
}

// TestApplyOverlayWhiteouts applies whiteouts in overlay form.
func TestApplyOverlayWhiteouts(t *testing.T) {
	testutil.RequireRoot(t)
	root := t.TempDir()
	mustApply(t, root, mkTar(t, fileE(".wh.gone", "", 0), dirE("o", 0o755), fileE("o/.wh..wh..opq", "", 0),
		fileE("o/new", "n", 0o644), fileE("deep/er/.wh.x", "", 0), fileE(".wh.re", "", 0), dirE("re", 0o700),
		fileE("o/.wh.new", "", 0)), ApplyOptions{})
	got := tree(t, root)
	for _, p := range []string{"gone", "deep/er/x"} {
		if s := got[p]; s.Mode != os.ModeDevice|os.ModeCharDevice || s.Rdev != 0 {
			t.Errorf("%s: %v, want a 0:0 char device", p, s)
		}
	}
	if x := got["o"].Xattrs; x != "trusted.overlay.opaque=y" {
		t.Errorf("o xattrs %q", x)
	}
	if x := got["re"].Xattrs; x != "trusted.overlay.opaque=y" || !got["re"].Mode.IsDir() {
		t.Errorf("re (dir replacing a whiteout): %v", got["re"])
	}
	if !got["o/new"].Mode.IsRegular() {
		t.Errorf("o/new: %v (a whiteout hid its own layer's file)", got["o/new"])
	}
}

// TestApplyOverlayXattrsDropped checks that a layer cannot set overlayfs's
// own attributes.
func TestApplyOverlayXattrsDropped(t *testing.T) {
	testutil.RequireRoot(t)
	root := t.TempDir()
	d := dirE("d", 0o755)
	d.hdr.PAXRecords = map[string]string{paxXattr + "trusted.overlay.redirect": "/etc",
		paxXattr + "trusted.overlay.opaque": "y", paxXattr + "user.overlay.opaque": "y", paxXattr + "user.ok": "1"}
	mustApply(t, root, mkTar(t, d), ApplyOptions{})
	if x := xattrString(filepath.Join(root, "d")); x != "user.ok=1" {
		t.Errorf("xattrs %q", x)
	}
}

// TestApplyParents applies into an upper dir over lower layers: missing
// parents take the lower directory's attributes, and a hardlink to a lower
// file becomes a copy.
func TestApplyParents(t *testing.T) {
	testutil.RequireRoot(t)
	lower, upper := t.TempDir(), t.TempDir()
	tmp := dirE("tmp", 0o1777)
	tmp.hdr.PAXRecords = map[string]string{paxXattr + "user.t": "1"}
	usr := dirE("usr", 0o755)
	usr.hdr.Uid = 7
	bin := fileE("usr/bin/tool", "tool", 0o755)
	bin.hdr.Uid = 3
	mustApply(t, lower, mkTar(t, tmp, usr, dirE("usr/bin", 0o711), bin), ApplyOptions{})
	mustApply(t, upper, mkTar(t, fileE("tmp/x", "x", 0o644), linkE("usr/bin/alias", "usr/bin/tool")),
		ApplyOptions{Parents: []string{lower}})
	got := tree(t, upper)
	if s := got["tmp"]; s.Mode != os.ModeDir|os.ModeSticky|0o777 || s.Xattrs != "user.t=1" || s.Mtime != testTime.Unix() {
		t.Errorf("tmp: %v", s)
	}
	if s := got["usr"]; s.Uid != 7 || s.Mode != os.ModeDir|0o755 {
		t.Errorf("usr: %v", s)
	}
	if s := got["usr/bin"]; s.Mode != os.ModeDir|0o711 {
		t.Errorf("usr/bin: %v", s)
	}
	if s := got["usr/bin/alias"]; s.Size != 4 || s.Uid != 3 || s.Mode != 0o755 {
		t.Errorf("usr/bin/alias: %v", s)
	}
	err := applyTar(t, upper, mkTar(t, linkE("nope", "not/anywhere")), ApplyOptions{Parents: []string{lower}})
	if !errdefs.IsInvalidArgument(err) {
		t.Errorf("hardlink to nowhere: %v", err)
	}
}

// TestApplyByteCount checks that Apply reads the whole stream, padding
// after the end-of-archive marker included.
func TestApplyByteCount(t *testing.T) {
	data := append(mkTar(t, fileE("f", "x", 0o644)), make([]byte, 9000)...)
	n, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(data), plain)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("Apply = %d, %v; want %d", n, err, len(data))
	}
	n, err = Apply(context.Background(), t.TempDir(), bytes.NewReader(nil), plain)
	if err != nil || n != 0 {
		t.Fatalf("empty stream: %d, %v", n, err)
	}
}

func TestApplyCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Apply(ctx, t.TempDir(), bytes.NewReader(mkTar(t, fileE("f", "x", 0o644))), plain)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply: %v", err)
	}
}

func TestApplyInvalidOwner(t *testing.T) {
	f := fileE("f", "x", 0o4755)
	f.hdr.Uid = -1
	err := applyTar(t, t.TempDir(), mkTar(t, f), plain)
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "invalid owner") {
		t.Fatalf("Apply: %v", err)
	}
}

func TestApplyUnknownType(t *testing.T) {
	data := mkTar(t, ent{hdr: tar.Header{Typeflag: 'Z', Name: "z", ModTime: testTime}})
	if err := applyTar(t, t.TempDir(), data, plain); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("Apply: %v", err)
	}
}
