package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/testutil"
	"golang.org/x/sys/unix"
)

// outcome is what an attack's Apply may return.
type outcome int

const (
	mustSucceed outcome = iota // contained: the entry lands inside root
	mustFail                   // refused
	mayFail                    // either, as long as nothing escapes
)

// attack is a sequence of layers trying to write, link or delete outside
// root. Each layer is applied in turn into the same root; the last one's
// result is checked against want. The arena's sentinel, a directory beside
// root, must be unchanged afterwards, whatever happened.
type attack struct {
	name    string
	root    bool // needs root (devices, overlay whiteouts)
	overlay bool // apply with OverlayWhiteouts
	layers  func(a *arena) [][]ent
	want    outcome
	check   func(t *testing.T, a *arena)
}

func TestAttacks(t *testing.T) {
	hostName := testutil.UniqueName(t)
	hostFile := filepath.Join("/etc", hostName)
	t.Cleanup(func() {
		if _, err := os.Lstat(hostFile); err == nil {
			os.Remove(hostFile)
			t.Errorf("%s was written on the host", hostFile)
		}
	})
	var attacks []attack
	attacks = append(attacks, pathAttacks(hostName)...)
	attacks = append(attacks, symlinkAttacks()...)
	attacks = append(attacks, hardlinkAttacks()...)
	attacks = append(attacks, replaceAttacks()...)
	attacks = append(attacks, whiteoutAttacks()...)
	attacks = append(attacks, deviceAttacks()...)
	// Each attack is tried with entries created one at a time and with
	// Apply's workers (symlinks planted by a worker, files written by one).
	for _, at := range attacks {
		for _, workers := range []int{1, 0} {
			t.Run(fmt.Sprintf("%s/workers=%d", at.name, workers), func(t *testing.T) {
				runAttack(t, at, workers)
			})
		}
	}
}

func runAttack(t *testing.T, at attack, workers int) {
	if at.root {
		testutil.RequireRoot(t)
	}
	a := newArena(t)
	opts := plain
	if at.overlay {
		opts = ApplyOptions{Whiteouts: OverlayWhiteouts}
	}
	opts.Workers = workers
	layers := at.layers(a)
	var err error
	for i, l := range layers {
		err = applyTar(t, a.root, mkTar(t, l...), opts)
		if err != nil && i < len(layers)-1 {
			t.Fatalf("layer %d: %v", i, err)
		}
	}
	switch {
	case at.want == mustSucceed && err != nil:
		t.Fatalf("Apply: %v", err)
	case at.want == mustFail && err == nil:
		t.Fatal("Apply succeeded; want an error")
	}
	t.Logf("Apply: %v", err)
	a.check(t)
	if at.check != nil && err == nil {
		at.check(t, a)
	}
}

// wantContent fails unless the file rel in root holds content.
func wantContent(t *testing.T, a *arena, rel, content string) {
	t.Helper()
	fi, err := os.Lstat(filepath.Join(a.root, rel))
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("%s in root: %v %v; want a regular file", rel, fi, err)
	}
	b, _ := os.ReadFile(filepath.Join(a.root, rel))
	if string(b) != content {
		t.Errorf("%s in root holds %q, want %q", rel, b, content)
	}
}

func pathAttacks(hostName string) []attack {
	return []attack{
		{name: "dotdot", layers: func(a *arena) [][]ent {
			return [][]ent{{fileE(a.rel(filepath.Join(a.outside, "secret")), "pwned", 0o644)}}
		}, check: func(t *testing.T, a *arena) { wantContent(t, a, "outside/secret", "pwned") }},
		{name: "deep-dotdot", layers: func(a *arena) [][]ent {
			return [][]ent{{fileE(strings.Repeat("../", 40)+a.outside+"/secret", "pwned", 0o644)}}
		}, check: func(t *testing.T, a *arena) { wantContent(t, a, a.outside[1:]+"/secret", "pwned") }},
		{name: "absolute", layers: func(a *arena) [][]ent {
			return [][]ent{{fileE(a.outside+"/secret", "pwned", 0o644)}}
		}, check: func(t *testing.T, a *arena) { wantContent(t, a, a.outside[1:]+"/secret", "pwned") }},
		{name: "host-etc-dotdot", layers: func(a *arena) [][]ent {
			return [][]ent{{fileE("../../etc/"+hostName, "pwned", 0o644)}}
		}, check: func(t *testing.T, a *arena) { wantContent(t, a, "etc/"+hostName, "pwned") }},
		{name: "host-etc-absolute", layers: func(a *arena) [][]ent {
			return [][]ent{{fileE("/etc/"+hostName, "pwned", 0o644)}}
		}, check: func(t *testing.T, a *arena) { wantContent(t, a, "etc/"+hostName, "pwned") }},
		{name: "dotdot-after-symlink", layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("d", "/"), fileE("d/../../../outside/secret", "pwned", 0o644)}}
		}, check: func(t *testing.T, a *arena) { wantContent(t, a, "outside/secret", "pwned") }},
		{name: "root-entries-ignored", layers: func(a *arena) [][]ent {
			return [][]ent{{dirE("./", 0o777), dirE("/", 0o777), dirE("..", 0o777), dirE("../..", 0o777)}}
		}, check: func(t *testing.T, a *arena) {
			if fi, _ := os.Stat(a.root); fi.Mode().Perm() != 0o755 {
				t.Errorf("root mode %v", fi.Mode())
			}
		}},
	}
}

