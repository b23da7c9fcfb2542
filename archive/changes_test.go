package archive

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corral-dev/corral/testutil"
)

// changedContainer makes two lower layers and an upper dir changed through
// a real overlay mount, as a container's would be; it returns the upper
// dir and the lowers, topmost first.
func changedContainer(t *testing.T) (string, []string) {
	t.Helper()
	bottom, top, upper := t.TempDir(), t.TempDir(), t.TempDir()
	mustApply(t, bottom, mkTar(t, dirE("etc", 0o755), fileE("etc/a", "a", 0o644), fileE("etc/b", "b", 0o644),
		dirE("opq", 0o755), fileE("opq/old", "o", 0o644), dirE("opq/sub", 0o755), fileE("opq/sub/x", "x", 0o644),
		fileE("tofile", "f", 0o644), dirE("keep", 0o755), fileE("keep/x", "x", 0o644), dirE("tmp", 0o1777),
		dirE("hidden", 0o755), fileE("hidden/x", "x", 0o644)), ApplyOptions{})
	mustApply(t, top, mkTar(t, fileE("etc/.wh.b", "", 0), fileE("etc/c", "c", 0o644), fileE(".wh.hidden", "", 0)),
		ApplyOptions{Parents: []string{bottom}})
	merged := mountOverlay(t, upper, top, bottom)
	at := func(p string) string { return filepath.Join(merged, p) }
	steps := []error{
		os.WriteFile(at("etc/a"), []byte("changed"), 0o644),
		os.Remove(at("etc/c")),
		os.Mkdir(at("new"), 0o755),
		os.WriteFile(at("new/f"), []byte("f"), 0o644),
		os.RemoveAll(at("opq")),
		os.Mkdir(at("opq"), 0o755),
		os.WriteFile(at("opq/new"), []byte("n"), 0o644),
		os.Remove(at("tofile")),
		os.Mkdir(at("tofile"), 0o755),
		os.Chmod(at("keep"), 0o700),
		os.Symlink("/etc", at("newlink")),
		os.WriteFile(at("tmp/scratch"), nil, 0o644),
		os.Remove(at("tmp/scratch")),
		os.Mkdir(at("hidden"), 0o755), // deleted below: it is new here
		// What a runtime makes for its mounts.
		os.WriteFile(at("etc/hosts"), nil, 0o644),
		os.Mkdir(at("proc"), 0o555),
		os.MkdirAll(at("mnt/x"), 0o755),
		os.WriteFile(at("mnt/x/hostname"), nil, 0o644),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	return upper, []string{top, bottom}
}

func TestChanges(t *testing.T) {
	testutil.RequireRoot(t)
	upper, lowers := changedContainer(t)
	left, err := Leftovers(upper, lowers, []string{"/etc/hosts", "/proc", "/dev", "/mnt/x/hostname", "/etc/a"})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(left); got != "map[/etc/hosts:true /mnt:true /mnt/x:true /mnt/x/hostname:true /proc:true]" {
		t.Errorf("Leftovers = %s", got)
	}
	changes, err := Changes(context.Background(), upper, lowers, func(p string) bool { return left[p] })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"C /etc", "C /etc/a", "D /etc/c", "A /hidden", "C /keep", "A /new", "A /new/f", "A /newlink",
		"C /opq", "A /opq/new", "D /opq/old", "D /opq/sub", "C /tofile"}
	if got := changeLines(changes); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Changes:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Without skipping, the mount points are additions.
	all, err := Changes(context.Background(), upper, lowers, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(changeLines(all), " "); !strings.Contains(got, "A /etc/hosts") || !strings.Contains(got, "A /mnt/x/hostname") {
		t.Errorf("Changes without skip: %s", got)
	}
}

func changeLines(cs []Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s %s", "CAD"[c.Kind:c.Kind+1], c.Path))
	}
	return out
}

// TestChangesNothing is an upper dir nothing was written to.
func TestChangesNothing(t *testing.T) {
	lower := t.TempDir()
	mustMkdir(t, filepath.Join(lower, "etc"))
	changes, err := Changes(context.Background(), t.TempDir(), []string{lower}, nil)
	if err != nil || len(changes) != 0 {
		t.Errorf("Changes of an empty upper dir = %v, %v", changes, err)
	}
}
