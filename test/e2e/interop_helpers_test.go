package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/corral-dev/corral/testutil"
)

// interopTimeout bounds every command a test runs.
const interopTimeout = 3 * time.Minute

// corral drives the corral binary on a data root of the test's own.
type corralStore struct {
	t    *testing.T
	bin  string
	root string // --data-root
	home string // $HOME, so that no user's auth.json is read
}

// newCorralStore returns a corral with a fresh, empty data root.
func newCorralStore(t *testing.T) *corralStore {
	t.Helper()
	testutil.RequireRoot(t)
	dir := t.TempDir()
	stopRootDaemon(t, filepath.Join(dir, "root"))
	return &corralStore{t: t, bin: testutil.EngineBinary(t), root: filepath.Join(dir, "root"), home: dir}
}

// command returns the command `corral --data-root ROOT args...`.
func (c *corralStore) command(args ...string) *exec.Cmd {
	cmd := exec.Command(c.bin, append([]string{"--data-root", c.root}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+c.home, "XDG_CONFIG_HOME="+filepath.Join(c.home, ".config"))
	return cmd
}

// run runs corral with args and returns its stdout, stderr and error.
func (c *corralStore) run(args ...string) (string, string, error) {
	c.t.Helper()
	cmd := c.command(args...)
	timer := time.AfterFunc(interopTimeout, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// ok runs corral and fails the test unless it succeeds; it returns stdout.
func (c *corralStore) ok(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("corral %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// fails runs corral and fails the test unless it exits non-zero; it
// returns stderr.
func (c *corralStore) fails(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run(args...)
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		c.t.Fatalf("corral %s: want a failure, got %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return errOut
}

// inspected is what the tests read of `corral image inspect` (Docker's
// field names), and of podman's.
type inspected struct {
	ID           string   `json:"Id"`
	RepoTags     []string `json:"RepoTags"`
	RepoDigests  []string `json:"RepoDigests"`
	Architecture string   `json:"Architecture"`
	Os           string   `json:"Os"`
	RootFS       struct {
		Layers []string `json:"Layers"`
	} `json:"RootFS"`
}

// inspect returns the image ref names in corral's store.
func (c *corralStore) inspect(ref string) inspected {
	c.t.Helper()
	return decodeInspected(c.t, c.ok("image", "inspect", ref), "corral")
}

// decodeInspected decodes the JSON array `image inspect` prints, of one image.
func decodeInspected(t *testing.T, out, who string) inspected {
	t.Helper()
	var infos []inspected
	if err := json.Unmarshal([]byte(out), &infos); err != nil || len(infos) != 1 {
		t.Fatalf("%s image inspect: want one image, got %v:\n%s", who, err, out)
	}
	info := infos[0]
	if !strings.HasPrefix(info.ID, "sha256:") {
		info.ID = "sha256:" + info.ID // podman prints bare hex
	}
	return info
}

// imageIDs lists the full IDs `corral images -a` shows.
func (c *corralStore) imageIDs() []string {
	c.t.Helper()
	return strings.Fields(c.ok("images", "-a", "-q", "--no-trunc"))
}

// fingerprint describes what the store holds: its images, content blobs,
// in-progress ingests and snapshot directories. Two equal fingerprints
// mean nothing was left behind in between.
func (c *corralStore) fingerprint() []string {
	c.t.Helper()
	fp := []string{}
	for _, id := range c.imageIDs() {
		fp = append(fp, "image "+id)
	}
	for _, d := range []string{"content/blobs/sha256", "content/ingest", "snapshots/overlay/snapshots"} {
		entries, err := os.ReadDir(filepath.Join(c.root, d))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.t.Fatalf("read store: %v", err)
		}
		for _, e := range entries {
			fp = append(fp, d+"/"+e.Name())
		}
	}
	sort.Strings(fp)
	return fp
}

// requireUnchanged fails the test unless the store's fingerprint is before,
// or comes back to it within a few seconds: a command killed mid-pull
// leaves the daemon to notice that its client left and clean up.
func (c *corralStore) requireUnchanged(before []string, what string) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		after := c.fingerprint()
		if strings.Join(before, "\n") == strings.Join(after, "\n") {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("after %s the store changed:\nbefore: %q\nafter:  %q", what, before, after)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// requireErrorNames checks that a failure's message names the problem: it
// contains every one of words (case-insensitive).
func requireErrorNames(t *testing.T, msg string, words ...string) {
	t.Helper()
	low := strings.ToLower(msg)
	for _, w := range words {
		if !strings.Contains(low, strings.ToLower(w)) {
			t.Fatalf("error does not mention %q:\n%s", w, msg)
		}
	}
}

var peerSetup struct {
	once sync.Once
	err  error
}

// requirePeerTools skips the test unless the tools are installed, and keeps
// the state of the containers/image tools off the host: inside the
// sandbox, a tmpfs on /var/lib/containers (where skopeo and podman keep
// their blob info cache as root).
func requirePeerTools(t *testing.T, tools ...string) {
	t.Helper()
	testutil.RequireRoot(t)
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (apt-get install %s): %v", tool, tool, err)
		}
	}
	if !testutil.InSandbox() {
		t.Skip("peer tools run only inside the test sandbox")
	}
	peerSetup.once.Do(func() {
		dir := "/var/lib/containers"
		if peerSetup.err = os.MkdirAll(dir, 0o700); peerSetup.err == nil {
			peerSetup.err = unix.Mount("corral-e2e", dir, "tmpfs", 0, "mode=0700")
		}
	})
	if peerSetup.err != nil {
		t.Fatalf("hide /var/lib/containers: %v", peerSetup.err)
	}
}

// tool runs a peer tool with its temporary files in the test's own
// directory and returns its stdout; it fails the test on error.
func peerTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, errOut, err := runPeerTool(t, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func runPeerTool(t *testing.T, name string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// skopeo runs skopeo without a signature policy (the images are the
// test's own) and returns its stdout.
func skopeoCmd(t *testing.T, args ...string) string {
	t.Helper()
	return peerTool(t, "skopeo", append([]string{"--insecure-policy"}, args...)...)
}

// shortTempBase is the sandbox's tmpfs for test files.
const shortTempBase = "/tmp/corral-test"

// podmanStore is a podman with its storage (vfs: no mounts) and state in the
// test's own directories.
type podmanStore struct {
	t     *testing.T
	flags []string
	store string // the containers-storage: transport's spec of the store
}

func newPodmanStore(t *testing.T) *podmanStore {
	t.Helper()
	// podman refuses a runroot path longer than 50 characters.
	dir, err := os.MkdirTemp(shortTempBase, "podman-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	root, runroot, tmp := filepath.Join(dir, "root"), filepath.Join(dir, "runroot"), filepath.Join(dir, "tmp")
	return &podmanStore{t: t,
		flags: []string{"--root", root, "--runroot", runroot, "--tmpdir", tmp,
			"--storage-driver", "vfs", "--events-backend", "none", "--cgroup-manager", "cgroupfs"},
		store: "containers-storage:[vfs@" + root + "+" + runroot + "]",
	}
}

func (p *podmanStore) run(args ...string) string {
	p.t.Helper()
	return peerTool(p.t, "podman", append(append([]string{}, p.flags...), args...)...)
}

func (p *podmanStore) inspect(ref string) inspected {
	p.t.Helper()
	return decodeInspected(p.t, p.run("image", "inspect", ref), "podman")
}

// requireSameImage fails the test unless got has want's ID and layers.
func requireSameImage(t *testing.T, what string, got, want inspected) {
	t.Helper()
	if got.ID != want.ID {
		t.Errorf("%s: image ID %s, want %s", what, got.ID, want.ID)
	}
	if strings.Join(got.RootFS.Layers, " ") != strings.Join(want.RootFS.Layers, " ") {
		t.Errorf("%s: layers %v, want %v", what, got.RootFS.Layers, want.RootFS.Layers)
	}
}