func symlinkAttacks() []attack {
	return []attack{
		{name: "symlink-to-slash-then-file", layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("s", "/"), fileE("s/secret", "pwned", 0o644)}}
		}, check: func(t *testing.T, a *arena) { wantContent(t, a, "secret", "pwned") }},
		{name: "symlink-dotdot-then-file", layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("up", "../../../.."), fileE("up/secret", "pwned", 0o644)}}
		}, check: func(t *testing.T, a *arena) { wantContent(t, a, "secret", "pwned") }},
		{name: "symlink-to-sentinel-then-file", want: mayFail, layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("s", a.outside), fileE("s/secret", "pwned", 0o644)}}
		}},
		{name: "symlink-relative-to-sentinel-then-file", want: mayFail, layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("s", "../outside"), fileE("s/secret", "pwned", 0o644)}}
		}},
		{name: "symlink-relative-with-dir-inside", layers: func(a *arena) [][]ent {
			return [][]ent{{dirE("outside", 0o755), symlinkE("s", "../outside"), fileE("s/secret", "pwned", 0o644)}}
		}, check: func(t *testing.T, a *arena) { wantContent(t, a, "outside/secret", "pwned") }},
		{name: "planted-symlink-earlier-layer", want: mayFail, layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("lnk", a.outside)}, {fileE("lnk/secret", "pwned", 0o644)}}
		}},
		{name: "planted-symlink-earlier-layer-dir", want: mayFail, layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("lnk", "../outside")}, {dirE("lnk/etc", 0o777), fileE("lnk/etc/passwd", "x", 0o644)}}
		}},
		{name: "planted-symlink-chain", want: mayFail, layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("a", "b"), symlinkE("b", "../../outside/etc")},
				{fileE("a/passwd", "pwned", 0o644)}}
		}},
		{name: "symlink-loop", want: mustFail, layers: func(*arena) [][]ent {
			return [][]ent{{symlinkE("a", "b"), symlinkE("b", "a"), fileE("a/x", "x", 0o644)}}
		}},
		{name: "symlink-in-parent-of-dir", want: mayFail, layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("p", a.outside)}, {dirE("p/new", 0o755), dirE("p/etc", 0o700)}}
		}},
	}
}

func hardlinkAttacks() []attack {
	nlink := func(t *testing.T, a *arena) {
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(a.outside, "secret"), &st); err != nil || st.Nlink != 1 {
			t.Errorf("sentinel secret has %d links (%v)", st.Nlink, err)
		}
	}
	return []attack{
		{name: "hardlink-dotdot", want: mustFail, layers: func(a *arena) [][]ent {
			return [][]ent{{linkE("h", "../outside/secret")}}
		}},
		{name: "hardlink-absolute", want: mustFail, layers: func(a *arena) [][]ent {
			return [][]ent{{linkE("h", a.outside+"/secret")}}
		}},
		{name: "hardlink-via-symlink", want: mustFail, layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("s", a.outside), linkE("h", "s/secret")}}
		}},
		{name: "hardlink-via-planted-symlink", want: mustFail, layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("s", "../outside")}, {linkE("h", "s/secret")}}
		}},
		{name: "hardlink-to-symlink-out-then-file", layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("s", a.outside+"/secret"), linkE("h", "s"), fileE("h", "pwned", 0o644)}}
		}, check: func(t *testing.T, a *arena) {
			wantContent(t, a, "h", "pwned")
			if l, err := os.Readlink(filepath.Join(a.root, "s")); err != nil || l != a.outside+"/secret" {
				t.Errorf("symlink s: %q %v", l, err)
			}
			nlink(t, a)
		}},
		{name: "hardlink-contained", layers: func(a *arena) [][]ent {
			return [][]ent{{dirE("outside", 0o755), fileE("outside/secret", "inner", 0o600), linkE("h", "../outside/secret")}}
		}, check: func(t *testing.T, a *arena) { wantContent(t, a, "h", "inner"); nlink(t, a) }},
		{name: "hardlink-to-dir", want: mustFail, layers: func(*arena) [][]ent {
			return [][]ent{{dirE("d", 0o755), linkE("h", "d")}}
		}},
	}
}

