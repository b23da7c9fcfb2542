package build

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/image"
)

// fakeEngine keeps images as configs in memory; RUN records its command.
type fakeEngine struct {
	mu     sync.Mutex // stages build at once
	meet   sync.WaitGroup
	images map[string]image.ContainerConfig
	cache  map[string]string
	runs   [][]string
	envs   [][]string
	nets   []string
	layers []string
	tags   map[string]string
	mounts string
}

func newFake(t *testing.T) *fakeEngine {
	return &fakeEngine{images: map[string]image.ContainerConfig{"sha256:base": {Env: []string{"PATH=/bin"}}},
		cache: map[string]string{}, tags: map[string]string{}, mounts: t.TempDir()}
}

func (f *fakeEngine) Image(_ context.Context, ref string) (image.InspectResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ref == "busybox" {
		ref = "sha256:base"
	}
	cfg, ok := f.images[ref]
	if !ok {
		return image.InspectResult{}, errdefs.NotFound(fmt.Errorf("no such image: %s", ref))
	}
	return image.InspectResult{ID: ref, Config: &cfg}, nil
}

func (f *fakeEngine) add(parent string, cfg image.ContainerConfig, extra string) string {
	b, _ := json.Marshal(cfg)
	id := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(parent+string(b)+extra)))
	f.images[id] = cfg
	return id
}

func (f *fakeEngine) Commit(_ context.Context, c Commit) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var layer []byte
	if c.Layer != nil {
		layer, _ = io.ReadAll(c.Layer)
		f.layers = append(f.layers, string(layer))
	}
	return f.add(c.Parent, c.Config, string(layer)), nil
}

func (f *fakeEngine) Tag(_ context.Context, id, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tags[ref] = id
	return nil
}

func (f *fakeEngine) Mount(context.Context, string) (string, func(), error) {
	return f.mounts, func() {}, nil
}

func (f *fakeEngine) Run(ctx context.Context, r Run) (string, error) {
	if strings.Contains(strings.Join(r.Cmd, " "), "meet") { // wait for the other stage's
		f.meet.Done()
		if err := waitGroup(ctx, &f.meet); err != nil {
			return "", err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs, f.envs, f.nets = append(f.runs, r.Cmd), append(f.envs, r.Env), append(f.nets, r.Network)
	if strings.Contains(strings.Join(r.Cmd, " "), "exit 3") {
		return "", &ExitError{Cmd: r.Cmd, Code: 3}
	}
	return f.add(r.Image, r.Config, strings.Join(r.Cmd, " ")), nil
}

func (f *fakeEngine) CacheGet(_ context.Context, key string) (string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.cache[key]
	return id, ok, nil
}

func (f *fakeEngine) CachePut(_ context.Context, key, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cache[key] = id
	return nil
}

// waitGroup waits for wg, failing after 5 s or when ctx ends.
func waitGroup(ctx context.Context, wg *sync.WaitGroup) error {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Second):
		return errors.New("the other stage never ran at the same time")
	}
}

// contextTar is a build context tar of files.
func contextTar(files map[string]string) io.Reader {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for name, data := range files {
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte(data))
	}
	_ = tw.Close()
	return &b
}

// buildWith runs a build on f and answers its stream.
func buildWith(t *testing.T, f *fakeEngine, files map[string]string, opts api.BuildOptions) string {
	t.Helper()
	b := New(Options{Images: f, Mounts: f, Runner: f, Cache: f, TempDir: t.TempDir()})
	rc, err := b.Build(context.Background(), contextTar(files), opts)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(rc)
	return string(out)
}

func strp(s string) *string { return &s }

func TestBuildSemantics(t *testing.T) {
	f := newFake(t)
	df := "FROM busybox\nARG A\nARG B=b\nENV E=${A}-${B}\nSHELL [\"/bin/bash\", \"-c\"]\nRUN echo $E\n" +
		"RUN <<-EOF\n\techo heredoc\nEOF\nENTRYPOINT [\"/e\"]\nUSER u\n"
	out := buildWith(t, f, map[string]string{"Dockerfile": df},
		api.BuildOptions{Tags: []string{"x:1"}, BuildArgs: map[string]*string{"A": strp("a"), "HTTP_PROXY": strp("p"), "UNUSED": strp("u")}})
	if strings.Contains(out, "errorDetail") {
		t.Fatal(out)
	}
	want := [][]string{{"/bin/bash", "-c", "echo $E"}, {"/bin/bash", "-c", "echo heredoc\n"}}
	if fmt.Sprint(f.runs) != fmt.Sprint(want) {
		t.Errorf("RUN commands %q, want %q", f.runs, want)
	}
	if env := strings.Join(f.envs[0], " "); env != "PATH=/bin E=a-b A=a B=b HTTP_PROXY=p" {
		t.Errorf("RUN env: %s", env)
	}
	cfg := f.images[f.tags["x:1"]]
	if cfg.User != "u" || fmt.Sprint(cfg.Entrypoint) != "[/e]" || cfg.Cmd != nil || strings.Join(cfg.Env, " ") != "PATH=/bin E=a-b" {
		t.Errorf("config %+v", cfg)
	}
	if !strings.Contains(out, "build-args [UNUSED] were not consumed") {
		t.Errorf("no warning of the unused build arg:\n%s", out)
	}
	// Nothing changed: every step from the cache, no RUN.
	f.runs = nil
	again := buildWith(t, f, map[string]string{"Dockerfile": df},
		api.BuildOptions{BuildArgs: map[string]*string{"A": strp("a")}})
	if len(f.runs) != 0 || strings.Count(again, "Using cache") != 8 {
		t.Errorf("rebuild ran %q:\n%s", f.runs, again)
	}
	// Another build arg value misses the cache from the first use on.
	buildWith(t, f, map[string]string{"Dockerfile": df}, api.BuildOptions{BuildArgs: map[string]*string{"A": strp("z")}})
	if len(f.runs) != 2 {
		t.Errorf("a changed build arg reran %d steps", len(f.runs))
	}
}

