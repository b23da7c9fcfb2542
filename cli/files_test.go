package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creack/pty"
)

func TestDiff(t *testing.T) {
	e := newFilesEngine(t)
	out, errOut, code := runFiles(t, e, nil, nil, "", "diff", "web")
	if code != 0 || errOut != "" || out != "C /etc\nA /etc/x\nD /y\n" {
		t.Errorf("diff: exit %d, out %q, err %q", code, out, errOut)
	}
	_, errOut, code = runFiles(t, e, nil, nil, "", "container", "diff", "nope")
	if code != 1 || errOut != "Error response from daemon: No such container: nope\n" {
		t.Errorf("diff of a missing container: exit %d, err %q", code, errOut)
	}
	_, errOut, code = runFiles(t, e, nil, nil, "", "diff", "")
	if code != 1 || errOut != "Container name cannot be empty\n" {
		t.Errorf("diff without a name: exit %d, err %q", code, errOut)
	}
}

func TestExport(t *testing.T) {
	e := newFilesEngine(t)
	out, errOut, code := runFiles(t, e, nil, nil, "", "export", "web")
	if code != 0 || errOut != "" || out != "ROOTFS TAR" {
		t.Errorf("export to stdout: exit %d, out %q, err %q", code, out, errOut)
	}
	dir := t.TempDir()
	_, errOut, code = runFiles(t, e, nil, nil, dir, "container", "export", "-o", "rootfs.tar", "web")
	b, err := os.ReadFile(filepath.Join(dir, "rootfs.tar"))
	if code != 0 || errOut != "" || err != nil || string(b) != "ROOTFS TAR" {
		t.Errorf("export -o: exit %d, err %q, file %q %v", code, errOut, b, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "rootfs.tar")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("export -o made %v, %v", fi.Mode(), err)
	}
	// A failed export leaves no file behind.
	_, errOut, code = runFiles(t, e, nil, nil, dir, "export", "-o", "gone.tar", "nope")
	if _, err := os.Stat(filepath.Join(dir, "gone.tar")); code != 1 || !os.IsNotExist(err) {
		t.Errorf("failed export: exit %d, err %q, file %v", code, errOut, err)
	}
	_, errOut, code = runFiles(t, e, nil, nil, dir, "export", "-o", "/nonexistent/dir/x.tar", "web")
	if code != 1 || !strings.HasPrefix(errOut, "failed to export container: ") {
		t.Errorf("export -o into a missing dir: exit %d, err %q", code, errOut)
	}
}

func TestExportRefusesTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	e := newFilesEngine(t)
	_, errOut, code := runFiles(t, e, nil, tty, "", "export", "web")
	if code != 1 || errOut != "cowardly refusing to save to a terminal. Use the -o flag or redirect\n" {
		t.Errorf("export to a terminal: exit %d, err %q", code, errOut)
	}
	if e.lastCall() != "" {
		t.Errorf("the engine was called: %s", e.lastCall())
	}
}

func TestCommit(t *testing.T) {
	e := newFilesEngine(t)
	id := "sha256:" + strings.Repeat("ab", 32) + "\n"
	tests := []struct {
		args []string
		call string
	}{
		{[]string{"commit", "web"}, `commit web ref= author= comment= changes=[] pause=true`},
		{[]string{"container", "commit", "-a", "Me <me@x>", "-m", "msg", "-c", "ENV A=1", "--change", "CMD [\"sh\"]",
			"-p=false", "web", "me/app:v1"},
			`commit web ref=me/app:v1 author=Me <me@x> comment=msg changes=["ENV A=1" "CMD [\"sh\"]"] pause=false`},
	}
	for _, tc := range tests {
		out, errOut, code := runFiles(t, e, nil, nil, "", tc.args...)
		if code != 0 || errOut != "" || out != id || e.lastCall() != tc.call {
			t.Errorf("%q: exit %d, out %q, err %q\n got %s\nwant %s", tc.args, code, out, errOut, e.lastCall(), tc.call)
		}
	}
	_, errOut, code := runFiles(t, e, nil, nil, "", "commit", "web", "a", "b")
	if code != 1 || !strings.HasPrefix(errOut, "corral: 'corral commit' requires at least 1 and at most 2 arguments\n") {
		t.Errorf("commit with three arguments: exit %d, err %q", code, errOut)
	}
	// Flags after the container are arguments, as docker has it.
	_, errOut, code = runFiles(t, e, nil, nil, "", "commit", "web", "-m", "x")
	if code != 1 || !strings.Contains(errOut, "requires at least 1 and at most 2 arguments") {
		t.Errorf("commit web -m x: exit %d, err %q", code, errOut)
	}
}
