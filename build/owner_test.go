package build

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWithDefaultPath(t *testing.T) {
	if got := withDefaultPath([]string{"A=1"}); !slices.Equal(got, []string{"A=1", defaultPath}) {
		t.Errorf("no PATH: %q", got)
	}
	if got := withDefaultPath([]string{"PATH=/x", "A=1"}); !slices.Equal(got, []string{"PATH=/x", "A=1"}) {
		t.Errorf("with PATH: %q", got)
	}
}

// TestMissingDirs: the parts of a path a root lacks, top first; a symlink
// counts as present (it is resolved inside the root, not replaced).
func TestMissingDirs(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/a", filepath.Join(root, "l")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		root, dir string
		want      []string
	}{
		{root, "/a/b", nil},
		{root, "/a/b/c/d", []string{"/a/b/c", "/a/b/c/d"}},
		{root, "/x", []string{"/x"}},
		{root, "/l", nil},
		{"", "/a/b", []string{"/a", "/a/b"}},
		{root, "/", nil},
	} {
		if got := missingDirs(c.root, c.dir); !slices.Equal(got, c.want) {
			t.Errorf("missingDirs(%q, %s) = %q, want %q", c.root, c.dir, got, c.want)
		}
	}
}
