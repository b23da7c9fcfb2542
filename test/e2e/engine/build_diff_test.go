package engine_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// diffCase is one Dockerfile built by corral and by podman. peer, when
// set, is the Dockerfile podman builds instead: the same meaning spelled
// without heredocs, which Debian's podman 4.3 (buildah 1.28) predates.
type diffCase struct {
	name       string
	dockerfile string
	peer       string
	files      map[string]string // the context; "|0755" sets a mode
	tars       map[string]map[string]string
	args       []string // --build-arg K=V
	// prepare, when set, adds to the context what writeContext cannot.
	prepare func(t *testing.T, dir string)
	// buildahQuirk, when set, rewrites podman's config where buildah
	// 1.28 is known to differ from docker's documented behaviour.
	buildahQuirk func(*imageConfig)
	// lazyWorkdirs are WORKDIRs buildah 1.28 makes only when a later
	// step needs them, as the USER of that step, or never when none
	// does; docker's builders make them at the WORKDIR step (BuildKit:
	// owned by the USER then in force). corral's entry stands for them.
	lazyWorkdirs []string
}

var diffCases = []diffCase{
	{name: "copy", dockerfile: `FROM busybox
COPY --chown=1000:1000 --chmod=0640 a.txt /owned/
RUN echo 'svc:x:321:654::/:/bin/sh' >> /etc/passwd && echo 'svcg:x:655:' >> /etc/group
COPY --chown=svc:svcg b.txt /named/b
COPY --chown=svc dir /named/dir
COPY *.txt /texts/
COPY dir /dir
COPY dir/ /dir2/
COPY run.sh /bin/run.sh
COPY --chmod=0700 dir /locked
ADD files.tar /unpacked/
ADD --chown=4:5 files.tar /unpacked-owned/
ADD a.txt /notunpacked.txt
ADD --chown=2:3 b.txt dir/ /mixed/
`, files: map[string]string{"a.txt": "A", "b.txt": "B", "dir/x": "X", "dir/sub/y": "Y|0600",
		"run.sh": "#!/bin/sh\necho run\n|0755"},
		tars: map[string]map[string]string{"files.tar": {"t/one": "1", "t/two": "2|0700"}}},
	{name: "workdir-user", dockerfile: `FROM busybox
WORKDIR /a/b/c
RUN touch made-here
RUN echo 'app:x:1234:1234::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1234:' >> /etc/group
USER app
WORKDIR /home/app/work
RUN touch mine && mkdir d && echo $(id -u):$(id -g) > ids
USER 1234:100
RUN touch group100
WORKDIR rel
`, lazyWorkdirs: []string{"home/app/work/rel"}},
	{name: "env-arg", dockerfile: `ARG BASE=busybox
FROM ${BASE}
ARG DIR=/opt
ARG UNSET
ARG FROMCLI=default
ENV APP=${DIR}/app NAME="a b" \
    ALT=${UNSET:-fallback} PLUS=${DIR:+set} ESC=\$DIR
WORKDIR ${APP}
COPY a.txt ${APP}/cfg/
LABEL dir=${DIR} cli=${FROMCLI}
RUN echo "$APP $NAME $ALT $PLUS $ESC $FROMCLI" > env.out
ENV DIR=/changed
RUN echo $DIR > dir.out
`, files: map[string]string{"a.txt": "A"}, args: []string{"FROMCLI=given"}},
	{name: "multistage", dockerfile: `FROM busybox AS builder
RUN mkdir -p /out && echo built > /out/artifact && chmod 600 /out/artifact && chown 5:6 /out/artifact
RUN ln -s artifact /out/link

FROM busybox AS other
RUN echo other > /other

FROM busybox
COPY --from=builder /out /app
COPY --from=1 /other /from-index
COPY --from=builder /out/artifact /single
COPY --from=busybox /bin/busybox /copied-busybox
COPY --from=builder --chown=7:8 /out/ /chowned/
`},
	{name: "config", dockerfile: `FROM busybox
VOLUME /data /logs
VOLUME ["/more"]
EXPOSE 80 443/tcp 53/udp
LABEL a=1 "b c"="d e"
LABEL a=2
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=7s --timeout=3s --start-period=2s --retries=4 CMD wget -q localhost || exit 1
ONBUILD RUN echo hi
ONBUILD COPY x /y
ENTRYPOINT echo shell form
`},
	{name: "exec-forms", dockerfile: `FROM busybox
ENTRYPOINT ["/bin/echo", "x"]
CMD ["y", "z"]
`},
	{name: "cmd-after-shell", dockerfile: `FROM busybox
SHELL ["/bin/sh", "-e", "-x", "-c"]
RUN echo via-shell > /shell.out
CMD echo shell cmd
HEALTHCHECK NONE
STOPSIGNAL 9
`, buildahQuirk: func(c *imageConfig) {
		// docker prefixes a shell-form CMD with the SHELL in force
		// (https://docs.docker.com/reference/dockerfile/#shell);
		// buildah 1.28 always uses /bin/sh -c.
		if strings.Join(c.Cmd, " ") == "/bin/sh -c echo shell cmd" {
			c.Cmd = []string{"/bin/sh", "-e", "-x", "-c", "echo shell cmd"}
		}
	}},
	{name: "heredoc", dockerfile: `FROM busybox
RUN <<EOF
mkdir /h
echo one > /h/one
EOF
COPY <<EOF /h/copied
copied text
EOF
COPY <<A <<B /h/multi/
a
A
b
B
RUN <<-EOF cat > /h/tabbed
	tabbed
	EOF
`, peer: `FROM busybox
RUN mkdir /h && echo one > /h/one
COPY copied /h/copied
COPY A B /h/multi/
RUN printf 'tabbed\n' > /h/tabbed
`, files: map[string]string{"copied": "copied text\n", "A": "a\n", "B": "b\n"}},
	{name: "whiteouts", dockerfile: `FROM busybox
RUN mkdir -p /w/keep /w/gone/deep /w/opaque && touch /w/keep/k /w/gone/deep/g /w/opaque/old /w/file
RUN rm -rf /w/gone /w/file /etc/group && rm -rf /w/opaque && mkdir /w/opaque && touch /w/opaque/new
RUN rm /bin/vi /bin/ls && echo replaced > /bin/ls
COPY a.txt /w/file
RUN rm /w/file
`, files: map[string]string{"a.txt": "A"}},
	{name: "links-archives", dockerfile: `FROM busybox
COPY tree /tree
COPY link-to-file /followed
COPY --chmod=0751 tree/sub /chmodded/
ADD files.tar.gz /gz/
EXPOSE 8000-8002/tcp
`, buildahQuirk: func(c *imageConfig) {
		// docker expands a port range into its ports (nat.ParsePortSpecs);
		// buildah 1.28 keeps the range as one key.
		if _, ok := c.ExposedPorts["8000-8002/tcp"]; ok {
			c.ExposedPorts = map[string]struct{}{"8000/tcp": {}, "8001/tcp": {}, "8002/tcp": {}}
		}
	}, files: map[string]string{"tree/file": "F", "tree/sub/x": "X|0644", "tree/hard-src": "H"},
		prepare: func(t *testing.T, dir string) {
			must(t, os.Symlink("file", filepath.Join(dir, "tree/rel-link")))
			must(t, os.Symlink("/etc/passwd", filepath.Join(dir, "tree/abs-link")))
			must(t, os.Symlink("tree/file", filepath.Join(dir, "link-to-file")))
			must(t, os.Link(filepath.Join(dir, "tree/hard-src"), filepath.Join(dir, "tree/hard")))
			r := run(t, nil, "", "tar", "-C", filepath.Join(dir, "tree"), "-czf", filepath.Join(dir, "files.tar.gz"), ".")
			if r.code != 0 {
				t.Fatalf("%v", r)
			}
		}},
	{name: "stage-inherit", dockerfile: `ARG TAG=latest
FROM busybox:${TAG} AS base
ENV FROM_BASE=1 PATH=/opt/bin:/bin
USER 1000:1000
WORKDIR /w
ARG TAG
LABEL tag=${TAG}

FROM base AS child
ARG TAG
ENV CHILD=${TAG}-child
USER root
RUN echo "$FROM_BASE $CHILD" > /w/env && chown 1000 /w/env
STOPSIGNAL SIGQUIT
`, lazyWorkdirs: []string{"w"}},
	// .dockerignore lists itself: the docker CLI appends the name of the
	// Dockerfile it adds to the context (-f outside it) to the file.
	{name: "ignore-chown", dockerfile: `FROM busybox AS src
RUN mkdir -p /s/d && echo s > /s/d/f && chown -R 9:9 /s && chmod 700 /s/d

FROM busybox
COPY . /ctx
COPY --from=src --chown=3:4 /s /owned-from
COPY --chown=5 keep/ /etc/
COPY --from=src /s/d/ /tmp/into-existing/
`, files: map[string]string{".dockerignore": ".dockerignore\n*.log\n!keep.log\nsecret/\n**/*.tmp\n", "a.log": "no", "keep.log": "yes",
		"secret/k": "no", "deep/x.tmp": "no", "deep/y": "Y", "keep/kept.conf": "K"}},
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestBuildDiffPodman builds each case with corral and with Debian's
// podman (buildah inside) and compares the final root filesystems and
// image configs.
func TestBuildDiffPodman(t *testing.T) {
	e := newEngine(t)
	p := newBuildPodman(t)
	for _, c := range diffCases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeContext(t, c.files)
			if c.prepare != nil {
				c.prepare(t, dir)
			}
			for name, files := range c.tars {
				tarFiles(t, dir, name, files)
			}
			tag := "diff-" + c.name + ":latest"
			ours := e.buildArchive(t, dir, c.dockerfile, tag, c.args)
			theirs := p.buildArchive(t, dir, orDefault(c.peer, c.dockerfile), tag, c.args)
			normalizeBuildah(&theirs.config)
			if c.buildahQuirk != nil {
				c.buildahQuirk(&theirs.config)
			}
			for _, p := range c.lazyWorkdirs {
				if theirs.tree[p] == ours.tree[p] {
					t.Errorf("%s: buildah agrees now: drop the exception", p)
				}
				theirs.tree[p] = ours.tree[p]
			}
			compareTrees(t, ours.tree, theirs.tree)
			compareConfigs(t, ours.config, theirs.config)
		})
	}
}

