package archive

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corral-dev/corral/testutil"
)

// cpArena is an arena whose root is a container root filesystem with
// symlinks planted by the container, of every kind that could lead out:
// absolute to the root and to host paths, climbing with "..".
func cpArena(t *testing.T) *arena {
	t.Helper()
	a := newArena(t)
	mustMkdir(t, filepath.Join(a.root, "etc"))
	mustMkdir(t, filepath.Join(a.root, "d"))
	mustWrite(t, filepath.Join(a.root, "etc/passwd"), "container passwd")
	for link, target := range map[string]string{
		"rootlink": "/",
		"up":       strings.Repeat("../", 8),
		"hostabs":  filepath.Join(a.outside, "secret"),
		"hostdir":  a.outside,
		"rel":      filepath.Join(a.rel(a.outside), "secret"),
		"reldir":   a.rel(a.outside),
		"d/s":      "/",
		"d/t":      filepath.Join("..", a.rel(a.outside)),
		"d/u":      filepath.Join(a.outside, "etc/passwd"),
	} {
		if err := os.Symlink(target, filepath.Join(a.root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// TestCopyOutAttacks asks for paths through the planted symlinks: what is
// read must come from the root, never from the sentinel beside it.
func TestCopyOutAttacks(t *testing.T) {
	a := cpArena(t)
	read := []string{"/rootlink/etc/passwd", "/up/etc/passwd", "/rootlink/", "/up/.", "/d", "/d/s/etc/passwd",
		"/hostabs", "/rel", "/hostdir", "/reldir", "/d/u"}
	for _, p := range read {
		_, bodies, _ := archiveNames(t, a.root, p)
		for name, body := range bodies {
			if strings.Contains(body, "sentinel") {
				t.Errorf("ArchivePath(%q) read %s outside the root: %q", p, name, body)
			}
			if strings.HasSuffix(name, "passwd") && body != "container passwd" {
				t.Errorf("ArchivePath(%q): %s = %q", p, name, body)
			}
		}
	}
	gone := []string{"/hostabs/", "/rel/", "/hostdir/", "/hostdir/secret", "/reldir/secret", "/d/t/secret",
		"/d/u/", "/../../../" + a.rel(a.outside) + "/secret", "/up/" + a.rel(a.outside) + "/secret"}
	for _, p := range gone {
		if _, _, err := ArchivePath(context.Background(), a.root, p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ArchivePath(%q) = %v, want not found (inside the root)", p, err)
		}
		if _, err := StatPath(a.root, p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("StatPath(%q) = %v, want not found", p, err)
		}
	}
	// A link target is a path inside the root, and so is what it resolves to.
	for _, p := range []string{"/hostabs", "/rel", "/d/t", "/d/u"} {
		st, err := StatPath(a.root, p)
		if err != nil {
			t.Fatalf("StatPath(%q): %v", p, err)
		}
		if _, _, err := ArchivePath(context.Background(), a.root, st.LinkTarget); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ArchivePath of %s's target %q = %v, want not found", p, st.LinkTarget, err)
		}
	}
	if st, _ := StatPath(a.root, "/rel"); st.LinkTarget != "/"+a.rel(a.outside)[len("../"):]+"/secret" {
		t.Errorf("LinkTarget of a climbing link = %q", st.LinkTarget)
	}
}

// TestCopyInAttacks extracts tars through the planted symlinks and with
// entries of their own that try to climb out: nothing may change beside
// the root (the arena checks), whether Extract succeeds or refuses.
func TestCopyInAttacks(t *testing.T) {
	testutil.RequireRoot(t)
	out := func(a *arena) string { return a.rel(a.outside) }
	tests := []struct {
		name string
		dir  string
		tar  func(a *arena) []ent
		fail bool
		// inside, if set, is a file of the root the tar must have written
		// and what it holds.
		inside, body string
	}{
		{"dest through absolute host link", "/hostdir", func(*arena) []ent { return []ent{fileE("secret", "pwned", 0o644)} }, true, "", ""},
		{"dest through climbing link", "/reldir", func(*arena) []ent { return []ent{fileE("secret", "pwned", 0o644)} }, true, "", ""},
		{"dest through nested link", "/d/t", func(*arena) []ent { return []ent{fileE("secret", "pwned", 0o644)} }, true, "", ""},
		{"dest through root link", "/rootlink/etc", func(*arena) []ent { return []ent{fileE("passwd", "pwned", 0o644)} }, false, "etc/passwd", "pwned"},
		{"climbing entry", "/", func(a *arena) []ent { return []ent{fileE(out(a)+"/secret", "pwned", 0o644)} }, true, "", ""},
		{"absolute climbing entry", "/d", func(a *arena) []ent { return []ent{fileE("/../../"+out(a)+"/secret", "x", 0o644)} }, true, "", ""},
		{"entry through planted host link", "/", func(*arena) []ent { return []ent{fileE("hostdir/secret", "pwned", 0o644)} }, true, "", ""},
		{"entry through planted climbing link", "/", func(*arena) []ent { return []ent{fileE("reldir/secret", "pwned", 0o644)} }, true, "", ""},
		{"file over a link to a host file", "/", func(*arena) []ent { return []ent{fileE("hostabs", "mine", 0o644)} }, false, "hostabs", "mine"},
		{"dir over a link to a host dir", "/", func(*arena) []ent { return []ent{dirE("hostdir", 0o777), fileE("hostdir/secret", "x", 0o644)} }, false, "hostdir/secret", "x"},
		{"own link then through it", "/d", func(a *arena) []ent {
			return []ent{symlinkE("l", "../"+out(a)), fileE("l/secret", "pwned", 0o644)}
		}, true, "", ""},
		{"own absolute link then through it", "/d", func(a *arena) []ent {
			return []ent{symlinkE("l", a.outside), fileE("l/secret", "pwned", 0o644)}
		}, true, "", ""},
		{"own root link then through it", "/d", func(*arena) []ent {
			return []ent{symlinkE("l", "/"), fileE("l/etc/passwd", "replaced inside", 0o644)}
		}, false, "etc/passwd", "replaced inside"},
		{"hardlink climbing", "/d", func(a *arena) []ent { return []ent{linkE("h", "../"+out(a)+"/secret")} }, true, "", ""},
		{"hardlink through a host link", "/", func(*arena) []ent { return []ent{linkE("h", "hostdir/secret")} }, true, "", ""},
		{"hardlink to a host link", "/", func(*arena) []ent { return []ent{linkE("h", "hostabs"), fileE("h", "x", 0o644)} }, false, "h", "x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := cpArena(t)
			data := mkTar(t, tc.tar(a)...)
			err := Extract(context.Background(), a.root, tc.dir, bytes.NewReader(data), ExtractOptions{})
			if tc.fail != (err != nil) {
				t.Errorf("Extract: %v (want failure: %v)", err, tc.fail)
			}
			if tc.inside != "" {
				p := filepath.Join(a.root, tc.inside)
				if b, err := os.ReadFile(p); err != nil || string(b) != tc.body {
					t.Errorf("%s = %q, %v; want %q", tc.inside, b, err, tc.body)
				}
				if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
					t.Errorf("%s is not a regular file of the root: %v", tc.inside, err)
				}
			}
		})
	}
}

// TestCopyToHostAttacks gives CopyTo, the client's extraction of what a
// daemon sent, a hostile tar: it must stay in the destination directory.
func TestCopyToHostAttacks(t *testing.T) {
	tests := []struct {
		name string
		tar  func(a *arena) []ent
	}{
		{"climbing", func(a *arena) []ent { return []ent{fileE("../outside/secret", "pwned", 0o644)} }},
		{"absolute link", func(a *arena) []ent {
			return []ent{dirE("x", 0o755), symlinkE("x/l", a.outside), fileE("x/l/secret", "pwned", 0o644)}
		}},
		{"root link", func(a *arena) []ent {
			return []ent{dirE("x", 0o755), symlinkE("x/l", "/"), fileE("x/l/../outside/secret", "pwned", 0o644)}
		}},
		{"climbing link", func(a *arena) []ent {
			return []ent{dirE("x", 0o755), symlinkE("x/l", "../../outside"), fileE("x/l/secret", "pwned", 0o644)}
		}},
		{"hardlink out", func(a *arena) []ent { return []ent{linkE("x", "../outside/secret")} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newArena(t)
			data := mkTar(t, tc.tar(a)...)
			_ = CopyTo(context.Background(), bytes.NewReader(data), CopyInfo{Path: "/x", Exists: true, IsDir: true}, a.root)
		})
	}
}
