package build

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/patternmatcher"
)

// tree writes files (name → content; "->target" makes a symlink) into a
// new dir.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, c := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(c, "->"); ok {
			err = os.Symlink(target, p)
		} else {
			err = os.WriteFile(p, []byte(c), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func ignoring(t *testing.T, dir string, pats ...string) *source {
	t.Helper()
	pm, err := patternmatcher.New(pats)
	if err != nil {
		t.Fatal(err)
	}
	return &source{dir: dir, ignore: pm, what: "build context"}
}

func TestDockerignoreRules(t *testing.T) {
	dir := tree(t, map[string]string{"a.log": "", "keep.log": "", "sub/b.log": "", "sub/c.txt": "",
		"node_modules/x/y": "", "docs/readme.md": "", "docs/other.md": ""})
	s := ignoring(t, dir, "*.log", "**/*.log", "!keep.log", "node_modules", "docs", "!docs/readme.md")
	for p, want := range map[string]bool{"a.log": true, "keep.log": false, "sub/b.log": true, "sub/c.txt": false,
		"node_modules/x/y": true, "docs/other.md": true, "docs/readme.md": false, "Dockerfile": false} {
		if got := s.excluded(p); got != want {
			t.Errorf("excluded(%q) = %v, want %v", p, got, want)
		}
	}
	got, err := s.match("*.log")
	if err != nil || !slices.Equal(got, []string{"keep.log"}) {
		t.Errorf("match(*.log) = %v, %v", got, err)
	}
	if _, err := s.match("a.log"); err == nil || !strings.Contains(err.Error(), "excluded by .dockerignore: a.log") {
		t.Errorf("an excluded file was matched: %v", err)
	}
}

// TestSourceEscapes is the attack: paths and symlinks that climb out of
// the context must not reach the host's files.
func TestSourceEscapes(t *testing.T) {
	outside := tree(t, map[string]string{"secret": "host secret"})
	dir := tree(t, map[string]string{"in": "ok", "abs": "->" + filepath.Join(outside, "secret"),
		"rel": "->../../../../../../" + filepath.Join(outside, "secret"), "d/up": "->../.."})
	s := &source{dir: dir, what: "build context"}
	for _, p := range []string{"../x", "..", "a/../../x", "./../x"} {
		if _, err := s.match(p); err == nil || !strings.Contains(err.Error(), "forbidden path outside the build context") {
			t.Errorf("match(%q): %v", p, err)
		}
	}
	for _, p := range []string{"abs", "rel", "d/up/secret"} {
		spec := &copySpec{src: s, srcs: []string{p}, dest: "/x", dirDest: true}
		m, err := s.match(p)
		if err == nil {
			spec.srcs = m
			var sb strings.Builder
			werr := spec.writeTar(&sb)
			if werr == nil && strings.Contains(sb.String(), "host secret") {
				t.Errorf("COPY %s copied the host's file", p)
			}
		}
	}
	// A symlink inside a copied directory is copied as a link, not followed.
	spec := &copySpec{src: s, srcs: []string{"."}, dest: "/x", dirDest: true}
	var sb strings.Builder
	if err := spec.writeTar(&sb); err != nil || strings.Contains(sb.String(), "host secret") {
		t.Errorf("COPY . followed a link out: %v", err)
	}
}

func TestCopyDigest(t *testing.T) {
	dir := tree(t, map[string]string{"d/a": "A", "d/b": "B"})
	s := &source{dir: dir, what: "build context"}
	digest := func() string {
		spec := &copySpec{src: s, srcs: []string{"d"}, dest: "/app", dirDest: true}
		d, err := spec.sourceDigest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	first := digest()
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "d/a"), old, old); err != nil {
		t.Fatal(err)
	}
	if digest() != first {
		t.Error("a touched file changed the digest")
	}
	if err := os.WriteFile(filepath.Join(dir, "d/a"), []byte("A2"), 0o644); err != nil {
		t.Fatal(err)
	}
	changed := digest()
	if changed == first {
		t.Error("changed content kept the digest")
	}
	if err := os.Chmod(filepath.Join(dir, "d/a"), 0o600); err != nil {
		t.Fatal(err)
	}
	if digest() == changed {
		t.Error("a changed mode kept the digest")
	}
}

func TestCacheKey(t *testing.T) {
	base := &state{id: "sha256:p", args: map[string]string{"A": "1"}}
	k := cacheKey(base, "RUN x", "")
	for name, other := range map[string]string{
		"parent":  cacheKey(&state{id: "sha256:q", args: base.args}, "RUN x", ""),
		"text":    cacheKey(base, "RUN y", ""),
		"arg":     cacheKey(&state{id: "sha256:p", args: map[string]string{"A": "2"}}, "RUN x", ""),
		"content": cacheKey(base, "RUN x", "sha256:c"),
	} {
		if other == k {
			t.Errorf("a different %s gave the same key", name)
		}
	}
	proxy := &state{id: "sha256:p", args: map[string]string{"A": "1", "HTTP_PROXY": "http://p"}}
	if cacheKey(proxy, "RUN x", "") != k {
		t.Error("a proxy arg changed the key")
	}
	if cacheKey(&state{id: "sha256:p", args: map[string]string{"A": "1"}}, "RUN x", "") != k {
		t.Error("the key is not stable")
	}
}

func TestLookupOwner(t *testing.T) {
	root := tree(t, map[string]string{"etc/passwd": "root:x:0:0::/:/bin/sh\napp:x:1001:1002::/:/bin/sh\n",
		"etc/group": "root:x:0:\nstaff:x:50:\n"})
	for chown, want := range map[string][2]int{"": {0, 0}, "7": {7, 7}, "7:8": {7, 8}, "app": {1001, 1002},
		"app:staff": {1001, 50}, "1001:staff": {1001, 50}} {
		c := &copySpec{}
		if err := c.setOwner(chown, root); err != nil || c.uid != want[0] || c.gid != want[1] {
			t.Errorf("--chown=%s: %d:%d, %v; want %v", chown, c.uid, c.gid, err, want)
		}
	}
	for _, bad := range []string{"nobody", "app:nogroup", "-1"} {
		if err := (&copySpec{}).setOwner(bad, root); err == nil {
			t.Errorf("--chown=%s was accepted", bad)
		}
	}
	if err := (&copySpec{}).setOwner("app", ""); err == nil {
		t.Error("a name was looked up without a passwd file")
	}
}