func orDefault(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// buildArchive builds dockerfile in dir with corral (the docker CLI's
// classic builder) and reads the saved image.
func (e *engine) buildArchive(t *testing.T, dir, dockerfile, tag string, args []string) imageArchive {
	t.Helper()
	df := writeDockerfile(t, dockerfile)
	flags := []string{"-t", tag, "-f", df}
	for _, a := range args {
		flags = append(flags, "--build-arg", a)
	}
	if r := e.build(t, append(flags, dir)...); r.code != 0 {
		t.Fatalf("corral build: %v", r)
	}
	out := filepath.Join(t.TempDir(), "corral.tar")
	e.ok(t, "save", "-o", out, tag)
	return readImageArchive(t, out)
}

// writeDockerfile writes a Dockerfile outside the context, so that it is
// not among the files COPY . could see.
func writeDockerfile(t *testing.T, text string) string {
	t.Helper()
	df := filepath.Join(t.TempDir(), "Dockerfile")
	if err := os.WriteFile(df, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return df
}

// buildPodman is a podman with a private store holding the busybox image
// corral's daemon imported, from the same tarball.
type buildPodman struct{ flags []string }

func newBuildPodman(t *testing.T) *buildPodman {
	t.Helper()
	// podman refuses a runroot path longer than 50 characters.
	if err := os.MkdirAll("/tmp/corral-test", 0o700); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("/tmp/corral-test", "podman-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &buildPodman{flags: []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"),
		"--tmpdir", filepath.Join(dir, "tmp"), "--storage-driver", "vfs", "--events-backend", "none",
		"--cgroup-manager", "cgroupfs"}}
	p.ok(t, "import", "-c", `CMD ["sh"]`, imageTar(t), "busybox:latest")
	return p
}