func TestBuildFailureTagsNothing(t *testing.T) {
	f := newFake(t)
	out := buildWith(t, f, map[string]string{"Dockerfile": "FROM busybox\nRUN echo hi; exit 3\n"},
		api.BuildOptions{Tags: []string{"x:1"}})
	if !strings.Contains(out, `"code":3`) || !strings.Contains(out, "returned a non-zero code: 3") || len(f.tags) != 0 {
		t.Errorf("failing RUN: tags %v, stream:\n%s", f.tags, out)
	}
	for _, bad := range []api.BuildOptions{{Tags: []string{"UPPER:x"}}, {Platform: "linux/s390x"}, {Dockerfile: "../Dockerfile"}, {Dockerfile: "none"}} {
		out := buildWith(t, f, map[string]string{"Dockerfile": "FROM busybox\n"}, bad)
		if !strings.Contains(out, "errorDetail") || len(f.tags) != 0 {
			t.Errorf("%+v was accepted:\n%s", bad, out)
		}
	}
}

func TestUnsupportedFlagsAreRefused(t *testing.T) {
	for _, df := range []string{"FROM busybox\nRUN --security=insecure true\n", "FROM busybox\nCOPY --exclude=*.md . /x\n",
		"FROM busybox\nCOPY --parents a/b /x\n", "FROM busybox\nADD --checksum=sha256:0 f /x\n"} {
		f := newFake(t)
		out := buildWith(t, f, map[string]string{"Dockerfile": df, "f": "", "a/b": ""}, api.BuildOptions{})
		if !strings.Contains(out, "is not supported yet") && !strings.Contains(out, "are not supported yet") {
			t.Errorf("%q was not refused:\n%s", df, out)
		}
		if len(f.runs) != 0 {
			t.Errorf("%q ran", df)
		}
	}
	f := newFake(t)
	out := buildWith(t, f, map[string]string{"Dockerfile": "FROM busybox\nRUN --network=host true\n"}, api.BuildOptions{})
	if strings.Contains(out, "errorDetail") || fmt.Sprint(f.nets) != "[host]" {
		t.Errorf("RUN --network=host: %v %s", f.nets, out)
	}
	buildWith(t, f, map[string]string{"Dockerfile": "FROM busybox\nRUN true\n"}, api.BuildOptions{})
	if fmt.Sprint(f.nets) != "[host none]" {
		t.Errorf("RUN's network by default: %v", f.nets)
	}
}

func TestCopyHeredocAndFiles(t *testing.T) {
	f := newFake(t)
	df := "FROM busybox\nCOPY --chmod=0600 <<EOF /etc/motd\ninline-content\nEOF\nCOPY a.txt b.txt /dst/\n"
	out := buildWith(t, f, map[string]string{"Dockerfile": df, "a.txt": "AAA", "b.txt": "BBB"}, api.BuildOptions{})
	if strings.Contains(out, "errorDetail") || len(f.layers) != 2 {
		t.Fatalf("%d layers:\n%s", len(f.layers), out)
	}
	entries := func(layer string) map[string]string {
		m := map[string]string{}
		tr := tar.NewReader(strings.NewReader(layer))
		for {
			h, err := tr.Next()
			if err != nil {
				return m
			}
			b, _ := io.ReadAll(tr)
			m[h.Name] = fmt.Sprintf("%o %d:%d %s", h.Mode, h.Uid, h.Gid, b)
		}
	}
	if got := fmt.Sprint(entries(f.layers[0])); got != "map[etc/motd:600 0:0 inline-content\n]" {
		t.Errorf("heredoc layer: %s", got)
	}
	if got := fmt.Sprint(entries(f.layers[1])); got != "map[dst/a.txt:644 0:0 AAA dst/b.txt:644 0:0 BBB]" {
		t.Errorf("copy layer: %s", got)
	}
}

// RUN <<EOF with a shebang runs the script as a file; its content is in
// the cache key.
func TestRunHeredocShebang(t *testing.T) {
	f := newFake(t)
	df := "FROM busybox\nRUN <<EOF\n#!/bin/awk -f\nBEGIN { print 1 }\nEOF\n"
	buildWith(t, f, map[string]string{"Dockerfile": df}, api.BuildOptions{})
	buildWith(t, f, map[string]string{"Dockerfile": strings.Replace(df, "1", "2", 1)}, api.BuildOptions{})
	if want := "[[/dev/pipes/EOF] [/dev/pipes/EOF]]"; fmt.Sprint(f.runs) != want {
		t.Errorf("RUN commands %q, want %s", f.runs, want)
	}
}

// --pull with no Puller says so, naming the image, and runs nothing.
func TestPullWithoutPuller(t *testing.T) {
	f := newFake(t)
	out := buildWith(t, f, map[string]string{"Dockerfile": "FROM busybox\nRUN true\n"}, api.BuildOptions{Pull: true, Tags: []string{"x:1"}})
	if !strings.Contains(out, "cannot pull images (base image busybox)") || len(f.runs) != 0 || len(f.tags) != 0 {
		t.Errorf("runs %v tags %v:\n%s", f.runs, f.tags, out)
	}
}