func replaceAttacks() []attack {
	return []attack{
		{name: "file-over-symlink", layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("f", a.outside+"/target"), fileE("f", "pwned", 0o644)}}
		}, check: func(t *testing.T, a *arena) { wantContent(t, a, "f", "pwned") }},
		{name: "file-over-planted-symlink", layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("f", a.rel(a.outside)+"/target")}, {fileE("f", "pwned", 0o4755)}}
		}, check: func(t *testing.T, a *arena) { wantContent(t, a, "f", "pwned") }},
		{name: "dir-over-symlink", layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("d", a.outside), dirE("d", 0o700)}}
		}, check: func(t *testing.T, a *arena) {
			if fi, err := os.Lstat(filepath.Join(a.root, "d")); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
				t.Errorf("d: %v %v", fi, err)
			}
		}},
		{name: "symlink-over-symlink", layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("l", a.outside)}, {symlinkE("l", "/etc/passwd")}}
		}},
		{name: "fifo-over-symlink", layers: func(a *arena) [][]ent {
			fifo := ent{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "p", Mode: 0o600, ModTime: testTime}}
			return [][]ent{{symlinkE("p", a.outside+"/target")}, {fifo}}
		}},
		{name: "hardlink-over-symlink", layers: func(a *arena) [][]ent {
			return [][]ent{{fileE("real", "inner", 0o644), symlinkE("l", a.outside+"/target")}, {linkE("l", "real")}}
		}, check: func(t *testing.T, a *arena) { wantContent(t, a, "l", "inner") }},
		{name: "chmod-through-symlink", layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("outside", a.outside)}, {dirE("outside", 0o777)}}
		}},
	}
}

func whiteoutAttacks() []attack {
	gone := func(rel string) func(t *testing.T, a *arena) {
		return func(t *testing.T, a *arena) {
			if _, err := os.Lstat(filepath.Join(a.root, rel)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s still in root: %v", rel, err)
			}
		}
	}
	return []attack{
		{name: "whiteout-dotdot", layers: func(a *arena) [][]ent {
			return [][]ent{{dirE("outside", 0o755)}, {fileE("../.wh.outside", "", 0)}}
		}, check: gone("outside")},
		{name: "whiteout-dotdot-file", layers: func(a *arena) [][]ent {
			return [][]ent{{fileE("../outside/.wh.secret", "", 0), fileE(a.rel(a.outside)+"/.wh.etc", "", 0)}}
		}},
		{name: "whiteout-absolute", layers: func(a *arena) [][]ent {
			return [][]ent{{fileE(a.outside+"/.wh.secret", "", 0)}}
		}},
		{name: "whiteout-via-planted-symlink", layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("s", a.outside), symlinkE("r", "../outside")},
				{fileE("s/.wh.secret", "", 0), fileE("r/.wh.etc", "", 0)}}
		}},
		{name: "whiteout-of-symlink-removes-link-only", layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("s", a.outside+"/secret"), symlinkE("d", a.outside)}, {fileE(".wh.s", "", 0), fileE(".wh.d", "", 0)}}
		}, check: gone("s")},
		{name: "opaque-via-planted-symlink", layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("s", a.outside), symlinkE("r", "../outside")},
				{fileE("s/.wh..wh..opq", "", 0), fileE("r/.wh..wh..opq", "", 0)}}
		}},
		{name: "opaque-dotdot", layers: func(a *arena) [][]ent {
			return [][]ent{{fileE("keep", "k", 0o644)}, {fileE("../.wh..wh..opq", "", 0)}}
		}, check: gone("keep")},
		{name: "whiteout-invalid-name", want: mustFail, layers: func(*arena) [][]ent {
			return [][]ent{{fileE(".wh.", "", 0)}}
		}},
		{name: "overlay-whiteout-dotdot", root: true, overlay: true, layers: func(a *arena) [][]ent {
			return [][]ent{{fileE("../.wh.secret", "", 0), fileE("../outside/.wh.etc", "", 0)}}
		}},
		{name: "overlay-whiteout-via-planted-symlink", root: true, overlay: true, want: mayFail,
			layers: func(a *arena) [][]ent {
				return [][]ent{{symlinkE("s", a.outside)}, {fileE("s/.wh.secret", "", 0)}}
			}},
		{name: "overlay-opaque-via-symlink", root: true, overlay: true, want: mayFail,
			layers: func(a *arena) [][]ent {
				return [][]ent{{symlinkE("s", a.outside), fileE("s/.wh..wh..opq", "", 0)}}
			}},
	}
}