func (p *buildPodman) ok(t *testing.T, args ...string) string {
	t.Helper()
	return ok(t, nil, "podman", append(append([]string{}, p.flags...), args...)...)
}

// buildArchive builds with `podman build`: only local images, the docker
// image format (the OCI one has no HEALTHCHECK, SHELL or ONBUILD), chroot
// isolation (no runtime needed; it allows only the host network, which
// inside the test's sandbox is the sandbox's own empty namespace).
func (p *buildPodman) buildArchive(t *testing.T, dir, dockerfile, tag string, args []string) imageArchive {
	t.Helper()
	flags := []string{"build", "--pull=never", "--network", "host", "--isolation", "chroot",
		"--format", "docker", "-t", tag, "-f", writeDockerfile(t, dockerfile)}
	for _, a := range args {
		flags = append(flags, "--build-arg", a)
	}
	p.ok(t, append(flags, dir)...)
	out := filepath.Join(t.TempDir(), "podman.tar")
	p.ok(t, "save", "--format", "docker-archive", "-o", out, tag)
	return readImageArchive(t, out)
}

// compareTrees reports every path whose entry differs, ignoring the few
// paths podman adds on its own.
func compareTrees(t *testing.T, ours, theirs map[string]fileEntry) {
	t.Helper()
	all := maps.Clone(ours)
	maps.Copy(all, theirs)
	for _, p := range slices.Sorted(maps.Keys(all)) {
		if podmanOnly(p) {
			continue
		}
		o, inOurs := ours[p]
		th, inTheirs := theirs[p]
		switch {
		case !inOurs:
			t.Errorf("%s: only in podman's image: %v", p, th)
		case !inTheirs:
			t.Errorf("%s: only in corral's image: %v", p, o)
		case o != th:
			t.Errorf("%s: corral %v, podman %v", p, o, th)
		}
	}
}

