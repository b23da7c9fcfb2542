package testutil

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// busyboxPath is where Debian's busybox-static installs its binary.
const busyboxPath = "/bin/busybox"

var busybox struct {
	once    sync.Once
	applets []string
	err     error
}

const etcPasswd = `root:x:0:0:root:/root:/bin/sh
tester:x:1000:1000:tester:/home:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
`

const etcGroup = `root:x:0:
tty:x:5:
tester:x:1000:
nogroup:x:65534:
`

// BusyboxRootfs builds a fresh root filesystem inside t.TempDir() and returns
// its path: bin/busybox with a symlink per applet, bin/testprog (see
// TestProgram), etc/passwd (root 0, tester 1000, nobody 65534), etc/group,
// and empty proc, sys, dev, tmp (mode 1777), run, root and home. It skips
// the test when busybox-static is not installed.
func BusyboxRootfs(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(openTempDir(t), "rootfs")
	makeRootfs(t, dir)
	return dir
}

// NewBundle creates an OCI bundle in t.TempDir(): a busybox rootfs at
// dir/rootfs and, returned for the caller to edit and then write with
// WriteSpec, the config of runtime.ExampleSpec() with Root.Path "rootfs",
// process.terminal false and process.args ["true"].
func NewBundle(t testing.TB) (dir string, spec *specs.Spec) {
	t.Helper()
	dir = openTempDir(t)
	makeRootfs(t, filepath.Join(dir, "rootfs"))
	return dir, bundleSpec()
}

// WriteSpec writes spec as dir/config.json.
func WriteSpec(t testing.TB, dir string, spec *specs.Spec) {
	t.Helper()
	data, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		t.Fatalf("encode config.json: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatalf("write config.json: %v", err)
	}
}

// openTempDir returns t.TempDir() with it and its parent made traversable,
// so that a container whose root is mapped to another uid can reach its
// bundle.
func openTempDir(t testing.TB) string {
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatalf("open up temp dir: %v", err)
		}
	}
	return dir
}

func makeRootfs(t testing.TB, root string) {
	t.Helper()
	applets := busyboxApplets(t)
	prog := TestProgram(t)
	if err := populateRootfs(root, applets, prog); err != nil {
		t.Fatalf("build busybox rootfs: %v", err)
	}
}

// busyboxApplets lists the applets of the host's busybox, once.
func busyboxApplets(t testing.TB) []string {
	t.Helper()
	if _, err := os.Stat(busyboxPath); err != nil {
		t.Skipf("needs %s from Debian's busybox-static (apt-get install busybox-static): %v", busyboxPath, err)
	}
	busybox.once.Do(func() {
		out, err := exec.Command(busyboxPath, "--list").Output()
		if err != nil {
			busybox.err = fmt.Errorf("list busybox applets: %w", err)
			return
		}
		busybox.applets = strings.Fields(string(out))
	})
	if busybox.err != nil {
		t.Fatal(busybox.err)
	}
	return busybox.applets
}

func populateRootfs(root string, applets []string, prog string) error {
	for _, d := range []string{"", "bin", "proc", "sys", "dev", "tmp", "run", "etc", "root", "home"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), os.ModeSticky|0o777); err != nil {
		return err
	}
	if err := copyFile(busyboxPath, filepath.Join(root, "bin", "busybox")); err != nil {
		return err
	}
	if err := copyFile(prog, filepath.Join(root, "bin", "testprog")); err != nil {
		return err
	}
	for _, a := range applets {
		if a == "busybox" || a == "testprog" || strings.Contains(a, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte(etcPasswd), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, "etc", "group"), []byte(etcGroup), 0o644)
}

// copyFile copies the executable src to dst, mode 0755.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
