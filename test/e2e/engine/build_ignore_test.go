package engine_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestBuildDaemonAppliesDockerignore: a context sent through the API
// unfiltered (.dockerignore in the middle of the tar) is filtered by the
// daemon: a bind mount of the whole context and COPY . see no ignored
// file.
func TestBuildDaemonAppliesDockerignore(t *testing.T) {
	e := newEngine(t)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range [][2]string{{"a.log", "x"}, {".dockerignore", "*.log\nprivate\n"},
		{"Dockerfile", "FROM busybox\nRUN --mount=type=bind,target=/ctx ls -A /ctx > /listed\nCOPY . /copied/\n"},
		{"z.log", "x"}, {"private", "p"}, {"keep", "k"}} {
		tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1])), Typeflag: tar.TypeReg})
		tw.Write([]byte(f[1]))
	}
	tw.Close()
	body := e.postBuild(t, "ignored:1", &b)
	if !strings.Contains(body, "Successfully tagged") {
		t.Fatalf("build: %s", body)
	}
	out := e.ok(t, "run", "--rm", "ignored:1", "sh", "-c", "cat /listed; echo --; ls -A /copied")
	if want := ".dockerignore\nDockerfile\nkeep\n--\n.dockerignore\nDockerfile\nkeep\n"; out != want {
		t.Errorf("context seen by the build:\n%q\nwant\n%q", out, want)
	}
}

// postBuild sends the context tar ctxTar to POST /build as is, tagged tag,
// and answers the response's JSON stream.
func (e *engine) postBuild(t *testing.T, tag string, ctxTar io.Reader) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://corral/v1.47/build?version=1&t="+url.QueryEscape(tag), ctxTar)
	req.Header.Set("Content-Type", "application/x-tar")
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}