// podmanOnly says whether path is one buildah leaves in every image that
// ran a RUN, whatever the Dockerfile says: the empty files (mode 0755)
// it creates in the rootfs as mount points for the hosts, hostname and
// resolv.conf it bind-mounts into the step. docker's classic builder
// does not commit them, and corral's busybox base has none.
func podmanOnly(path string) bool {
	switch path {
	case "etc/hosts", "etc/resolv.conf", "etc/hostname":
		return true
	}
	return false
}

// normalizeBuildah undoes what buildah writes into every config on its
// own: its version label, and empty lists and maps where docker writes
// null (the same meaning to every consumer).
func normalizeBuildah(c *imageConfig) {
	delete(c.Labels, "io.buildah.version")
	if len(c.Labels) == 0 {
		c.Labels = nil
	}
	if len(c.Entrypoint) == 0 {
		c.Entrypoint = nil
	}
	if len(c.Cmd) == 0 {
		c.Cmd = nil
	}
	if len(c.Volumes) == 0 {
		c.Volumes = nil
	}
	if len(c.OnBuild) == 0 {
		c.OnBuild = nil
	}
}

// imageConfig is the part of an image's config the two builders must agree on.
type imageConfig struct {
	Entrypoint   []string
	Cmd          []string
	Env          []string
	WorkingDir   string
	User         string
	ExposedPorts map[string]struct{}
	Volumes      map[string]struct{}
	Labels       map[string]string
	StopSignal   string
	Healthcheck  *struct {
		Test                                          []string
		Interval, Timeout, StartPeriod, StartInterval int64
		Retries                                       int
	}
	Shell   []string
	OnBuild []string
}

func compareConfigs(t *testing.T, ours, theirs imageConfig) {
	t.Helper()
	if !reflect.DeepEqual(ours, theirs) {
		a, _ := json.Marshal(ours)
		b, _ := json.Marshal(theirs)
		t.Errorf("image config:\ncorral %s\npodman %s", a, b)
	}
}

// fileEntry is what the comparison sees of a file: no times.
type fileEntry struct {
	Type     byte
	Mode     int64
	UID, GID int
	Size     int64
	Digest   string
	Link     string
}

func (f fileEntry) String() string {
	return fmt.Sprintf("{type %c mode %o %d:%d size %d %s link %q}", f.Type, f.Mode, f.UID, f.GID, f.Size, shortDigest(f.Digest), f.Link)
}

func shortDigest(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return d
}
