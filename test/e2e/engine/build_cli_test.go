package engine_test

import (
	"archive/tar"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corral-dev/corral/testutil"
)

func TestBuildCorralCLI(t *testing.T) {
	e := newEngine(t)
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nARG V=default\nCOPY --chown=tester:tester app /srv/app/\n" +
			"RUN echo \"v=$V\" > /srv/v && echo streamed-output\nENV MODE=prod\nUSER tester\nWORKDIR /srv\nCMD [\"cat\", \"/srv/v\"]\n",
		"app/main.sh": "echo main|0700", "app/skip.log": "x", ".dockerignore": "**/*.log\n",
	})
	tag := strings.ToLower(testutil.UniqueName(t)) + ":1"
	r := e.corral(t, "", "build", "-t", tag, "--build-arg", "V=given", "--label", "team=core", dir)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	for _, want := range []string{"Step 1/8 : FROM busybox", "Step 4/8 : RUN", "streamed-output", "Successfully tagged " + tag} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("progress lacks %q:\n%s", want, r.stdout)
		}
	}
	if d := e.ok(t, "images", "-q", "--filter", "dangling=true"); d != "" {
		t.Errorf("docker images lists the build's intermediate images: %q", d)
	}
	if all := e.ok(t, "images", "-a", "-q"); strings.Count(all, "\n") < 8 {
		t.Errorf("images -a lacks the intermediate images: %q", all)
	}
	out := e.ok(t, "run", "--rm", tag, "sh", "-c", `cat /srv/v; stat -c '%a %U:%G' /srv/app/main.sh; ls /srv/app; id -un; pwd; echo $MODE`)
	if want := "v=given\n700 tester:tester\nmain.sh\ntester\n/srv\nprod\n"; out != want {
		t.Errorf("image content %q, want %q", out, want)
	}
	if l := e.ok(t, "image", "inspect", "-f", `{{index .Config.Labels "team"}}`, tag); l != "core\n" {
		t.Errorf("label: %q", l)
	}
	iid := filepath.Join(t.TempDir(), "iid")
	r = e.corral(t, "", "build", "-q", "--iidfile", iid, "--build-arg", "V=given", "--label", "team=core", dir)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	id := strings.TrimSpace(e.ok(t, "image", "inspect", "-f", "{{.Id}}", tag))
	if got, _ := os.ReadFile(iid); r.stdout != id+"\n" || string(got) != id {
		t.Errorf("-q printed %q, iidfile %q; the cached build is %s", r.stdout, got, id)
	}
	// -f names another Dockerfile; a COPY to an existing directory without
	// a trailing slash goes into it; --platform of the host is accepted.
	if err := os.WriteFile(filepath.Join(dir, "other.Dockerfile"), []byte("FROM busybox\nCOPY app/main.sh /bin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = e.corral(t, "", "build", "-f", "other.Dockerfile", "--platform", "linux/amd64", "-t", tag+"-f", dir)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	if got := e.ok(t, "run", "--rm", tag+"-f", "cat", "/bin/main.sh"); got != "echo main" {
		t.Errorf("COPY into an existing dir: %q", got)
	}
	if r = e.corral(t, "", "build", "--platform", "linux/arm64", dir); r.code == 0 || !strings.Contains(r.stderr, "only the host's platform") {
		t.Errorf("--platform linux/arm64: %v", r)
	}
	// --no-cache runs everything again.
	r = e.corral(t, "", "build", "--no-cache", "--build-arg", "V=given", dir)
	if r.code != 0 || strings.Contains(r.stdout, "Using cache") || !strings.Contains(r.stdout, "streamed-output") {
		t.Errorf("--no-cache: %v", r)
	}
}

// TestBuildCacheRestart: the cache lives with the images, across a daemon
// restart.
func TestBuildCacheRestart(t *testing.T) {
	e := newEngine(t)
	dir := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo once > /once\n"})
	if r := e.build(t, dir); r.code != 0 {
		t.Fatalf("%v", r)
	}
	e.kill9(t)
	e.restart(t)
	r := e.build(t, dir)
	if r.code != 0 || !strings.Contains(r.stdout, "Using cache") || strings.Contains(r.stdout, "Running in") {
		t.Errorf("the rebuild after a restart missed the cache: %v", r)
	}
}

