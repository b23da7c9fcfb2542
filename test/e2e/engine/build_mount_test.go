package engine_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corral-dev/corral/testutil"
)

const mountDockerfile = `FROM busybox
RUN --mount=type=cache,target=/cache,id=c1,sharing=locked echo x >> /cache/count && wc -l < /cache/count > /seen
RUN --mount=type=secret,id=tok,required cat /run/secrets/tok | md5sum > /tok.md5 && stat -c %a /run/secrets/tok > /tok.mode
RUN --mount=type=secret,id=tok,target=/s,mode=0440,uid=1000 stat -c '%a %u' /s > /s.stat
RUN --mount=type=bind,source=data,target=/ctx cat /ctx/f > /bindout && ! touch /ctx/g 2>/dev/null
RUN --mount=type=bind,source=data,target=/ctx,rw touch /ctx/g && cat /ctx/f > /rwout
RUN --mount=type=bind,from=busybox,source=/bin,target=/bb test -x /bb/busybox && echo ok > /fromimg
RUN --mount=type=cache,target=/m,id=m1,mode=0700,uid=1000,gid=2 --mount=type=cache,target=/seed,from=busybox,source=/etc,ro stat -c '%a %u:%g' /m > /m.stat && test -f /seed/passwd && ! touch /seed/x 2>/dev/null
RUN --mount=type=tmpfs,target=/scratchy echo t > /scratchy/t && grep -q " /scratchy tmpfs " /proc/mounts && echo ok > /tmpfs
`

// TestBuildRunMounts: RUN --mount of every type through corral build;
// the cache mount persists across builds and a restart, none of the
// mounts' targets nor their writes reach the image.
func TestBuildRunMounts(t *testing.T) {
	e := newEngine(t)
	dir := writeContext(t, map[string]string{"Dockerfile": mountDockerfile, "data/f": "from-context"})
	secret := filepath.Join(t.TempDir(), "tok")
	value := "s3cr3t-" + testutil.UniqueName(t)
	if err := os.WriteFile(secret, []byte(value), 0o600); err != nil {
		t.Fatal(err)
	}
	tag := strings.ToLower(testutil.UniqueName(t)) + ":1"
	build := func(extra ...string) result {
		t.Helper()
		r := e.corral(t, "", append([]string{"build", "-t", tag, "--secret", "id=tok,src=" + secret}, extra...)...)
		if r.code != 0 {
			t.Fatalf("%v", r)
		}
		if strings.Contains(r.stdout+r.stderr, value) {
			t.Errorf("the build output shows the secret:\n%s", r.stdout)
		}
		return r
	}
	build(dir)
	out := e.ok(t, "run", "--rm", tag, "sh", "-c",
		`cat /seen /tok.mode /s.stat /bindout; echo; cat /rwout; echo; cat /fromimg /tmpfs /m.stat; for p in /cache /scratchy /ctx /bb /s /run/secrets /m /seed; do [ -e $p ] && echo left $p; done; true`)
	want := "1\n400\n440 1000\nfrom-context\nfrom-context\nok\nok\n700 1000:2\n"
	if out != want {
		t.Errorf("image content:\n%q\nwant\n%q", out, want)
	}
	sum := e.ok(t, "run", "--rm", tag, "cat", "/tok.md5")
	if !strings.HasPrefix(sum, md5hex(value)) {
		t.Errorf("the RUN read %q, want md5 %s", sum, md5hex(value))
	}
	// a new secret value hits the cache (the value is in no key)
	if err := os.WriteFile(secret, []byte(value+"-2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := build(dir); strings.Contains(r.stdout, "Running in") {
		t.Errorf("a new secret value missed the cache:\n%s", r.stdout)
	}
	build("--no-cache", dir)
	e.kill9(t)
	e.restart(t)
	build("--no-cache", dir)
	if got := e.ok(t, "run", "--rm", tag, "cat", "/seen"); got != "3\n" {
		t.Errorf("the cache mount did not persist across builds and a restart: count %q, want 3", got)
	}
	e.secretAbsent(t, tag, value)
}

// secretAbsent searches the image tag (its saved layers, config and
// history) and the daemon's whole data root, gzip blobs unpacked, for
// value.
func (e *engine) secretAbsent(t *testing.T, tag, value string) {
	t.Helper()
	saved := filepath.Join(t.TempDir(), "img.tar")
	e.ok(t, "save", "-o", saved, tag)
	f, err := os.Open(saved)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if containsPlainOrGzip(b, value) {
			t.Errorf("the saved image's %s holds the secret", h.Name)
		}
	}
	for _, what := range [][]string{{"image", "inspect", tag}, {"history", "--no-trunc", tag}} {
		if strings.Contains(e.ok(t, what...), value) {
			t.Errorf("%v shows the secret", what)
		}
	}
	err = filepath.WalkDir(e.root(), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil //nolint:nilerr // a file gone meanwhile is no finding
		}
		if b, err := os.ReadFile(p); err == nil && containsPlainOrGzip(b, value) {
			t.Errorf("the data root's %s holds the secret", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func containsPlainOrGzip(b []byte, value string) bool {
	if bytes.Contains(b, []byte(value)) {
		return true
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return false
	}
	plain, _ := io.ReadAll(zr)
	return bytes.Contains(plain, []byte(value))
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestBuildRunMountErrors: bad RUN --mount options and a missing required
// secret fail the build with an error naming the problem.
func TestBuildRunMountErrors(t *testing.T) {
	e := newEngine(t)
	for _, c := range []struct{ mount, want string }{
		{"type=cache,target=/c,foo=bar", "unexpected key 'foo'"},
		{"type=bind", "option target is required"},
		{"type=nope,target=/x", `unsupported mount type "nope"`},
		{"type=cache,target=/c,sharing=wide", `unsupported sharing value "wide"`},
		{"type=tmpfs,target=/t,mode=0700", `mode not allowed for "tmpfs"`},
		{"type=secret,id=absent,required", "secret absent is required"},
		{"type=bind,source=../../etc,target=/x", "forbidden path outside the build context"},
		{"type=bind,source=missing,target=/x", "file not found in build context"},
		{"type=ssh", "ssh mounts are not supported"},
	} {
		dir := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN --mount=" + c.mount + " true\n"})
		r := e.corral(t, "", "build", dir)
		if r.code == 0 || !strings.Contains(r.stderr+r.stdout, c.want) {
			t.Errorf("--mount=%s: want an error with %q, got %v", c.mount, c.want, r)
		}
	}
}
