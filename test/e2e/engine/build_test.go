package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeContext writes files (path → content; a trailing "|0755" sets the
// mode) into a new build context dir.
func writeContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		mode := os.FileMode(0o644)
		if c, m, ok := strings.Cut(content, "|0"); ok && len(m) == 3 {
			content = c
			mode = os.FileMode(parseOctal(t, m))
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func parseOctal(t *testing.T, s string) uint32 {
	t.Helper()
	var n uint32
	for _, c := range s {
		if c < '0' || c > '7' {
			t.Fatalf("bad mode %q", s)
		}
		n = n*8 + uint32(c-'0')
	}
	return n
}

// buildEnv is the docker CLI's environment for the classic builder.
func (e *engine) build(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, append(e.env, "DOCKER_BUILDKIT=0"), "", "docker", append([]string{"build"}, args...)...)
}

const fullDockerfile = `# syntax check: comments, continuation, heredoc
ARG BASE=busybox
FROM ${BASE} AS base
ARG WHO=world
ENV GREETING="hello ${WHO}" \
    KEEP=1
WORKDIR /app
COPY --chown=1000:1000 --chmod=0750 run.sh ./
COPY dir/ /data/
COPY *.txt /texts/
ADD files.tar /unpacked/
RUN <<EOF
echo "$GREETING" > /app/greeting
id -u > /app/builder-uid
EOF
RUN ["/bin/sh", "-c", "echo exec-form > /app/exec"]
SHELL ["/bin/sh", "-e", "-c"]
RUN echo shell-$WHO > /app/shell
USER 1000
EXPOSE 8080 53/udp
VOLUME /vol
LABEL org.example.k="v 1"
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s CMD true
ONBUILD RUN echo onbuild
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /app/greeting"]

FROM scratch AS unused
COPY nothing-here /

FROM base AS final
COPY --from=base /app/greeting /copied
`

func TestBuildDockerCLI(t *testing.T) {
	e := newEngine(t)
	dir := writeContext(t, map[string]string{
		"Dockerfile": fullDockerfile, "run.sh": "#!/bin/sh\necho run\n|0755",
		"dir/a": "A", "dir/sub/b": "B", "one.txt": "1", "two.txt": "2", "ignored.txt": "no",
		".dockerignore": "ignored.txt\n",
	})
	tarFiles(t, dir, "files.tar", map[string]string{"x/y": "tarred"})
	tag := "built-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + ":v1"
	start := time.Now()
	r := e.build(t, "-t", tag, "--build-arg", "WHO=corral", "--target", "final", dir)
	if r.code != 0 {
		t.Fatalf("build: %v", r)
	}
	t.Logf("cold build (23 steps, 5 RUN): %v", time.Since(start))
	for _, want := range []string{"Step 1/", "# Executing 1 build trigger", "Successfully built", "Successfully tagged " + tag} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "nothing-here") {
		t.Errorf("the unused stage was built:\n%s", r.stdout)
	}
	out := e.ok(t, "run", "--rm", "--entrypoint", "sh", tag, "-c",
		`cat /copied /app/exec /app/shell /app/builder-uid; stat -c '%a %u:%g %n' /app/run.sh; `+
			`cat /data/a /data/sub/b /texts/one.txt /texts/two.txt /unpacked/x/y; echo; ls /texts; id -u; pwd; echo "$GREETING $KEEP"`)
	want := "hello corral\nexec-form\nshell-corral\n0\n750 1000:1000 /app/run.sh\nAB12tarred\none.txt\ntwo.txt\n1000\n/app\nhello corral 1\n"
	if out != want {
		t.Errorf("files in the image:\n%q\nwant\n%q", out, want)
	}
	cfg := e.ok(t, "image", "inspect", "-f",
		`{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Config.User}} {{.Config.WorkingDir}} {{json .Config.ExposedPorts}} {{json .Config.Volumes}} {{json .Config.Labels}} {{.Config.StopSignal}} {{json .Config.OnBuild}}`, tag)
	wantCfg := `["/bin/sh","-c"] ["cat /app/greeting"] 1000 /app {"53/udp":{},"8080/tcp":{}} {"/vol":{}} {"org.example.k":"v 1"} SIGTERM null` + "\n"
	if cfg != wantCfg {
		t.Errorf("config:\n%s\nwant\n%s", cfg, wantCfg)
	}
	if got := e.ok(t, "run", "--rm", tag); got != "hello corral\n" {
		t.Errorf("run of the image: %q", got)
	}
	e.checkCache(t, dir, tag, r.stdout)
}

// checkCache rebuilds the context dir of tag (first built with output
// first): nothing changed makes no new image, all from the cache, fast;
// a changed file rebuilds from the first step that copies it.
func (e *engine) checkCache(t *testing.T, dir, tag, first string) {
	t.Helper()
	id := strings.TrimSpace(e.ok(t, "image", "inspect", "-f", "{{.Id}}", tag))
	before := e.ok(t, "images", "-a", "-q", "--no-trunc")
	start := time.Now()
	r := e.build(t, "-t", tag, "--build-arg", "WHO=corral", "--target", "final", dir)
	took := time.Since(start)
	if r.code != 0 {
		t.Fatalf("rebuild: %v", r)
	}
	t.Logf("no-change rebuild: %v", took)
	if took > 3*time.Second || strings.Contains(r.stdout, "Running in") || !strings.Contains(r.stdout, "Using cache") {
		t.Errorf("the rebuild did not come from the cache (%v):\n%s", took, r.stdout)
	}
	if after := e.ok(t, "images", "-a", "-q", "--no-trunc"); after != before {
		t.Errorf("the rebuild made images:\n%s\nwas\n%s", after, before)
	}
	if got := strings.TrimSpace(e.ok(t, "image", "inspect", "-f", "{{.Id}}", tag)); got != id {
		t.Errorf("rebuild gave %s, first build %s", got, id)
	}
	iid := filepath.Join(t.TempDir(), "iid")
	q := e.build(t, "-q", "--iidfile", iid, "--build-arg", "WHO=corral", "--target", "final", dir)
	if got, _ := os.ReadFile(iid); q.code != 0 || q.stdout != id+"\n" || strings.TrimSpace(string(got)) != id {
		t.Errorf("docker build -q --iidfile: %v; iidfile %q; want %s", q, got, id)
	}
	if err := os.WriteFile(filepath.Join(dir, "two.txt"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = e.build(t, "-t", tag, "--build-arg", "WHO=corral", "--target", "final", dir)
	if r.code != 0 {
		t.Fatalf("rebuild after a change: %v", r)
	}
	head, tail, _ := strings.Cut(r.stdout, "COPY *.txt /texts/")
	if n := strings.Count(head, "Using cache"); n != 5 || strings.Contains(tail, "Using cache") {
		t.Errorf("want the 5 steps before COPY *.txt cached, none after:\n%s", r.stdout)
	}
	if got := e.ok(t, "run", "--rm", "--entrypoint", "cat", tag, "/texts/two.txt"); got != "changed" {
		t.Errorf("changed file in the image: %q", got)
	}
}

// tarFiles writes a tar archive name into dir holding files.
func tarFiles(t *testing.T, dir, name string, files map[string]string) {
	t.Helper()
	src := writeContext(t, files)
	r := run(t, nil, "", "tar", "-C", src, "-cf", filepath.Join(dir, name), ".")
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
}