func TestBuildBadInput(t *testing.T) {
	e := newEngine(t)
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("host secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dockerfile, want string
	}{
		{"unknown", "FROM busybox\nFROBNICATE x\n", "Dockerfile:2: unknown instruction: FROBNICATE"},
		{"syntax", "FROM busybox\n\nENV\n", "Dockerfile:3: ENV requires at least one argument"},
		{"outside", "FROM busybox\nCOPY ../x /x\n", "forbidden path outside the build context: ../x"},
		{"missing", "FROM busybox\nCOPY nope /x\n", "file not found in build context or excluded by .dockerignore: nope"},
		{"run fails", "FROM busybox\nRUN echo failing-step-output; exit 3\n", "returned a non-zero code: 3"},
		{"cycle", "FROM b AS a\nRUN true\nFROM a AS b\nRUN true\n", "circular dependency detected on stage"},
		{"no base", "FROM not-here-image\n", "base image not-here-image is not here"},
		{"bad target", "FROM busybox\n", `target stage "zz" could not be found`},
		{"symlink out", "FROM busybox\nCOPY link /x\n", "file not found in build context"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeContext(t, map[string]string{"Dockerfile": tc.dockerfile})
			if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
				t.Fatal(err)
			}
			tag := strings.ToLower(testutil.UniqueName(t))
			args := []string{"-t", tag, dir}
			if tc.name == "bad target" {
				args = append([]string{"--target", "zz"}, args...)
			}
			r := e.build(t, args...)
			if r.code == 0 || !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Errorf("want a failure saying %q: %v", tc.want, r)
			}
			if tc.name == "run fails" && !strings.Contains(r.stdout, "failing-step-output") {
				t.Errorf("the failing RUN's output is not shown: %v", r)
			}
			if e.docker(t, "", "image", "inspect", tag).code == 0 {
				t.Errorf("a failed build tagged %s", tag)
			}
		})
	}
}

// TestBuildContextEscape sends a context tar whose entries climb out with
// "../" and an absolute path: nothing may land outside the context (the
// entries are confined to it, and so copied into the image's /ctx).
func TestBuildContextEscape(t *testing.T) {
	e := newEngine(t)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	files := map[string]string{"Dockerfile": "FROM busybox\nCOPY . /ctx/\n", "../../escaped": "x",
		"../escaped": "x", "/escaped-abs": "x", "sub/../../escaped-sub": "x"}
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(data))
	}
	tw.Close()
	body := e.postBuild(t, "escape:1", &b)
	err := filepath.WalkDir(e.dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), "escaped") && !strings.Contains(p, "/fs/ctx/") {
			t.Errorf("a context entry escaped to %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/escaped", "/escaped-abs", "/escaped-sub", "/tmp/escaped"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("a context entry escaped to %s", p)
		}
	}
	if strings.Contains(body, "errorDetail") {
		return // refused: fine
	}
	out := e.ok(t, "run", "--rm", "escape:1", "find", "/ctx", "-type", "f")
	for _, l := range strings.Fields(out) {
		if !strings.HasPrefix(l, "/ctx/") {
			t.Errorf("odd copied path %s", l)
		}
	}
}

// TestBuildClientLeaves: a client that goes away mid-RUN ends the build:
// its container is removed, nothing is tagged.
func TestBuildClientLeaves(t *testing.T) {
	e := newEngine(t)
	dir := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo started; sleep 60\n"})
	bg := exec.Command("docker", "build", "-t", "left:1", dir)
	bg.Env = append(os.Environ(), append(e.env, "DOCKER_BUILDKIT=0")...)
	out, err := bg.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := bg.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	var seen strings.Builder
	for !strings.Contains(seen.String(), "started") {
		n, err := out.Read(buf)
		if err != nil {
			t.Fatalf("build output ended before the RUN started: %q, %v", seen.String(), err)
		}
		seen.Write(buf[:n])
	}
	_ = bg.Process.Kill()
	_ = bg.Wait()
	start := time.Now()
	deadline := start.Add(8 * time.Second)
	for {
		left := e.ok(t, "ps", "-a", "-q")
		if left == "" {
			t.Logf("RUN container gone %v after its client", time.Since(start))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the RUN container outlived its client: %q", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if e.docker(t, "", "image", "inspect", "left:1").code == 0 {
		t.Error("an abandoned build was tagged")
	}
}