func deviceAttacks() []attack {
	return []attack{
		{name: "device-contained", root: true, layers: func(a *arena) [][]ent {
			return [][]ent{{charE("dev/null", 1, 3), charE("../outside/null", 1, 3), charE(a.outside+"/zero", 1, 5)}}
		}, check: func(t *testing.T, a *arena) {
			var st unix.Stat_t
			if err := unix.Lstat(filepath.Join(a.root, "dev/null"), &st); err != nil ||
				st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
				t.Errorf("dev/null: mode %o rdev %x: %v", st.Mode, st.Rdev, err)
			}
			if _, err := os.Lstat(filepath.Join(a.root, "outside/null")); err != nil {
				t.Error(err)
			}
		}},
		{name: "device-via-symlink", root: true, want: mayFail, layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("s", a.outside)}, {charE("s/null", 1, 3)}}
		}},
		{name: "device-over-symlink", root: true, layers: func(a *arena) [][]ent {
			return [][]ent{{symlinkE("d", a.outside+"/secret")}, {charE("d", 1, 3)}}
		}},
	}
}

// rawHeader returns a tar header block for name with typeflag and size
// (at most 8 GiB - 1), its checksum fixed: what tar.Writer refuses to
// write.
func rawHeader(name string, typeflag byte, size int64) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Format: tar.FormatGNU})
	block := buf.Bytes()[:tarBlock]
	block[156] = typeflag
	copy(block[124:136], fmt.Sprintf("%011o\x00", size))
	copy(block[148:156], "        ")
	sum := 0
	for _, c := range block {
		sum += int(c)
	}
	copy(block[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return block
}

// TestBombs feeds headers that announce absurd sizes: Apply must fail
// without allocating or writing what they announce.
func TestBombs(t *testing.T) {
	cases := []struct {
		name string
		data []byte
	}{
		{"huge-file", append(rawHeader("big", tar.TypeReg, 8<<30-1), make([]byte, 1024)...)},
		{"huge-pax", append(rawHeader("pax", tar.TypeXHeader, 1<<33-1), make([]byte, 4096)...)},
		{"huge-longname", append(rawHeader("././@LongLink", tar.TypeGNULongName, 1<<33-1), bytes.Repeat([]byte("a"), 4096)...)},
		{"sparse", append(append(rawHeader("sparse", tar.TypeGNUSparse, 512), make([]byte, 512)...), make([]byte, 1024)...)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newArena(t)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Apply(context.Background(), a.root, bytes.NewReader(c.data), plain)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("Apply succeeded")
			}
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("error %v is not InvalidArgument", err)
			}
			if d := after.TotalAlloc - before.TotalAlloc; d > 32<<20 {
				t.Errorf("Apply allocated %d MiB", d>>20)
			}
			for p, s := range tree(t, a.root) {
				if s.Size > 4096 {
					t.Errorf("%s: %d bytes written", p, s.Size)
				}
			}
			t.Logf("Apply: %v", err)
		})
	}
}

// TestTruncated cuts a tar at several places: every cut is an error.
func TestTruncated(t *testing.T) {
	data := mkTar(t, dirE("d/", 0o755), fileE("d/f", strings.Repeat("x", 10000), 0o644), fileE("g", "y", 0o644))
	cuts := map[string]int{
		"mid-header":      100,
		"mid-data":        512*2 + 5000,
		"after-data":      len(data) - 1024 - 512, // before g's header... see below
		"no-trailer":      len(data) - 1024,
		"half-trailer":    len(data) - 512,
		"mid-last-header": len(data) - 1024 - 1024 + 10,
	}
	for name, n := range cuts {
		t.Run(name, func(t *testing.T) {
			a := newArena(t)
			_, err := Apply(context.Background(), a.root, bytes.NewReader(data[:n]), plain)
			if err == nil {
				t.Fatalf("Apply of %d of %d bytes succeeded", n, len(data))
			}
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("error %v is not InvalidArgument", err)
			}
		})
	}
}

// TestUnterminated: with Unterminated, a tar without its end-of-archive
// marker applies whole, but a cut inside an entry is still an error.
func TestUnterminated(t *testing.T) {
	data := mkTar(t, dirE("d/", 0o755), fileE("d/f", strings.Repeat("x", 10000), 0o644), fileE("g", "y", 0o644))
	opts := plain
	opts.Unterminated = true
	a := newArena(t)
	if _, err := Apply(context.Background(), a.root, bytes.NewReader(data[:len(data)-1024]), opts); err != nil {
		t.Fatalf("Apply without the trailer: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(a.root, "g")); err != nil || string(b) != "y" {
		t.Errorf("g: %q, %v", b, err)
	}
	a = newArena(t)
	if _, err := Apply(context.Background(), a.root, bytes.NewReader(data[:512*2+5000]), opts); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Apply cut mid-data: %v, want InvalidArgument", err)
	}
}
